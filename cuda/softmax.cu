// CUDA kernels of softmax, log_softmax and softmin, forward and backward: registers them at the
// CUDA key. Rows along the last dim that start 16-byte aligned and fit in a warp's registers (up to
// 32 x 4 packs of 16 bytes: 1024 16-bit or 512 float elements) are held there by a group of
// lanes, several short rows to a warp: read once, one exp per element, written once. Other
// rows along the last dim take a warp each when they hold up to kWarpRowMax elements and
// a block each beyond; rows along another dim (elements `inner` apart) take a thread each, so
// neighbouring threads read neighbouring elements, or, when they are fewer than the GPU runs
// threads ([32768, 8] along dim 0: 8 rows), a column of lanes each. The threads of a row merge
// their parts in a fixed order (warp butterfly, then the warps in order; a tree over a column's
// lanes): deterministic. On the current stream, without host synchronisation.
#include "families.h"
#include "launch.cuh"
#include "pointwise.cuh"
#include "softmax.cuh"

#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdint>
#include <initializer_list>
#include <type_traits>

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

// Every lane of a `group`-lane segment of the warp ends with the merge of the segment's values
// (a butterfly: each lane merges the same pairs, so sums end bitwise equal; a max may differ in
// the sign of a zero, which changes no output).
template <class T, class Merge>
__device__ T group_merge(T value, int group, const Merge& merge) {
  for (int mask = group / 2; mask > 0; mask /= 2) {
    value = merge(value, __shfl_xor_sync(0xffffffffu, value, mask, group));
  }
  return value;
}

// Calls body(row, writes, lane) for each row the calling lane's group holds: `row` to read,
// `writes` whether it is the group's own (a lane past the last row reads its warp's first row
// again and writes nothing). A warp's lanes run the loop together: the shuffles need all of them.
template <class Body>
__device__ void for_each_group_row(int64_t rows, int group, const Body& body) {
  const int lane_in_warp = threadIdx.x % kWarpSize;
  const int64_t rows_per_warp = kWarpSize / group;
  const int64_t warp = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / kWarpSize;
  const int64_t warps = int64_t{gridDim.x} * blockDim.x / kWarpSize;
  for (int64_t first = warp * rows_per_warp; first < rows; first += warps * rows_per_warp) {
    const int64_t r = first + lane_in_warp / group;
    body(r < rows ? r : first, r < rows, lane_in_warp % group);
  }
}

// Rows along the last dim held in registers (softmax.cuh), 32 / group rows to a warp.
template <int kVec, int kPacks, class Math, class scalar_t, class out_t>
__global__ void __launch_bounds__(kThreadsPerBlock)
    register_forward_kernel(const scalar_t* in, out_t* out, int64_t rows, int64_t size, int group) {
  using acc_t = at::acc_type<scalar_t, /*is_cuda=*/true>;
  for_each_group_row(rows, group, [&](int64_t row, bool writes, int lane) {
    auto x = load_forward_lane<Math, kVec, kPacks, acc_t>(in + row * size, size, lane, group);
    const acc_t max = group_merge(lane_max(x), group, [](acc_t a, acc_t b) { return max_of(a, b); });
    const acc_t sum = group_merge(lane_exp_sum<Math>(x, max), group, [](acc_t a, acc_t b) { return a + b; });
    if (writes) store_forward_lane<Math>(out + row * size, size, lane, group, x, max, Math{}.normalizer(sum));
  });
}

template <int kVec, int kPacks, class Math, class scalar_t>
__global__ void __launch_bounds__(kThreadsPerBlock)
    register_backward_kernel(const scalar_t* grad, const scalar_t* output, scalar_t* grad_input, int64_t rows,
                             int64_t size, int group) {
  using acc_t = at::acc_type<scalar_t, /*is_cuda=*/true>;
  for_each_group_row(rows, group, [&](int64_t row, bool writes, int lane) {
    const auto g = load_lane<kVec, kPacks, acc_t>(grad + row * size, size, lane, group, acc_t(0));
    const auto y = load_lane<kVec, kPacks, acc_t>(output + row * size, size, lane, group, acc_t(0));
    const acc_t total = group_merge(lane_backward_sum<Math>(g, y), group, [](acc_t a, acc_t b) { return a + b; });
    if (writes) store_backward_lane<Math>(grad_input + row * size, size, lane, group, g, y, total);
  });
}

