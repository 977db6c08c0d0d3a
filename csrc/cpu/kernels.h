// The tables of CPU kernels, filled by the kernel files compiled once per instruction set
// (pointwise_kernel.cpp, channel_kernel.cpp, softmax_kernel.cpp), and CpuBackend, which runs a kernel functor
// with the instruction set chosen at run time (isa.h).
#pragma once

#include "channel_tiling.h"
#include "cpu/isa.h"
#include "row_layout.h"

#include <ATen/TensorIterator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <array>

namespace fusedact::cpu {

// For each kernel functor type, one entry per instruction set; the per-ISA objects
// register theirs at load time, as ATen's REGISTER_DISPATCH does.
template <class Fn>
struct PointwiseKernels {
  using Kernel = void (*)(at::TensorIteratorBase& iter, const Fn& fn);
  static inline std::array<Kernel, kNumIsas> by_isa = {};
};

template <class Fn>
struct ChannelGradKernels {
  using Kernel = void (*)(const ChannelTiling& tiling, const at::Tensor& grad, const at::Tensor& self,
                          const at::Tensor& param, at::Tensor& out, const Fn& fn);
  static inline std::array<Kernel, kNumIsas> by_isa = {};
};

template <class Math>
struct SoftmaxKernels {
  using Forward = void (*)(const at::Tensor& in, at::Tensor& out, const RowLayout& layout);
  using Backward = void (*)(const at::Tensor& grad, const at::Tensor& output, at::Tensor& grad_input,
                            const RowLayout& layout);
  static inline std::array<Forward, kNumIsas> forward_by_isa = {};
  static inline std::array<Backward, kNumIsas> backward_by_isa = {};
};

// out = fn(u, inputs...) over contiguous operands of one dtype, u from the seed
// (random_slope_work.h).
template <class Fn>
struct RandomSlopeKernels {
  using Kernel = void (*)(const at::Tensor& out, const std::array<at::Tensor, Fn::kInputs>& inputs, uint64_t seed,
                          const Fn& fn);
  static inline std::array<Kernel, kNumIsas> by_isa = {};
};

template <class Kernel>
Kernel for_active_isa(const std::array<Kernel, kNumIsas>& by_isa) {
  const Kernel kernel = by_isa[static_cast<int>(active_isa())];
  TORCH_INTERNAL_ASSERT(kernel != nullptr, "fusedact: no CPU kernel for ", isa_name(active_isa()));
  return kernel;
}

struct CpuBackend {
  // Applies fn element-wise over iter (output 0, then the inputs), multi-threaded.
  template <class Fn>
  static void run(at::TensorIteratorBase& iter, const Fn& fn) {
    if (iter.numel() == 0) return;
    for_active_isa(PointwiseKernels<Fn>::by_isa)(iter, fn);
  }

  // out = fn(u, inputs...) element-wise, u each element's uniform number from the seed
  // (random_slope_work.h); out and the inputs contiguous, of one dtype.
  template <class Fn, size_t K>
  static void random_slope(const at::Tensor& out, const std::array<at::Tensor, K>& inputs, const at::Tensor& seed,
                           const Fn& fn) {
    if (out.numel() == 0) return;
    const auto key = static_cast<uint64_t>(*seed.const_data_ptr<int64_t>());
    for_active_isa(RandomSlopeKernels<Fn>::by_isa)(out, inputs, key, fn);
  }

  // out[c] = the sum of fn(grad, self, param[c]) over channel c's elements (channel_tiling.h);
  // grad and self contiguous, param and out [channels].
  template <class Fn>
  static void channel_grad(const ChannelTiling& tiling, const at::Tensor& grad, const at::Tensor& self,
                           const at::Tensor& param, at::Tensor& out, const Fn& fn) {
    for_active_isa(ChannelGradKernels<Fn>::by_isa)(tiling, grad, self, param, out, fn);
  }

  // softmax / log_softmax (Math) along the rows of a contiguous tensor, in and out of one dtype.
  static constexpr bool kSoftmaxHalfToFloat = false;
  template <class Math>
  static void softmax(const at::Tensor& in, at::Tensor& out, const RowLayout& layout) {
    for_active_isa(SoftmaxKernels<Math>::forward_by_isa)(in, out, layout);
  }
  template <class Math>
  static void softmax_backward(const at::Tensor& grad, const at::Tensor& output, at::Tensor& grad_input,
                               const RowLayout& layout) {
    for_active_isa(SoftmaxKernels<Math>::backward_by_isa)(grad, output, grad_input, layout);
  }
};

}  // namespace fusedact::cpu
