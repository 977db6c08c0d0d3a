// The per-channel gradient sums of the channel-parameter ops (prelu's weight, swish's beta)
// on the CPU, compiled once per instruction set (CPU_CAPABILITY names it).
//
// Tiles (channel_tiling.h) run in parallel, each on one thread in a fixed order: a tile
// accumulates its columns over its rows in SIMD lanes (one lane per column, so the vector
// width does not change the sums), then each channel's columns in double. The slots are
// combined serially in tile order. Same result for any number of threads.
#include "cpu/kernels.h"
#include "cpu/vec.h"
#include "families.h"

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <vector>

namespace fusedact::cpu {
namespace CPU_CAPABILITY {
namespace {

template <class scalar_t, class Fn>
struct TileSums {
  using L = Lanes<scalar_t>;
  using opmath_t = at::opmath_type<scalar_t>;
  using Acc = at::vec::Vectorized<opmath_t>;
  static constexpr int64_t kPartWidth = Acc::size();

  const ChannelTiling& tiling;
  const scalar_t* grad;
  const scalar_t* self;
  const scalar_t* param;
  const Fn& fn;
  std::vector<opmath_t> column_sums = std::vector<opmath_t>(tiling.tile_cols);
  std::vector<scalar_t> column_param = std::vector<scalar_t>(tiling.tile_cols);

  // Writes tile t's slots (slots_per_tile doubles at `slots`).
  void operator()(int64_t t, double* slots) {
    const int64_t row0 = tiling.row_begin(t), col0 = tiling.col_begin(t), ncols = tiling.col_count(t);
    for (int64_t j = 0; j < ncols; ++j) {
      column_param[j] = param[(col0 + j) / tiling.inner];
      column_sums[j] = 0;
    }
    for (int64_t r = row0; r < row0 + tiling.row_count(t); ++r) {
      const scalar_t* g = grad + r * tiling.cols + col0;
      const scalar_t* x = self + r * tiling.cols + col0;
      for (int64_t j = 0; j < ncols; j += L::kWidth) {
        const int64_t count = std::min<int64_t>(L::kWidth, ncols - j);
        const auto gv = L::load(g + j, count), xv = L::load(x + j, count), pv = L::load(column_param.data() + j, count);
        for (int part = 0; part < L::kParts; ++part) {
          const int64_t offset = j + part * kPartWidth;
          const int64_t lanes = std::min<int64_t>(kPartWidth, count - part * kPartWidth);
          if (lanes <= 0) break;
          const Acc sum = Acc::loadu(column_sums.data() + offset, lanes) + fn(gv[part], xv[part], pv[part]).v;
          sum.store(column_sums.data() + offset, lanes);
        }
      }
    }
    for (int64_t k = 0; k < tiling.channel_count(t); ++k) {
      double sum = 0;
      for (int64_t j = tiling.slot_col_begin(t, k); j < tiling.slot_col_end(t, k); ++j) sum += column_sums[j];
      slots[k] = sum;
    }
  }
};

template <class Fn>
void channel_grad(const ChannelTiling& tiling, const at::Tensor& grad, const at::Tensor& self, const at::Tensor& param,
                  at::Tensor& out, const Fn& fn) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "fusedact_cpu_channel_grad", [&] {
    std::vector<double> slots(tiling.num_slots());
    at::parallel_for(0, tiling.num_tiles(), 1, [&](int64_t begin, int64_t end) {
      TileSums<scalar_t, Fn> tile{tiling, grad.const_data_ptr<scalar_t>(), self.const_data_ptr<scalar_t>(),
                                  param.const_data_ptr<scalar_t>(), fn};
      for (int64_t t = begin; t < end; ++t) tile(t, slots.data() + t * tiling.slots_per_tile);
    });
    scalar_t* result = out.data_ptr<scalar_t>();
    for (int64_t c = 0; c < tiling.channels; ++c) result[c] = static_cast<scalar_t>(tiling.combine(slots.data(), c));
  });
}

template <class... Fns>
bool register_kernels(TypeList<Fns...>) {
  ((ChannelGradKernels<Fns>::by_isa[static_cast<int>(Isa::CPU_CAPABILITY)] = &channel_grad<Fns>), ...);
  return true;
}
const bool registered = register_kernels(ChannelGradFunctors{});

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace fusedact::cpu
