// CUDA kernels of the element-wise families (pointwise, channel-parameter, GLU): registers
// their ops at the CUDA key. CudaBackend runs a kernel functor over a TensorIterator: one vectorized
// kernel when all operands are contiguous (in memory order, so channels_last and
// transposed-dense count); a vectorized rows kernel when they are rows, contiguous along the
// fastest dim or (inputs) broadcast along it (the split GLU forms, prelu's weight over NCHW);
// a strided one otherwise; and sums a channel parameter's gradient with one block per tile
// (channel_tiling.h), then one block per channel; the random-slope ops one thread per group
// of elements. All on the
// current stream, without host synchronisation.
#include "channel_reduce.cuh"
#include "families.h"
#include "launch.cuh"
#include "pointwise.cuh"
#include "random_slope_work.h"

#include <ATen/AccumulateType.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <ATen/cuda/detail/OffsetCalculator.cuh>

#include <algorithm>
#include <array>
#include <type_traits>

namespace fusedact::cuda {
namespace {

template <int kVec, class scalar_t, int kInputs, int kOutputs, class Fn>
__global__ void __launch_bounds__(kThreadsPerBlock)
    contiguous_kernel(ContiguousArgs<scalar_t, kInputs, kOutputs> args, int64_t n, Fn fn) {
  contiguous_thread<kVec>(blockIdx.x * int64_t{blockDim.x} + threadIdx.x, int64_t{gridDim.x} * blockDim.x, args, n, fn);
}

template <class scalar_t, int kInputs, int kOutputs, class Offsets, class Fn>
__global__ void __launch_bounds__(kThreadsPerBlock)
    strided_kernel(StridedArgs<kOutputs + kInputs> args, Offsets offsets, int64_t n, Fn fn) {
  strided_thread<scalar_t, kInputs, kOutputs>(blockIdx.x * int64_t{blockDim.x} + threadIdx.x,
                                              int64_t{gridDim.x} * blockDim.x, args, offsets, n, fn);
}

// 2-D blocks: threadIdx.x along a row's packs, threadIdx.y over rows.
template <int kVec, class scalar_t, int kInputs, int kOutputs, class Offsets, class Fn>
__global__ void __launch_bounds__(kThreadsPerBlock)
    rows_kernel(RowArgs<scalar_t, kInputs, kOutputs> args, Offsets offsets, int64_t rows, int64_t row_len, Fn fn) {
  rows_thread<kVec>(blockIdx.x * int64_t{blockDim.x} + threadIdx.x, int64_t{gridDim.x} * blockDim.x,
                    blockIdx.y * int64_t{blockDim.y} + threadIdx.y, int64_t{gridDim.y} * blockDim.y, args, offsets,
                    rows, row_len, fn);
}

constexpr int kWarpSize = 32;

// Tiles blockIdx.x, blockIdx.x + gridDim.x, ...: column sums into shared memory, then one
// warp per channel slot adds that slot's columns.
template <class scalar_t, class acc_t, class Fn>
__global__ void __launch_bounds__(kThreadsPerBlock)
    channel_tile_kernel(ChannelTiling tiling, ChannelGradArgs<scalar_t> args, acc_t* slots, Fn fn) {
  __shared__ acc_t column_sums[ChannelTiling::kTileCols];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize, nwarps = blockDim.x / kWarpSize;
  for (int64_t t = blockIdx.x; t < tiling.num_tiles(); t += gridDim.x) {
    tile_column_sums(tiling, t, threadIdx.x, blockDim.x, args, fn, column_sums);
    __syncthreads();
    for (int64_t k = warp; k < tiling.channel_count(t); k += nwarps) {
      acc_t sum = slot_lane_sum(tiling, t, k, lane, kWarpSize, column_sums);
      for (int offset = kWarpSize / 2; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
      if (lane == 0) slots[t * tiling.slots_per_tile + k] = sum;
    }
    __syncthreads();  // column_sums is reused by the next tile
  }
}

// Channels blockIdx.x, blockIdx.x + gridDim.x, ...: each thread sums its share of the
// channel's slots, the warps add theirs with shuffles, then thread 0 the warps' in order. A
// single parameter over a large input has thousands of slots (12,544 for [64, 256, 56, 56]).
template <class scalar_t, class acc_t>
__global__ void __launch_bounds__(kThreadsPerBlock)
    channel_combine_kernel(ChannelTiling tiling, const acc_t* slots, scalar_t* out) {
  __shared__ acc_t warp_sums[kThreadsPerBlock / kWarpSize];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  for (int64_t c = blockIdx.x; c < tiling.channels; c += gridDim.x) {
    acc_t sum = combine_share(tiling, slots, c, threadIdx.x, blockDim.x);
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
    if (lane == 0) warp_sums[warp] = sum;
    __syncthreads();
    if (threadIdx.x == 0) {
      acc_t total = 0;
      for (int w = 0; w < kThreadsPerBlock / kWarpSize; ++w) total += warp_sums[w];
      out[c] = static_cast<scalar_t>(total);
    }
    __syncthreads();  // warp_sums is reused by the next channel
  }
}

// Whether the operands are rows along TensorIterator's fastest dim (dim 0): contiguous in
// every output, contiguous or broadcast (stride 0) in every input, and long enough that a
// warp has a pack to load per lane (shorter rows would leave most of a block idle; the
// strided kernel keeps every thread busy).
template <class scalar_t, int kOutputs, int kArgs>
bool is_rows_layout(const at::TensorIteratorBase& iter) {
  if (iter.ndim() == 0 || iter.shape()[0] < kWarpSize * kVecSize<scalar_t>) return false;
  for (int k = 0; k < kArgs; ++k) {
    const int64_t stride = iter.strides(k)[0];
    if (stride != static_cast<int64_t>(sizeof(scalar_t)) && !(k >= kOutputs && stride == 0)) return false;
  }
  return true;
}

// The rows kernel over a 32-bit-indexable iterator of rows layout: vectorized when every row
// of every non-broadcast operand starts 16-byte aligned. A block spans as many packs of a row
// as the row has kUnroll-pack steps (a power of two from 32 to kThreadsPerBlock), and its other
// threads further rows.
template <class scalar_t, int kInputs, int kOutputs, class Fn>
void launch_rows(at::TensorIteratorBase& iter, const Fn& fn, cudaStream_t stream) {
  constexpr int kArgs = kOutputs + kInputs;
  RowArgs<scalar_t, kInputs, kOutputs> args;
  std::array<const int64_t*, kArgs> outer_strides;
  bool aligned = true;
  for (int k = 0; k < kArgs; ++k) {
    args.data[k] = static_cast<char*>(iter.data_ptr(k));
    const auto strides = iter.strides(k);
    const bool broadcast = k >= kOutputs && strides[0] == 0;
    if (k >= kOutputs) args.broadcast[k - kOutputs] = broadcast;
    if (!broadcast) {
      aligned = aligned && reinterpret_cast<uintptr_t>(args.data[k]) % 16 == 0;
      for (int d = 1; d < iter.ndim(); ++d) aligned = aligned && strides[d] % 16 == 0;
    }
    outer_strides[k] = strides.data() + 1;
  }
  const OffsetCalculator<kArgs> offsets(iter.ndim() - 1, iter.shape().data() + 1, outer_strides.data());
  const int64_t row_len = iter.shape()[0];
  const int64_t rows = iter.numel() / row_len;
  auto go = [&](auto vec) {
    constexpr int kVec = decltype(vec)::value;
    const int64_t steps = std::max<int64_t>(1, (row_len / kVec + kUnroll - 1) / kUnroll);
    int cols = 32;
    while (cols < kThreadsPerBlock && cols < steps) cols *= 2;
    const dim3 block(cols, kThreadsPerBlock / cols);
    const int64_t resident_blocks = std::max<int64_t>(1, resident_threads() / kThreadsPerBlock);
    const int64_t x_blocks = std::clamp<int64_t>((steps + cols - 1) / cols, 1, resident_blocks);
    const int64_t y_limit = std::min<int64_t>(65535, std::max<int64_t>(1, resident_blocks / x_blocks));
    const int64_t y_blocks = std::clamp<int64_t>((rows + block.y - 1) / block.y, 1, y_limit);
    rows_kernel<kVec><<<dim3(x_blocks, y_blocks), block, 0, stream>>>(args, offsets, rows, row_len, fn);
  };
  if (aligned) {
    go(std::integral_constant<int, kVecSize<scalar_t>>{});
  } else {
    go(std::integral_constant<int, 1>{});
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// The random-slope ops: one thread per group of random_slope::kGroup elements at a time; the
// seed read from device memory, so a CUDA graph replays a fresh draw.
template <class scalar_t, int kInputs, class Fn>
__global__ void __launch_bounds__(kThreadsPerBlock)
    random_slope_kernel(random_slope::Args<scalar_t, kInputs> args, int64_t n, const int64_t* seed, Fn fn) {
  const int64_t thread = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  random_slope::thread(thread, static_cast<int64_t>(gridDim.x) * blockDim.x, args, n, static_cast<uint64_t>(*seed), fn);
}

template <class scalar_t, class Fn>
void launch(at::TensorIteratorBase& iter, const Fn& fn) {
  constexpr int kInputs = Fn::kInputs;
  constexpr int kOutputs = kOutputsOf<Fn>;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  if (iter.is_contiguous()) {
    ContiguousArgs<scalar_t, kInputs, kOutputs> args;
    bool aligned = true;
    for (int k = 0; k < kOutputs; ++k) {
      args.out[k] = static_cast<scalar_t*>(iter.data_ptr(k));
      aligned = aligned && reinterpret_cast<uintptr_t>(args.out[k]) % 16 == 0;
    }
    for (int k = 0; k < kInputs; ++k) {
      args.in[k] = static_cast<const scalar_t*>(iter.data_ptr(kOutputs + k));
      aligned = aligned && reinterpret_cast<uintptr_t>(args.in[k]) % 16 == 0;
    }
    const int64_t n = iter.numel();
    if (aligned) {
      constexpr int kVec = kVecSize<scalar_t>;
      contiguous_kernel<kVec>
          <<<grid_size(n / (kVec * kUnroll) + 1, kThreadsPerBlock), kThreadsPerBlock, 0, stream>>>(args, n, fn);
    } else {
      contiguous_kernel<1><<<grid_size(n / kUnroll + 1, kThreadsPerBlock), kThreadsPerBlock, 0, stream>>>(args, n, fn);
    }
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return;
  }
  if (!iter.can_use_32bit_indexing()) {
    for (auto& sub : iter.with_32bit_indexing()) launch<scalar_t>(sub, fn);
    return;
  }
  constexpr int kArgs = kOutputs + kInputs;
  if (is_rows_layout<scalar_t, kOutputs, kArgs>(iter)) {
    launch_rows<scalar_t, kInputs, kOutputs>(iter, fn, stream);
    return;
  }
  StridedArgs<kArgs> args;
  for (int k = 0; k < kArgs; ++k) args.data[k] = static_cast<char*>(iter.data_ptr(k));
  const auto offsets = ::make_offset_calculator<kArgs>(iter);
  const int64_t n = iter.numel();
  strided_kernel<scalar_t, kInputs, kOutputs>
      <<<grid_size(n, kThreadsPerBlock), kThreadsPerBlock, 0, stream>>>(args, offsets, n, fn);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

struct CudaBackend {
  template <class Fn>
  static void run(at::TensorIteratorBase& iter, const Fn& fn) {
    if (iter.numel() == 0) return;
    const c10::cuda::OptionalCUDAGuard device_guard(iter.device());
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.dtype(0), "fusedact_cuda_pointwise",
                                    [&] { launch<scalar_t>(iter, fn); });
  }

  // out = fn(u, inputs...) element-wise (random_slope_work.h); contiguous operands of one dtype.
  template <class Fn, size_t K>
  static void random_slope(const at::Tensor& out, const std::array<at::Tensor, K>& inputs, const at::Tensor& seed,
                           const Fn& fn) {
    const int64_t n = out.numel();
    if (n == 0) return;
    const c10::cuda::OptionalCUDAGuard device_guard(out.device());
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, out.scalar_type(), "fusedact_cuda_random_slope", [&] {
      random_slope::Args<scalar_t, static_cast<int>(K)> args{out.data_ptr<scalar_t>(), {}};
      for (size_t k = 0; k < K; ++k) args.in[k] = inputs[k].template const_data_ptr<scalar_t>();
      random_slope_kernel<<<grid_size(random_slope::groups(n), kThreadsPerBlock), kThreadsPerBlock, 0, stream>>>(
          args, n, seed.const_data_ptr<int64_t>(), fn);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }

  // out[c] = the sum of fn(grad, self, param[c]) over channel c's elements (channel_tiling.h);
  // grad and self contiguous, param and out [channels].
  template <class Fn>
  static void channel_grad(const ChannelTiling& tiling, const at::Tensor& grad, const at::Tensor& self,
                           const at::Tensor& param, at::Tensor& out, const Fn& fn) {
    const c10::cuda::OptionalCUDAGuard device_guard(self.device());
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "fusedact_cuda_channel_grad", [&] {
      using acc_t = at::acc_type<scalar_t, /*is_cuda=*/true>;
      at::Tensor slots = at::empty({tiling.num_slots()}, self.options().dtype(c10::CppTypeToScalarType<acc_t>::value));
      const ChannelGradArgs<scalar_t> args{grad.const_data_ptr<scalar_t>(), self.const_data_ptr<scalar_t>(),
                                           param.const_data_ptr<scalar_t>()};
      channel_tile_kernel<scalar_t, acc_t>
          <<<grid_size(tiling.num_tiles() * kThreadsPerBlock, kThreadsPerBlock), kThreadsPerBlock, 0, stream>>>(
              tiling, args, slots.data_ptr<acc_t>(), fn);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
      channel_combine_kernel<<<grid_size(tiling.channels * kThreadsPerBlock, kThreadsPerBlock), kThreadsPerBlock, 0,
                               stream>>>(tiling, slots.const_data_ptr<acc_t>(), out.data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }
};

}  // namespace

TORCH_LIBRARY_IMPL(fusedact, CUDA, m) { register_backend<CudaBackend>(m, ElementwiseFamilies{}); }

}  // namespace fusedact::cuda
