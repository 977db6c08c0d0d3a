// CUDA kernels of the pointwise, channel-parameter and GLU ops: registers every op of the tables
// at the CUDA key. CudaBackend runs a kernel functor over a TensorIterator: one vectorized
// kernel when all operands are contiguous (in memory order, so channels_last and
// transposed-dense count), a strided one otherwise; and sums a channel parameter's gradient
// with one block per tile (channel_tiling.h), then one thread per channel. All on the
// current stream, without host synchronisation.
#include "channel_param.h"
#include "gated.h"
#include "channel_reduce.cuh"
#include "launch.cuh"
#include "pointwise.cuh"
#include "pointwise.h"

#include <ATen/AccumulateType.h>
#include <ATen/Dispatch.h>
#include <ATen/cuda/detail/OffsetCalculator.cuh>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

namespace fusedact::cuda {
namespace {

template <int kVec, class scalar_t, int kInputs, int kOutputs, class Fn>
__global__ void __launch_bounds__(kThreadsPerBlock)
    contiguous_kernel(ContiguousArgs<scalar_t, kInputs, kOutputs> args, int64_t n, Fn fn) {
  contiguous_thread<kVec>(blockIdx.x * int64_t{blockDim.x} + threadIdx.x, int64_t{gridDim.x} * blockDim.x, args, n,
                          fn);
}

template <class scalar_t, int kInputs, int kOutputs, class Offsets, class Fn>
__global__ void __launch_bounds__(kThreadsPerBlock)
    strided_kernel(StridedArgs<kOutputs + kInputs> args, Offsets offsets, int64_t n, Fn fn) {
  strided_thread<scalar_t, kInputs, kOutputs>(blockIdx.x * int64_t{blockDim.x} + threadIdx.x,
                                              int64_t{gridDim.x} * blockDim.x, args, offsets, n, fn);
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

template <class scalar_t, class acc_t>
__global__ void channel_combine_kernel(ChannelTiling tiling, const acc_t* slots, scalar_t* out) {
  for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c < tiling.channels;
       c += int64_t{gridDim.x} * blockDim.x) {
    out[c] = static_cast<scalar_t>(tiling.combine(slots, c));
  }
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
      contiguous_kernel<kVec><<<grid_size(n / (kVec * kUnroll) + 1, kThreadsPerBlock), kThreadsPerBlock, 0, stream>>>(
          args, n, fn);
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
      channel_combine_kernel<<<grid_size(tiling.channels, kThreadsPerBlock), kThreadsPerBlock, 0, stream>>>(
          tiling, slots.const_data_ptr<acc_t>(), out.data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }
};

}  // namespace

TORCH_LIBRARY_IMPL(fusedact, CUDA, m) {
  register_pointwise_kernels<CudaBackend>(m);
  register_channel_param_kernels<CudaBackend>(m);
  register_gated_kernels<CudaBackend>(m);
}

}  // namespace fusedact::cuda
