// The table of CPU kernels, filled by the kernel files compiled once per instruction set
// (pointwise_kernel.cpp), and CpuBackend, which runs a kernel functor with the instruction
// set chosen at run time (isa.h).
#pragma once

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

struct CpuBackend {
  // Applies fn element-wise over iter (output 0, then the inputs), multi-threaded.
  template <class Fn>
  static void run(at::TensorIteratorBase& iter, const Fn& fn) {
    if (iter.numel() == 0) return;
    const auto kernel = PointwiseKernels<Fn>::by_isa[static_cast<int>(active_isa())];
    TORCH_INTERNAL_ASSERT(kernel != nullptr, "fusedact: no CPU kernel for ", isa_name(active_isa()));
    kernel(iter, fn);
  }
};

}  // namespace fusedact::cpu
