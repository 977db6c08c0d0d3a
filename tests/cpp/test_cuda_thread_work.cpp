// The CUDA kernels' per-thread work (cuda/pointwise.cuh), run on the host for every thread
// of small grids: every element written exactly once and right, nothing past the end,
// over sizes and thread counts that hit every tail, with the math the GPU runs (float).
#include "channel_reduce.cuh"
#include "pointwise.cuh"
#include "pointwise.h"
#include "random_slope.h"
#include "random_slope_work.h"
#include "softmax.cuh"

#include <ATen/core/PhiloxRNGEngine.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using fusedact::cuda::ContiguousArgs;
using fusedact::cuda::StridedArgs;

// x -> x + 1 in place: an element processed twice would come out +2, one skipped +0.
struct Increment {
  static constexpr int kInputs = 1;
  template <class V>
  V operator()(V x) const {
    return x + V(1);
  }
};

constexpr float kPoison = -12345.f;

// A 16-byte aligned float buffer of n elements and `pad` poisoned elements after them.
struct Buffer {
  Buffer(int64_t n, int64_t pad = 8) : storage(n + pad + 4, kPoison) {
    auto address = reinterpret_cast<uintptr_t>(storage.data());
    data = storage.data() + ((16 - address % 16) % 16) / sizeof(float);
    for (int64_t i = 0; i < n; ++i) data[i] = static_cast<float>(i % 97);
  }
  std::vector<float> storage;
  float* data;
};

template <int kVec>
void check_contiguous_exactly_once(int64_t n, int64_t nthreads) {
  Buffer buffer(n);
  ContiguousArgs<float, 1> args{buffer.data, {buffer.data}};
  for (int64_t t = 0; t < nthreads; ++t) {
    fusedact::cuda::contiguous_thread<kVec>(t, nthreads, args, n, Increment{});
  }
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(buffer.data[i], static_cast<float>(i % 97) + 1)
        << "element " << i << " of " << n << ", kVec " << kVec << ", " << nthreads << " threads";
  }
  for (int64_t i = n; i < n + 8; ++i) ASSERT_EQ(buffer.data[i], kPoison) << "wrote past the end at " << i;
}

TEST(CudaThreadWork, ContiguousWritesEveryElementOnce) {
  for (int64_t n : {0, 1, 3, 4, 5, 15, 16, 17, 63, 64, 65, 255, 256, 257, 1000, 4099}) {
    for (int64_t nthreads : {1, 2, 3, 32, 33, 256}) {
      check_contiguous_exactly_once<4>(n, nthreads);
      check_contiguous_exactly_once<1>(n, nthreads);
    }
  }
}

TEST(CudaThreadWork, StridedWritesEveryElementOnce) {
  // A 2-D view with strides (1, rows) over a rows x cols buffer: the transposed layout.
  struct Transposed {
    int64_t rows, cols;
    std::array<uint32_t, 2> get(uint32_t i) const {
      const uint32_t r = i / cols, c = i % cols;
      const uint32_t offset = (c * rows + r) * sizeof(float);
      return {offset, offset};
    }
  };
  for (int64_t rows : {1, 3, 8, 13}) {
    for (int64_t cols : {1, 5, 16, 31}) {
      for (int64_t nthreads : {1, 4, 7, 64}) {
        const int64_t n = rows * cols;
        Buffer buffer(n);
        StridedArgs<2> args{{reinterpret_cast<char*>(buffer.data), reinterpret_cast<char*>(buffer.data)}};
        for (int64_t t = 0; t < nthreads; ++t) {
          fusedact::cuda::strided_thread<float, 1, 1>(t, nthreads, args, Transposed{rows, cols}, n, Increment{});
        }
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(buffer.data[i], static_cast<float>(i % 97) + 1) << i;
        ASSERT_EQ(buffer.data[n], kPoison);
      }
    }
  }
}

