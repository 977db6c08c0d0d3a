// The tables of CPU kernels, filled by the kernel files compiled once per instruction set
// (pointwise_kernel.cpp, channel_kernel.cpp), and CpuBackend, which runs a kernel functor
// with the instruction set chosen at run time (isa.h).
#pragma once

#include "channel_tiling.h"
#include "cpu/isa.h"

#include <ATen/TensorIterator.h>
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

template <class Table>
auto kernel_for_active_isa() {
  const auto kernel = Table::by_isa[static_cast<int>(active_isa())];
  TORCH_INTERNAL_ASSERT(kernel != nullptr, "fusedact: no CPU kernel for ", isa_name(active_isa()));
  return kernel;
}

struct CpuBackend {
  // Applies fn element-wise over iter (output 0, then the inputs), multi-threaded.
  template <class Fn>
  static void run(at::TensorIteratorBase& iter, const Fn& fn) {
    if (iter.numel() == 0) return;
    kernel_for_active_isa<PointwiseKernels<Fn>>()(iter, fn);
  }

  // out[c] = the sum of fn(grad, self, param[c]) over channel c's elements (channel_tiling.h);
  // grad and self contiguous, param and out [channels].
  template <class Fn>
  static void channel_grad(const ChannelTiling& tiling, const at::Tensor& grad, const at::Tensor& self,
                           const at::Tensor& param, at::Tensor& out, const Fn& fn) {
    kernel_for_active_isa<ChannelGradKernels<Fn>>()(tiling, grad, self, param, out, fn);
  }
};

}  // namespace fusedact::cpu
