// How the gradient of a channel parameter (prelu's weight, swish's beta) is summed, on CPU
// and CUDA alike: the same tiles, and per backend the same order whatever the number of
// threads, so the result is bitwise deterministic (the CPU adds a channel's slots in tile
// order, `combine`; CUDA in a fixed tree, cuda/channel_reduce.cuh).
//
// The input (and grad_output) is viewed as a contiguous [rows, cols] matrix whose column j
// belongs to channel j / inner: [N, C * S] for a per-channel parameter, [1, numel] for a
// single one. The matrix is cut into tiles of at most kMaxTileRows x kTileCols elements. A
// tile sums each of its columns over its rows, then the columns of each channel it touches
// into one slot per channel; a channel's gradient is the sum of its slots in tile order
// (`combine`). Plain C++ with host+device members, shared by csrc/cpu and cuda/.
#pragma once

#include <c10/macros/Macros.h>

#include <algorithm>
#include <cstdint>

namespace fusedact {

struct ChannelTiling {
  static C10_HOST_DEVICE int64_t smaller(int64_t a, int64_t b) { return a < b ? a : b; }
  static C10_HOST_DEVICE int64_t larger(int64_t a, int64_t b) { return a < b ? b : a; }

  // The column sums of one tile fit in L1 / shared memory (4096 x 8 bytes).
  static constexpr int64_t kTileCols = 4096;
  // About 32K elements a tile: big enough to amortize a tile's per-channel sums, and a column
  // sum adds at most 64 terms in opmath precision before it is widened.
  static constexpr int64_t kTileElements = 32768;
  static constexpr int64_t kMaxTileRows = 64;

  int64_t rows = 0, channels = 0, inner = 0, cols = 0;
  int64_t tile_rows = 1, tile_cols = 1, row_tiles = 0, col_tiles = 0;
  int64_t slots_per_tile = 0;  // the most channels one tile's columns can touch

  // rows x (channels * inner) elements, every extent > 0.
  static ChannelTiling make(int64_t rows, int64_t channels, int64_t inner) {
    ChannelTiling t;
    t.rows = rows;
    t.channels = channels;
    t.inner = inner;
    t.cols = channels * inner;
    t.tile_cols = std::min<int64_t>(t.cols, kTileCols);
    t.tile_rows = std::clamp<int64_t>(kTileElements / t.tile_cols, 1, std::min<int64_t>(rows, kMaxTileRows));
    t.row_tiles = (rows + t.tile_rows - 1) / t.tile_rows;
    t.col_tiles = (t.cols + t.tile_cols - 1) / t.tile_cols;
    t.slots_per_tile = std::min(channels, (t.tile_cols - 1) / inner + 2);
    return t;
  }

  C10_HOST_DEVICE int64_t num_tiles() const { return row_tiles * col_tiles; }
  C10_HOST_DEVICE int64_t num_slots() const { return num_tiles() * slots_per_tile; }

  // Tile t covers rows [row_begin, row_begin + row_count) and columns [col_begin, col_begin + col_count).
  C10_HOST_DEVICE int64_t row_begin(int64_t t) const { return (t / col_tiles) * tile_rows; }
  C10_HOST_DEVICE int64_t row_count(int64_t t) const { return smaller(tile_rows, rows - row_begin(t)); }
  C10_HOST_DEVICE int64_t col_begin(int64_t t) const { return (t % col_tiles) * tile_cols; }
  C10_HOST_DEVICE int64_t col_count(int64_t t) const { return smaller(tile_cols, cols - col_begin(t)); }

  // The channels tile t touches: first_channel(t) + k for k < channel_count(t); slot k of
  // the tile holds channel first_channel(t) + k, summed over the tile's columns
  // [slot_col_begin(t, k), slot_col_end(t, k)) (relative to col_begin(t)).
  C10_HOST_DEVICE int64_t first_channel(int64_t t) const { return col_begin(t) / inner; }
  C10_HOST_DEVICE int64_t channel_count(int64_t t) const {
    return (col_begin(t) + col_count(t) - 1) / inner - first_channel(t) + 1;
  }
  C10_HOST_DEVICE int64_t slot_col_begin(int64_t t, int64_t k) const {
    return larger(col_begin(t), (first_channel(t) + k) * inner) - col_begin(t);
  }
  C10_HOST_DEVICE int64_t slot_col_end(int64_t t, int64_t k) const {
    return smaller(col_begin(t) + col_count(t), (first_channel(t) + k + 1) * inner) - col_begin(t);
  }

  // Channel c's gradient: its slots summed in tile order (row tile, then column tile).
  template <class Acc>
  C10_HOST_DEVICE Acc combine(const Acc* slots, int64_t c) const {
    const int64_t first_col_tile = c * inner / tile_cols;
    const int64_t last_col_tile = ((c + 1) * inner - 1) / tile_cols;
    Acc sum = 0;
    for (int64_t row_tile = 0; row_tile < row_tiles; ++row_tile) {
      for (int64_t col_tile = first_col_tile; col_tile <= last_col_tile; ++col_tile) {
        const int64_t t = row_tile * col_tiles + col_tile;
        sum += slots[t * slots_per_tile + (c - first_channel(t))];
      }
    }
    return sum;
  }
};

}  // namespace fusedact