// Byte offsets of row r of each operand: start + r * row stride.
template <int kArgs>
struct RowOffsets {
  std::array<int64_t, kArgs> start, stride;
  std::array<uint32_t, kArgs> get(uint32_t r) const {
    std::array<uint32_t, kArgs> offsets{};
    for (int k = 0; k < kArgs; ++k) offsets[k] = static_cast<uint32_t>(start[k] + r * stride[k]);
    return offsets;
  }
};

// Every thread of an (ncol x nrow) grid, as the rows kernel's 2-D blocks cover it.
template <int kVec, class scalar_t, int kInputs, int kOutputs, class Offsets, class Fn>
void run_rows(const fusedact::cuda::RowArgs<scalar_t, kInputs, kOutputs>& args, const Offsets& offsets, int64_t rows,
              int64_t row_len, int64_t ncol, int64_t nrow, const Fn& fn) {
  for (int64_t y = 0; y < nrow; ++y) {
    for (int64_t x = 0; x < ncol; ++x) {
      fusedact::cuda::rows_thread<kVec>(x, ncol, y, nrow, args, offsets, rows, row_len, fn);
    }
  }
}

// x -> x + p, p one value per row: in place, an element processed twice comes out x + 2p.
struct AddRowValue {
  static constexpr int kInputs = 2;
  template <class V>
  V operator()(V x, V p) const {
    return x + p;
  }
};

// Rows of row_len elements, row_stride apart (the gap poisoned), each plus its row's value
// (a broadcast input) in place: every element exactly once, gaps and the end untouched.
template <int kVec>
void check_rows_exactly_once(int64_t rows, int64_t row_len, int64_t row_stride, int64_t ncol, int64_t nrow) {
  Buffer buffer(rows * row_stride);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = row_len; c < row_stride; ++c) buffer.data[r * row_stride + c] = kPoison;
  }
  Buffer values(rows);
  for (int64_t r = 0; r < rows; ++r) values.data[r] = static_cast<float>(1000 * (r + 1));
  char* x = reinterpret_cast<char*>(buffer.data);
  const fusedact::cuda::RowArgs<float, 2, 1> args{{x, x, reinterpret_cast<char*>(values.data)}, {false, true}};
  const int64_t stride = row_stride * sizeof(float);
  const RowOffsets<3> offsets{{0, 0, 0}, {stride, stride, sizeof(float)}};
  run_rows<kVec>(args, offsets, rows, row_len, ncol, nrow, AddRowValue{});
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < row_stride; ++c) {
      const int64_t i = r * row_stride + c;
      const float expected = c < row_len ? static_cast<float>(i % 97) + 1000 * (r + 1) : kPoison;
      ASSERT_EQ(buffer.data[i], expected)
          << "row " << r << " col " << c << " of " << rows << " x " << row_len << " (stride " << row_stride
          << "), kVec " << kVec << ", threads " << ncol << " x " << nrow;
    }
  }
  for (int64_t i = rows * row_stride; i < rows * row_stride + 8; ++i) ASSERT_EQ(buffer.data[i], kPoison);
}

TEST(CudaThreadWork, RowsWriteEveryElementOnce) {
  for (int64_t rows : {1, 2, 7, 33}) {
    for (int64_t row_len : {1, 3, 4, 5, 16, 17, 63, 64, 65, 257}) {
      const int64_t row_stride = (row_len + 3) / 4 * 4 + 4;  // 16-byte aligned rows with a gap
      for (auto [ncol, nrow] : {std::pair{1, 1}, {3, 5}, {32, 1}, {32, 8}, {64, 4}, {256, 1}}) {
        check_rows_exactly_once<4>(rows, row_len, row_stride, ncol, nrow);
        check_rows_exactly_once<1>(rows, row_len, row_len + 1, ncol, nrow);
      }
    }
  }
}