constexpr int kMaxRegisterPacks = 4;

// How rows go in registers, or packs == 0: rows along the last dim whose starts (and every
// pointer) are aligned to a pack, of at most 32 lanes x kMaxRegisterPacks packs. A pack is 16
// bytes of scalar_t (of a float output for a 16-bit input: 32 bytes).
template <class scalar_t, class out_t = scalar_t>
RegisterRowShape register_shape(const RowLayout& layout, std::initializer_list<const void*> pointers,
                                const out_t* out = nullptr) {
  constexpr int kVec = kVecSize<scalar_t>;
  if (layout.inner != 1 || layout.size * sizeof(scalar_t) % 16 != 0) return {};
  for (const void* p : pointers) {
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return {};
  }
  if (reinterpret_cast<uintptr_t>(out) % (kVec * sizeof(out_t)) != 0) return {};
  return RegisterRowShape::of(layout.size, kVec, kMaxRegisterPacks);
}

// Calls launch(std::integral_constant<int, packs>) for packs 1, 2 or 4.
template <class Launch>
void with_packs(int packs, const Launch& launch) {
  switch (packs) {
    case 1:
      launch(std::integral_constant<int, 1>{});
      break;
    case 2:
      launch(std::integral_constant<int, 2>{});
      break;
    default:
      launch(std::integral_constant<int, kMaxRegisterPacks>{});
  }
}

