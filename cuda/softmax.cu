// CUDA kernels of softmax and log_softmax, forward and backward: registers them at the CUDA
// key. Rows along the last dim take a warp each when they hold up to kWarpRowMax elements and
// a block each beyond; rows along another dim (elements `inner` apart) take a thread each, so
// neighbouring threads read neighbouring elements. The threads of a row merge their parts in a
// fixed order (warp butterfly, then the warps in order): deterministic. On the current stream,
// without host synchronisation.
#include "launch.cuh"
#include "pointwise.cuh"
#include "softmax.cuh"
#include "softmax.h"

#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

namespace fusedact::cuda {
namespace {

constexpr int kWarpSize = 32;
constexpr int64_t kWarpRowMax = 1024;

template <class T>
__device__ T shuffle_xor(T value, int mask) {
  return __shfl_xor_sync(0xffffffffu, value, mask);
}
template <class T>
__device__ math::RowStats<T> shuffle_xor(const math::RowStats<T>& value, int mask) {
  return {shuffle_xor(value.max, mask), shuffle_xor(value.sum, mask)};
}

// Every lane ends with the merge of the warp's 32 values.
template <class Rows>
__device__ typename Rows::Acc warp_merge(typename Rows::Acc acc) {
  for (int mask = kWarpSize / 2; mask > 0; mask /= 2) acc = Rows::combine(acc, shuffle_xor(acc, mask));
  return acc;
}

template <class Rows>
__global__ void __launch_bounds__(kThreadsPerBlock) warp_per_row_kernel(Rows rows) {
  const int64_t thread = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  const int lane = threadIdx.x % kWarpSize;
  for (int64_t r = thread / kWarpSize; r < rows.layout.rows(); r += int64_t{gridDim.x} * blockDim.x / kWarpSize) {
    const auto total = warp_merge<Rows>(row_reduce_thread(rows, r, lane, kWarpSize));
    row_write_thread(rows, r, lane, kWarpSize, total);
  }
}

template <class Rows>
__global__ void __launch_bounds__(kThreadsPerBlock) block_per_row_kernel(Rows rows) {
  __shared__ typename Rows::Acc warp_totals[kThreadsPerBlock / kWarpSize];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  for (int64_t r = blockIdx.x; r < rows.layout.rows(); r += gridDim.x) {
    const auto part = warp_merge<Rows>(row_reduce_thread(rows, r, threadIdx.x, blockDim.x));
    if (lane == 0) warp_totals[warp] = part;
    __syncthreads();
    auto total = warp_totals[0];
    for (int w = 1; w < kThreadsPerBlock / kWarpSize; ++w) total = Rows::combine(total, warp_totals[w]);
    row_write_thread(rows, r, threadIdx.x, blockDim.x, total);
    __syncthreads();  // warp_totals is reused by the next row
  }
}

template <class Rows>
__global__ void __launch_bounds__(kThreadsPerBlock) thread_per_row_kernel(Rows rows) {
  for (int64_t r = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; r < rows.layout.rows();
       r += int64_t{gridDim.x} * blockDim.x) {
    row_write_thread(rows, r, 0, 1, row_reduce_thread(rows, r, 0, 1));
  }
}

template <class Rows>
void launch_rows(const Rows& rows) {
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const RowLayout& layout = rows.layout;
  if (layout.inner > 1) {
    thread_per_row_kernel<<<grid_size(layout.rows(), kThreadsPerBlock), kThreadsPerBlock, 0, stream>>>(rows);
  } else if (layout.size <= kWarpRowMax) {
    warp_per_row_kernel<<<grid_size(layout.rows() * kWarpSize, kThreadsPerBlock), kThreadsPerBlock, 0, stream>>>(rows);
  } else {
    block_per_row_kernel<<<grid_size(layout.rows() * kThreadsPerBlock, kThreadsPerBlock), kThreadsPerBlock, 0, stream>>>(
        rows);
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

struct CudaSoftmaxBackend {
  template <class Math>
  static void softmax(const at::Tensor& in, at::Tensor& out, const RowLayout& layout) {
    const c10::cuda::OptionalCUDAGuard device_guard(in.device());
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, in.scalar_type(), "fusedact_cuda_softmax", [&] {
      launch_rows(SoftmaxForwardRows<scalar_t, Math>{in.const_data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), layout});
    });
  }

  template <class Math>
  static void softmax_backward(const at::Tensor& grad, const at::Tensor& output, at::Tensor& grad_input,
                               const RowLayout& layout) {
    const c10::cuda::OptionalCUDAGuard device_guard(output.device());
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, output.scalar_type(), "fusedact_cuda_softmax_backward",
                                    [&] {
                                      launch_rows(SoftmaxBackwardRows<scalar_t, Math>{
                                          grad.const_data_ptr<scalar_t>(), output.const_data_ptr<scalar_t>(),
                                          grad_input.data_ptr<scalar_t>(), layout});
                                    });
  }
};

}  // namespace

TORCH_LIBRARY_IMPL(fusedact, CUDA, m) { register_softmax_kernels<CudaSoftmaxBackend>(m); }

}  // namespace fusedact::cuda