// The split GLU form: gate and up the two halves of each row of a [rows, 2 * half] tensor,
// the output [rows, half]; the swiglu functor the GPU runs, against torch's.
TEST(CudaThreadWork, RowsSplitGluMatchesTorch) {
  for (int64_t half : {4, 7, 64, 100}) {
    const auto x = torch::randn({9, 2 * half}) * 3;
    auto out = torch::full({9, half}, kPoison);
    char* data = reinterpret_cast<char*>(x.data_ptr<float>());
    const fusedact::cuda::RowArgs<float, 2, 1> args{{reinterpret_cast<char*>(out.data_ptr<float>()), data, data},
                                                    {false, false}};
    const int64_t bytes = sizeof(float);
    const RowOffsets<3> offsets{{0, 0, half * bytes}, {half * bytes, 2 * half * bytes, 2 * half * bytes}};
    using Swiglu = fusedact::math::Gated<fusedact::math::Silu>;
    const bool vectorized = half % 4 == 0;
    if (vectorized) {
      run_rows<4>(args, offsets, 9, half, 32, 2, fusedact::BinaryForwardFn<Swiglu>{});
    } else {
      run_rows<1>(args, offsets, 9, half, 32, 2, fusedact::BinaryForwardFn<Swiglu>{});
    }
    auto leaf = x.clone().requires_grad_();
    const auto chunks = leaf.chunk(2, 1);
    const auto expected = torch::silu(chunks[0]) * chunks[1];
    EXPECT_TRUE(torch::allclose(out, expected, 1.3e-6, 1e-5))
        << half << ": " << (out - expected).abs().max().item<float>();

    // Backward: grad [rows, half] in; both gradients out, into the halves of one [rows, 2 half].
    const auto grad = torch::randn({9, half});
    auto grad_x = torch::full({9, 2 * half}, kPoison);
    char* gx = reinterpret_cast<char*>(grad_x.data_ptr<float>());
    const fusedact::cuda::RowArgs<float, 3, 2> backward_args{
        {gx, gx, reinterpret_cast<char*>(grad.data_ptr<float>()), data, data}, {false, false, false}};
    const RowOffsets<5> backward_offsets{
        {0, half * bytes, 0, 0, half * bytes},
        {2 * half * bytes, 2 * half * bytes, half * bytes, 2 * half * bytes, 2 * half * bytes}};
    if (vectorized) {
      run_rows<4>(backward_args, backward_offsets, 9, half, 3, 5, fusedact::GatedBackwardFn<Swiglu>{});
    } else {
      run_rows<1>(backward_args, backward_offsets, 9, half, 3, 5, fusedact::GatedBackwardFn<Swiglu>{});
    }
    expected.backward(grad);
    EXPECT_TRUE(torch::allclose(grad_x, leaf.grad(), 1.3e-6, 1e-5)) << half;
  }
}

// The functors and math the GPU runs, in float and half, against torch's CPU results.
TEST(CudaThreadWork, GpuMathMatchesTorch) {
  const auto x = torch::randn({1000}) * 3;
  for (bool tanh_approximation : {false, true}) {
    auto out = torch::empty_like(x);
    ContiguousArgs<float, 1> args{out.data_ptr<float>(), {x.data_ptr<float>()}};
    const fusedact::ForwardFn<fusedact::math::Gelu> fn{{tanh_approximation}};
    for (int64_t t = 0; t < 7; ++t) fusedact::cuda::contiguous_thread<4>(t, 7, args, x.numel(), fn);
    const auto expected = torch::gelu(x, tanh_approximation ? "tanh" : "none");
    EXPECT_TRUE(torch::allclose(out, expected, 1.3e-6, 1e-5)) << (out - expected).abs().max().item<float>();
  }

  const auto h = x.to(torch::kHalf);
  const auto grad = torch::randn_like(h);
  auto out = torch::empty_like(h);
  ContiguousArgs<at::Half, 2> args{out.data_ptr<at::Half>(), {grad.data_ptr<at::Half>(), h.data_ptr<at::Half>()}};
  const fusedact::BackwardFn<fusedact::math::Gelu> fn{{false}};
  for (int64_t t = 0; t < 5; ++t) fusedact::cuda::contiguous_thread<8>(t, 5, args, h.numel(), fn);
  auto leaf = h.to(torch::kFloat).requires_grad_();
  torch::gelu(leaf).backward(grad.to(torch::kFloat));
  EXPECT_TRUE(torch::allclose(out.to(torch::kFloat), leaf.grad(), 1e-3, 1e-3));
}