int register_grid(const RegisterRowShape& shape, int64_t rows) {
  const int64_t rows_per_warp = kWarpSize / shape.group;
  return grid_size((rows + rows_per_warp - 1) / rows_per_warp * kWarpSize, kThreadsPerBlock);
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

// Rows along another dim, when they are fewer than the GPU runs threads: blockDim.x adjacent
// rows (neighbouring columns, so the loads coalesce), blockDim.y lanes along each (elements
// ty, ty + blockDim.y, ...), the lanes' parts merged in a fixed tree in shared memory.
template <class Rows>
__global__ void __launch_bounds__(kThreadsPerBlock) spatial_kernel(Rows rows) {
  __shared__ typename Rows::Acc parts[kThreadsPerBlock];
  const int tx = threadIdx.x, ty = threadIdx.y, width = blockDim.x;
  for (int64_t base = blockIdx.x * int64_t{width}; base < rows.layout.rows(); base += int64_t{gridDim.x} * width) {
    const int64_t r = base + tx;
    const bool valid = r < rows.layout.rows();
    parts[ty * width + tx] = valid ? row_reduce_thread(rows, r, ty, blockDim.y) : Rows::identity();
    __syncthreads();
    for (int half = blockDim.y / 2; half > 0; half /= 2) {
      if (ty < half) parts[ty * width + tx] = Rows::combine(parts[ty * width + tx], parts[(ty + half) * width + tx]);
      __syncthreads();
    }
    const auto total = parts[tx];
    if (valid) row_write_thread(rows, r, ty, blockDim.y, total);
    __syncthreads();  // parts is reused by the next rows
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
  if (layout.inner > 1 && layout.rows() < resident_threads() && layout.size > 1) {
    int width = 1;
    while (width < kWarpSize && width < layout.inner) width *= 2;
    const dim3 block(width, kThreadsPerBlock / width);
    spatial_kernel<<<grid_size((layout.rows() + width - 1) / width * kThreadsPerBlock, kThreadsPerBlock), block, 0,
                     stream>>>(rows);
  } else if (layout.inner > 1) {
    thread_per_row_kernel<<<grid_size(layout.rows(), kThreadsPerBlock), kThreadsPerBlock, 0, stream>>>(rows);
  } else if (layout.size <= kWarpRowMax) {
    warp_per_row_kernel<<<grid_size(layout.rows() * kWarpSize, kThreadsPerBlock), kThreadsPerBlock, 0, stream>>>(rows);
  } else {
    block_per_row_kernel<<<grid_size(layout.rows() * kThreadsPerBlock, kThreadsPerBlock), kThreadsPerBlock, 0,
                           stream>>>(rows);
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <class Math, class scalar_t, class out_t>
void softmax_forward(const scalar_t* x, out_t* y, const RowLayout& layout) {
  const auto shape = register_shape<scalar_t>(layout, {x}, y);
  if (shape.packs == 0) {
    launch_rows(SoftmaxForwardRows<scalar_t, Math, out_t>{x, y, layout});
    return;
  }
  with_packs(shape.packs, [&](auto packs) {
    register_forward_kernel<kVecSize<scalar_t>, decltype(packs)::value, Math>
        <<<register_grid(shape, layout.rows()), kThreadsPerBlock, 0, c10::cuda::getCurrentCUDAStream()>>>(
            x, y, layout.rows(), layout.size, shape.group);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

struct CudaSoftmaxBackend {
  static constexpr bool kSoftmaxHalfToFloat = true;  // a 16-bit input read as it is into a float output

  template <class Math>
  static void softmax(const at::Tensor& in, at::Tensor& out, const RowLayout& layout) {
    const c10::cuda::OptionalCUDAGuard device_guard(in.device());
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, in.scalar_type(), "fusedact_cuda_softmax", [&] {
      const scalar_t* x = in.const_data_ptr<scalar_t>();
      if (out.scalar_type() == in.scalar_type()) {
        softmax_forward<Math>(x, out.data_ptr<scalar_t>(), layout);
      } else if constexpr (std::is_same_v<scalar_t, at::Half> || std::is_same_v<scalar_t, at::BFloat16>) {
        softmax_forward<Math>(x, out.data_ptr<float>(), layout);  // half_to_float
      } else {
        TORCH_INTERNAL_ASSERT(false, "fusedact: softmax from ", in.scalar_type(), " to ", out.scalar_type());
      }
    });
  }

  template <class Math>
  static void softmax_backward(const at::Tensor& grad, const at::Tensor& output, at::Tensor& grad_input,
                               const RowLayout& layout) {
    const c10::cuda::OptionalCUDAGuard device_guard(output.device());
    AT_DISPATCH_FLOATING_TYPES_AND2(
        at::kHalf, at::kBFloat16, output.scalar_type(), "fusedact_cuda_softmax_backward", [&] {
          const scalar_t* g = grad.const_data_ptr<scalar_t>();
          const scalar_t* y = output.const_data_ptr<scalar_t>();
          scalar_t* dx = grad_input.data_ptr<scalar_t>();
          const auto shape = register_shape<scalar_t>(layout, {g, y, dx});
          if (shape.packs == 0) {
            launch_rows(SoftmaxBackwardRows<scalar_t, Math>{g, y, dx, layout});
            return;
          }
          with_packs(shape.packs, [&](auto packs) {
            register_backward_kernel<kVecSize<scalar_t>, decltype(packs)::value, Math>
                <<<register_grid(shape, layout.rows()), kThreadsPerBlock, 0, c10::cuda::getCurrentCUDAStream()>>>(
                    g, y, dx, layout.rows(), layout.size, shape.group);
          });
          C10_CUDA_KERNEL_LAUNCH_CHECK();
        });
  }
};

}  // namespace

TORCH_LIBRARY_IMPL(fusedact, CUDA, m) { register_backend<CudaSoftmaxBackend>(m, SoftmaxFamilies{}); }

}  // namespace fusedact::cuda
