// CUDA kernels of the pointwise ops: registers every op of the table at the CUDA key.
// CudaBackend runs a kernel functor over a TensorIterator: one vectorized kernel when all
// operands are contiguous (in memory order, so channels_last and transposed-dense count),
// a strided one otherwise; on the current stream, without host synchronisation.
#include "launch.cuh"
#include "pointwise.cuh"
#include "pointwise.h"

#include <ATen/Dispatch.h>
#include <ATen/cuda/detail/OffsetCalculator.cuh>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

namespace fusedact::cuda {
namespace {

template <int kVec, class scalar_t, int kInputs, class Fn>
__global__ void __launch_bounds__(kThreadsPerBlock)
    contiguous_kernel(ContiguousArgs<scalar_t, kInputs> args, int64_t n, Fn fn) {
  contiguous_thread<kVec>(blockIdx.x * int64_t{blockDim.x} + threadIdx.x, int64_t{gridDim.x} * blockDim.x, args, n,
                          fn);
}

template <class scalar_t, int kInputs, class Offsets, class Fn>
__global__ void __launch_bounds__(kThreadsPerBlock)
    strided_kernel(StridedArgs<1 + kInputs> args, Offsets offsets, int64_t n, Fn fn) {
  strided_thread<scalar_t, kInputs>(blockIdx.x * int64_t{blockDim.x} + threadIdx.x, int64_t{gridDim.x} * blockDim.x,
                                    args, offsets, n, fn);
}

template <class scalar_t, class Fn>
void launch(at::TensorIteratorBase& iter, const Fn& fn) {
  constexpr int kInputs = Fn::kInputs;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  if (iter.is_contiguous()) {
    ContiguousArgs<scalar_t, kInputs> args;
    args.out = static_cast<scalar_t*>(iter.data_ptr(0));
    bool aligned = reinterpret_cast<uintptr_t>(args.out) % 16 == 0;
    for (int k = 0; k < kInputs; ++k) {
      args.in[k] = static_cast<const scalar_t*>(iter.data_ptr(1 + k));
      aligned = aligned && reinterpret_cast<uintptr_t>(args.in[k]) % 16 == 0;
    }
    const int64_t n = iter.numel();
    if (aligned) {
      constexpr int kVec = kVecSize<scalar_t>;
      contiguous_kernel<kVec><<<grid_size(n / (kVec * kUnroll) + 1, kThreadsPerBlock), kThreadsPerBlock, 0, stream>>>(args, n, fn);
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
  StridedArgs<1 + kInputs> args;
  for (int k = 0; k < 1 + kInputs; ++k) args.data[k] = static_cast<char*>(iter.data_ptr(k));
  const auto offsets = ::make_offset_calculator<1 + kInputs>(iter);
  const int64_t n = iter.numel();
  strided_kernel<scalar_t, kInputs><<<grid_size(n, kThreadsPerBlock), kThreadsPerBlock, 0, stream>>>(args, offsets, n, fn);
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
};

}  // namespace

TORCH_LIBRARY_IMPL(fusedact, CUDA, m) { register_pointwise_kernels<CudaBackend>(m); }

}  // namespace fusedact::cuda