// The channel-gradient kernels as the GPU runs them (one block per tile, one warp per
// slot, then one block per channel), every thread emulated on the host.
template <class scalar_t, class Fn>
std::vector<float> channel_grad_on_host(const fusedact::ChannelTiling& tiling,
                                        const fusedact::cuda::ChannelGradArgs<scalar_t>& args, const Fn& fn,
                                        int64_t nthreads) {
  std::vector<float> slots(tiling.num_slots(), kPoison);
  std::vector<float> column_sums(fusedact::ChannelTiling::kTileCols);
  for (int64_t t = 0; t < tiling.num_tiles(); ++t) {
    for (int64_t thread = 0; thread < nthreads; ++thread) {
      fusedact::cuda::tile_column_sums(tiling, t, thread, nthreads, args, fn, column_sums.data());
    }
    for (int64_t k = 0; k < tiling.channel_count(t); ++k) {
      float sum = 0;
      for (int lane = 0; lane < 32; ++lane)
        sum += fusedact::cuda::slot_lane_sum(tiling, t, k, lane, 32, column_sums.data());
      slots[t * tiling.slots_per_tile + k] = sum;
    }
  }
  std::vector<float> out(tiling.channels);
  for (int64_t c = 0; c < tiling.channels; ++c) {
    float sum = 0;
    for (int64_t thread = 0; thread < nthreads; ++thread) {
      sum += fusedact::cuda::combine_share(tiling, slots.data(), c, thread, nthreads);
    }
    out[c] = sum;
  }
  return out;
}

// Counts every element once: with fn = 1, channel c gets rows * inner.
struct One {
  static constexpr int kInputs = 3;
  template <class V>
  V operator()(V, V, V) const {
    return V(1);
  }
};

TEST(CudaThreadWork, ChannelTilesCoverEveryElementOnce) {
  // The last two: a single parameter with 49 slots, and channels with 4 x 2 slots each.
  const std::array<std::array<int64_t, 3>, 11> shapes = {{
      {1, 1, 1},
      {1, 1, 10000},
      {3, 7, 1},
      {70, 5, 3},
      {2, 5000, 3},
      {3, 2, 9000},
      {130, 1, 33},
      {1, 3, 4096},
      {5, 4097, 1},
      {1, 1, 200000},
      {200, 3, 5000},
  }};
  for (const auto& [rows, channels, inner] : shapes) {
    const auto tiling = fusedact::ChannelTiling::make(rows, channels, inner);
    const auto x = torch::zeros({rows * channels * inner});
    const auto p = torch::zeros({channels});
    const fusedact::cuda::ChannelGradArgs<float> args{x.data_ptr<float>(), x.data_ptr<float>(), p.data_ptr<float>()};
    for (int64_t nthreads : {1, 7, 256}) {
      const auto out = channel_grad_on_host(tiling, args, One{}, nthreads);
      for (int64_t c = 0; c < channels; ++c) {
        ASSERT_EQ(out[c], static_cast<float>(rows * inner)) << "channel " << c << " of [" << rows << ", " << channels
                                                            << ", " << inner << "], " << nthreads << " threads";
      }
    }
  }
}

