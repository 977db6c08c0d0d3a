// Per-thread work of the CUDA per-channel gradient sums (channel_tiling.h), as host+device
// functions: the kernels in pointwise.cu call them with one block per tile (then one block
// per channel to combine a channel's slots), and
// tests/cpp/test_cuda_thread_work.cpp runs them for every thread on the host. Only the warp
// shuffle that adds the lanes' partial sums is device-only. Plain C++ (no CUDA syntax).
#pragma once

#include "channel_tiling.h"

#include <ATen/OpMathType.h>
#include <c10/macros/Macros.h>

#include <cstdint>

namespace fusedact::cuda {

// grad and self: [rows, cols] contiguous; param: [channels].
template <class scalar_t>
struct ChannelGradArgs {
  const scalar_t* grad;
  const scalar_t* self;
  const scalar_t* param;
};

// Thread `thread` of a tile's block: for each column j = thread, thread + nthreads, ... of
// tile t, column_sums[j] = the sum of fn over the tile's rows (neighbouring threads read
// neighbouring columns, so the loads coalesce).
template <class scalar_t, class acc_t, class Fn>
C10_HOST_DEVICE void tile_column_sums(const ChannelTiling& tiling, int64_t t, int64_t thread, int64_t nthreads,
                                      const ChannelGradArgs<scalar_t>& args, const Fn& fn, acc_t* column_sums) {
  using opmath_t = at::opmath_type<scalar_t>;
  const int64_t row0 = tiling.row_begin(t), nrows = tiling.row_count(t);
  const int64_t col0 = tiling.col_begin(t), ncols = tiling.col_count(t);
  for (int64_t j = thread; j < ncols; j += nthreads) {
    const int64_t col = col0 + j;
    const auto p = static_cast<opmath_t>(args.param[col / tiling.inner]);
    acc_t sum = 0;
    for (int64_t r = row0; r < row0 + nrows; ++r) {
      const int64_t i = r * tiling.cols + col;
      sum += fn(static_cast<opmath_t>(args.grad[i]), static_cast<opmath_t>(args.self[i]), p);
    }
    column_sums[j] = sum;
  }
}

// Lane `lane` of the warp that sums slot k of tile t: its share of the slot's columns.
template <class acc_t>
C10_HOST_DEVICE acc_t slot_lane_sum(const ChannelTiling& tiling, int64_t t, int64_t k, int lane, int nlanes,
                                    const acc_t* column_sums) {
  acc_t sum = 0;
  for (int64_t j = tiling.slot_col_begin(t, k) + lane; j < tiling.slot_col_end(t, k); j += nlanes) {
    sum += column_sums[j];
  }
  return sum;
}

// Thread `thread` of the block that combines channel c: its share of c's slots, slot s of
// `combine`'s order (row tile, then column tile) for s = thread, thread + nthreads, ...; the
// block then adds the shares in a fixed tree. Bitwise deterministic for a given nthreads.
template <class acc_t>
C10_HOST_DEVICE acc_t combine_share(const ChannelTiling& tiling, const acc_t* slots, int64_t c, int64_t thread,
                                    int64_t nthreads) {
  const int64_t first_col_tile = c * tiling.inner / tiling.tile_cols;
  const int64_t col_tile_count = ((c + 1) * tiling.inner - 1) / tiling.tile_cols - first_col_tile + 1;
  const int64_t count = tiling.row_tiles * col_tile_count;
  acc_t sum = 0;
  for (int64_t s = thread; s < count; s += nthreads) {
    const int64_t t = (s / col_tile_count) * tiling.col_tiles + first_col_tile + s % col_tile_count;
    sum += slots[t * tiling.slots_per_tile + (c - tiling.first_channel(t))];
  }
  return sum;
}

}  // namespace fusedact::cuda