TEST(CudaThreadWork, ChannelGradMatchesTorch) {
  // prelu's weight gradient, [N, C, S] = [6, 5, 2000]: several tiles per channel.
  const auto x = torch::randn({6, 5, 2000}) * 3;
  const auto grad = torch::randn_like(x);
  const auto weight = torch::linspace(-0.5, 1.5, 5);
  const auto tiling = fusedact::ChannelTiling::make(6, 5, 2000);
  const fusedact::cuda::ChannelGradArgs<float> args{grad.data_ptr<float>(), x.data_ptr<float>(),
                                                    weight.data_ptr<float>()};
  const auto out = channel_grad_on_host(tiling, args, fusedact::ParamGradFn<fusedact::math::Prelu>{}, 256);
  const auto expected = torch::where(x > 0, torch::zeros_like(x), x * grad).sum({0, 2});
  for (int64_t c = 0; c < 5; ++c) EXPECT_NEAR(out[c], expected[c].item<float>(), 1e-3) << c;
}

// The softmax kernels as the GPU runs them: each row's lanes reduced, merged (in the
// warp's butterfly order for 32 lanes), then written; every lane count the kernels use.
template <class Rows>
void run_rows_on_host(const Rows& rows, int64_t nlanes) {
  for (int64_t r = 0; r < rows.layout.rows(); ++r) {
    std::vector<typename Rows::Acc> parts;
    for (int64_t lane = 0; lane < nlanes; ++lane)
      parts.push_back(fusedact::cuda::row_reduce_thread(rows, r, lane, nlanes));
    for (int64_t mask = nlanes / 2; mask > 0; mask /= 2) {
      auto merged = parts;
      for (int64_t lane = 0; lane < nlanes; ++lane) merged[lane] = Rows::combine(parts[lane], parts[lane ^ mask]);
      parts = merged;
    }
    for (int64_t lane = 0; lane < nlanes; ++lane) fusedact::cuda::row_write_thread(rows, r, lane, nlanes, parts[lane]);
  }
}

TEST(CudaThreadWork, SoftmaxRowsMatchTorch) {
  using Forward = fusedact::cuda::SoftmaxForwardRows<float, fusedact::math::Softmax<false>>;
  using LogBackward = fusedact::cuda::SoftmaxBackwardRows<float, fusedact::math::Softmax<true>>;
  using SoftminForward = fusedact::cuda::SoftmaxForwardRows<float, fusedact::math::Softmin>;
  using SoftminBackward = fusedact::cuda::SoftmaxBackwardRows<float, fusedact::math::Softmin>;
  // [outer, size, inner]: rows along the last dim (a warp's lanes, a block's) and along a middle dim.
  for (const auto& [outer, size, inner, nlanes] : std::vector<std::array<int64_t, 4>>{
           {3, 37, 1, 32}, {2, 1500, 1, 256}, {4, 5, 6, 1}, {1, 1, 1, 32}, {2, 3000, 5, 8}, {1, 4099, 8, 32}}) {
    const auto x = torch::randn({outer, size, inner}) * 3;
    auto y = torch::full_like(x, kPoison);
    const fusedact::RowLayout layout{outer, size, inner};
    run_rows_on_host(Forward{x.data_ptr<float>(), y.data_ptr<float>(), layout}, nlanes);
    EXPECT_TRUE(torch::allclose(y, torch::softmax(x, 1), 1e-5, 1e-6)) << outer << " " << size << " " << inner;
    auto min_y = torch::full_like(x, kPoison);
    run_rows_on_host(SoftminForward{x.data_ptr<float>(), min_y.data_ptr<float>(), layout}, nlanes);
    EXPECT_TRUE(torch::allclose(min_y, torch::softmax(-x, 1), 1e-5, 1e-6)) << outer << " " << size << " " << inner;

    const auto log_y = torch::log_softmax(x, 1);
    const auto grad = torch::randn_like(x);
    auto grad_input = torch::full_like(x, kPoison);
    run_rows_on_host(LogBackward{grad.data_ptr<float>(), log_y.data_ptr<float>(), grad_input.data_ptr<float>(), layout},
                     nlanes);
    const auto expected = grad - log_y.exp() * grad.sum(1, true);
    EXPECT_TRUE(torch::allclose(grad_input, expected, 1e-4, 1e-5)) << outer << " " << size << " " << inner;

    const auto expected_min = -torch::_softmax_backward_data(grad, min_y, 1, torch::kFloat);
    grad_input.fill_(kPoison);
    run_rows_on_host(
        SoftminBackward{grad.data_ptr<float>(), min_y.data_ptr<float>(), grad_input.data_ptr<float>(), layout}, nlanes);
    EXPECT_TRUE(torch::allclose(grad_input, expected_min, 1e-4, 1e-5)) << outer << " " << size << " " << inner;
  }
}

// Rows held in registers as the GPU runs them: each row's `group` lanes load, merge their
// maxima and sums in the warp's butterfly order, and write. softmax, log_softmax and softmin,
// forward and backward, for every row length the register kernels take.
template <class T, class Merge>
void butterfly(std::vector<T>& values, const Merge& merge) {
  const int group = static_cast<int>(values.size());
  for (int mask = group / 2; mask > 0; mask /= 2) {
    auto merged = values;
    for (int lane = 0; lane < group; ++lane) merged[lane] = merge(values[lane], values[lane ^ mask]);
    values = merged;
  }
}

template <class Math, int kPacks>
void register_rows_on_host(const float* x, float* y, const float* grad, float* grad_x, int64_t rows, int64_t size,
                           int group) {
  using Values = fusedact::cuda::LaneValues<4, kPacks, float>;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<Values> values;
    std::vector<float> maxima, sums;
    for (int lane = 0; lane < group; ++lane) {
      values.push_back(fusedact::cuda::load_forward_lane<Math, 4, kPacks, float>(x + r * size, size, lane, group));
      maxima.push_back(fusedact::cuda::lane_max(values.back()));
    }
    butterfly(maxima, [](float a, float b) { return fusedact::cuda::max_of(a, b); });
    for (int lane = 0; lane < group; ++lane) {
      sums.push_back(fusedact::cuda::lane_exp_sum<Math>(values[lane], maxima[lane]));
    }
    butterfly(sums, [](float a, float b) { return a + b; });
    for (int lane = 0; lane < group; ++lane) {
      fusedact::cuda::store_forward_lane<Math>(y + r * size, size, lane, group, values[lane], maxima[lane],
                                               Math{}.normalizer(sums[lane]));
    }
    std::vector<Values> g, out;
    std::vector<float> totals;
    for (int lane = 0; lane < group; ++lane) {
      g.push_back(fusedact::cuda::load_lane<4, kPacks, float>(grad + r * size, size, lane, group, 0.f));
      out.push_back(fusedact::cuda::load_lane<4, kPacks, float>(y + r * size, size, lane, group, 0.f));
      totals.push_back(fusedact::cuda::lane_backward_sum<Math>(g.back(), out.back()));
    }
    butterfly(totals, [](float a, float b) { return a + b; });
    for (int lane = 0; lane < group; ++lane) {
      fusedact::cuda::store_backward_lane<Math>(grad_x + r * size, size, lane, group, g[lane], out[lane], totals[lane]);
    }
  }
}

// torch's forward of Math on x along dim 1, and its backward from that output.
template <class Math>
std::pair<torch::Tensor, torch::Tensor> torch_softmax(const torch::Tensor& x, const torch::Tensor& grad) {
  if constexpr (std::is_same_v<Math, fusedact::math::Softmin>) {
    const auto y = torch::softmax(-x, 1);
    return {y, -torch::_softmax_backward_data(grad, y, 1, torch::kFloat)};
  } else if constexpr (Math::kIsLog) {
    const auto y = torch::log_softmax(x, 1);
    return {y, torch::_log_softmax_backward_data(grad, y, 1, torch::kFloat)};
  } else {
    const auto y = torch::softmax(x, 1);
    return {y, torch::_softmax_backward_data(grad, y, 1, torch::kFloat)};
  }
}

template <class Math>
void check_register_rows(int64_t rows, int64_t size) {
  const auto shape = fusedact::cuda::RegisterRowShape::of(size, 4, 4);
  ASSERT_GT(shape.packs, 0) << size;
  auto x = torch::randn({rows, size}) * 3;
  if (rows > 2) {
    x[1][size / 2] = -INFINITY;  // a -inf among finite values
    x[2].fill_(-INFINITY);       // a row of -inf: NaN, as torch
  }
  const auto grad = torch::randn({rows, size});
  auto y = torch::full({rows, size}, kPoison), grad_x = torch::full({rows, size}, kPoison);
  auto run = [&](auto packs) {
    register_rows_on_host<Math, decltype(packs)::value>(x.data_ptr<float>(), y.data_ptr<float>(),
                                                        grad.data_ptr<float>(), grad_x.data_ptr<float>(), rows, size,
                                                        shape.group);
  };
  if (shape.packs == 1) {
    run(std::integral_constant<int, 1>{});
  } else if (shape.packs == 2) {
    run(std::integral_constant<int, 2>{});
  } else {
    run(std::integral_constant<int, 4>{});
  }
  const auto [expected, expected_grad] = torch_softmax<Math>(x, grad);
  EXPECT_TRUE(torch::allclose(y, expected, 1e-5, 1e-6, /*equal_nan=*/true)) << size;
  EXPECT_TRUE(torch::allclose(grad_x, expected_grad, 1e-4, 1e-5, /*equal_nan=*/true)) << size;
}

TEST(CudaThreadWork, SoftmaxRowsInRegistersMatchTorch) {
  for (int64_t size : {4, 8, 12, 32, 100, 128, 132, 256, 500, 512}) {
    for (int64_t rows : {1, 5}) {
      SCOPED_TRACE(testing::Message() << rows << " rows of " << size);
      check_register_rows<fusedact::math::Softmax<false>>(rows, size);
      check_register_rows<fusedact::math::Softmax<true>>(rows, size);
      check_register_rows<fusedact::math::Softmin>(rows, size);
    }
  }
  EXPECT_EQ(fusedact::cuda::RegisterRowShape::of(516, 4, 4).packs, 0);  // beyond 32 x 4 packs of 4 floats
  EXPECT_EQ(fusedact::cuda::RegisterRowShape::of(8, 4, 4).group, 2);    // 16 rows of 8 to a warp
}

// The random-slope kernel's thread work (random_slope_work.h), in place with x -> x + 1 + u:
// every element once (twice would add 2), nothing past the end, u in [0, 1), and the same u
// for an element whatever the thread count.
struct IncrementByOnePlusUniform {
  static constexpr int kInputs = 1;
  template <class V>
  V operator()(V u, V x) const {
    return x + V(1) + u;
  }
};

TEST(CudaThreadWork, RandomSlopeWritesEveryElementOnceWithItsOwnNumber) {
  namespace rs = fusedact::random_slope;
  for (int64_t n : {0, 1, 3, 4, 5, 7, 8, 9, 255, 256, 257, 1001}) {
    std::vector<float> expected;
    for (int64_t nthreads : {1, 2, 3, 4, 32, 257, 1024}) {
      Buffer buffer(n);
      rs::Args<float, 1> args{buffer.data, {buffer.data}};
      for (int64_t t = 0; t < nthreads; ++t) rs::thread(t, nthreads, args, n, /*seed=*/42, IncrementByOnePlusUniform{});
      for (int64_t i = 0; i < n; ++i) {
        const float u = buffer.data[i] - (static_cast<float>(i % 97) + 1);
        ASSERT_TRUE(u >= 0 && u < 1) << "element " << i << " of " << n << ", " << nthreads << " threads: " << u;
      }
      for (int64_t i = n; i < n + 8; ++i) ASSERT_EQ(buffer.data[i], kPoison) << "wrote past the end at " << i;
      std::vector<float> result(buffer.data, buffer.data + n);
      if (expected.empty()) expected = result;
      ASSERT_EQ(result, expected) << n << " elements, " << nthreads << " threads";
    }
    if (n >= 8) {  // distinct numbers within and across the generator's blocks of four
      std::vector<float> first;
      for (int64_t i = 0; i < 8; ++i) first.push_back(expected[i] - static_cast<float>(i % 97));
      std::sort(first.begin(), first.end());
      EXPECT_EQ(std::adjacent_find(first.begin(), first.end()), first.end());
    }
  }
  EXPECT_EQ(rs::uniform<float>(0), 0.f);
  EXPECT_LT(rs::uniform<float>(0xffffffffu), 1.f);
  EXPECT_LT(rs::uniform<double>(0xffffffffu), 1.0);
  EXPECT_EQ(rs::groups(0), 0);
  EXPECT_EQ(rs::groups(5), 2);
}

// random_slope::philox is ATen's Philox 4x32-10 (at::philox_engine), lane by lane, across the
// 32-bit carry of the block counter.
TEST(CudaThreadWork, RandomSlopePhiloxIsAtensPhilox) {
  for (uint64_t seed : {uint64_t{0}, uint64_t{42}, uint64_t{0x8000000000000001}, ~uint64_t{0}}) {
    for (uint64_t first : {uint64_t{0}, uint64_t{1000}, (uint64_t{1} << 32) - 5}) {
      constexpr int kGroup = fusedact::random_slope::kGroup;
      uint32_t bits[16 * kGroup];
      fusedact::random_slope::philox<16>(first, seed, bits);
      for (int l = 0; l < 16; ++l) {
        at::philox_engine reference(seed, /*subsequence=*/first + l);
        for (int word = 0; word < kGroup; ++word) {
          ASSERT_EQ(bits[kGroup * l + word], reference())
              << "seed " << seed << ", block " << first + l << ", word " << word;
        }
      }
    }
  }
}

// The GPU threads' work gives what the CPU kernel does (fusedact::rrelu and its backward with a
// seed): the same numbers for the same elements, bit for bit.
TEST(CudaThreadWork, RandomSlopeThreadsMatchTheCpuKernel) {
  using Math = fusedact::math::RandomSlope;
  const auto forward = c10::Dispatcher::singleton()
                           .findSchemaOrThrow("fusedact::rrelu", "")
                           .typed<at::Tensor(const at::Tensor&, const std::optional<at::Tensor>&, double, double)>();
  const auto backward =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("fusedact::rrelu_backward", "")
          .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&, double, double)>();
  const Math math{0.1, 0.3};
  for (int64_t n : {1, 5, 63, 64, 65, 1001, 40009}) {
    const auto x = torch::randn({n}), grad = torch::randn({n});
    const auto seed = torch::tensor(int64_t{0x5eed});
    const auto y = forward.call(x, seed, 0.1, 0.3);
    const auto grad_input = backward.call(grad, y, seed, 0.1, 0.3);
    namespace rs = fusedact::random_slope;
    std::vector<float> out(n);
    const rs::Args<float, 1> args{out.data(), {x.const_data_ptr<float>()}};
    for (int64_t t = 0; t < 7; ++t) rs::thread(t, 7, args, n, 0x5eed, fusedact::RandomSlopeForwardFn<Math>{math});
    ASSERT_TRUE(torch::equal(torch::from_blob(out.data(), {n}), y)) << n << " elements";
    const rs::Args<float, 2> grad_args{out.data(), {grad.const_data_ptr<float>(), y.const_data_ptr<float>()}};
    for (int64_t t = 0; t < 7; ++t) rs::thread(t, 7, grad_args, n, 0x5eed, fusedact::RandomSlopeBackwardFn<Math>{math});
    ASSERT_TRUE(torch::equal(torch::from_blob(out.data(), {n}), grad_input)) << n << " elements";
  }
}

}  // namespace
