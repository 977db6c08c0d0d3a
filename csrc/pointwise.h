// Device-generic machinery of the pointwise ops: argument checks, and the forward /
// in-place / backward implementations shared by every backend. A backend (CpuBackend,
// CudaBackend) only supplies `run(TensorIteratorBase&, const Fn&)`, which applies a kernel
// functor (functors.h) element-wise.
#pragma once

#include "functors.h"
#include "ops.h"

#include <ATen/TensorIterator.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>
#include <torch/library.h>

#include <cmath>
#include <limits>

namespace fusedact {

// ---- argument checks ----------------------------------------------------------------------

// The dtypes every kernel is compiled for (not the float8 types, which are floating too).
inline bool supported_dtype(at::ScalarType dtype) {
  return dtype == at::kFloat || dtype == at::kDouble || dtype == at::kHalf || dtype == at::kBFloat16;
}

inline void check_floating(const char* op, const char* arg, const at::Tensor& t) {
  TORCH_CHECK(t.defined(), "fusedact.", op, ": ", arg, " is an undefined tensor");
  TORCH_CHECK(supported_dtype(t.scalar_type()), "fusedact.", op, ": expected ", arg,
              " to be a floating-point tensor of float32, float64, float16 or bfloat16, got ",
              t.scalar_type());
}

// grad_output and the saved tensor of a backward op: same shape, dtype and device.
inline void check_backward_args(const std::string& op, const at::Tensor& grad, const at::Tensor& saved) {
  check_floating(op.c_str(), "grad_output", grad);
  check_floating(op.c_str(), "the saved tensor", saved);
  TORCH_CHECK(grad.sym_sizes() == saved.sym_sizes(), "fusedact.", op, ": grad_output has shape ",
              grad.sym_sizes(), " but the saved tensor has shape ", saved.sym_sizes());
  TORCH_CHECK(grad.scalar_type() == saved.scalar_type(), "fusedact.", op, ": grad_output is ",
              grad.scalar_type(), " but the saved tensor is ", saved.scalar_type());
  TORCH_CHECK(grad.device() == saved.device(), "fusedact.", op, ": grad_output is on ", grad.device(),
              " but the saved tensor is on ", saved.device());
}

// A float parameter reaches the kernels in the input's compute type, float for every dtype
// but float64; as torch's activations do, a finite value beyond float's range is refused
// rather than turned into an infinity.
inline void check_param_fits_float(const char* op, double param) {
  TORCH_CHECK(!std::isfinite(param) || std::abs(param) <= std::numeric_limits<float>::max(), "fusedact.", op,
              ": value ", param, " cannot be converted to type float without overflow");
}
template <class T>
void check_param_fits_float(const char*, const T&) {}  // not a float parameter

template <class... P>
void check_params_fit([[maybe_unused]] const char* op, at::ScalarType dtype, const P&... params) {
  if (dtype != at::kDouble) (check_param_fits_float(op, params), ...);
}

// An element-wise iteration over preallocated outputs (same shape as the inputs). The
// iterator owns its operands: the lists hold copies that die with the call's full expression,
// and an operand may be a temporary (a parameter's broadcast view) that nothing else holds.
inline at::TensorIterator pointwise_iter(std::initializer_list<at::Tensor> outputs,
                                         std::initializer_list<at::Tensor> inputs) {
  at::TensorIteratorConfig config;
  config.check_all_same_dtype(true).resize_outputs(false);
  for (const auto& t : outputs) config.add_owned_output(t);
  for (const auto& t : inputs) config.add_owned_const_input(t);
  return config.build();
}

// ---- implementations ----------------------------------------------------------------------

template <class Op, class Params = ParamsOf<Op>>
struct Pointwise;

template <class Op, class... P>
struct Pointwise<Op, c10::guts::typelist::typelist<P...>> {
  using Math = typename Op::Math;
  static constexpr bool kSavesOutput = Math::kSaves == math::Saves::Output;

  // Dispatcher handles, for autograd and the C++ API.
  static const auto& forward_op() {
    static const auto op = find_op<at::Tensor(const at::Tensor&, P...)>(Op::kName);
    return op;
  }
  static const auto& inplace_op() {
    static const auto op = find_op<void(at::Tensor&, P...)>(inplace_name<Op>());
    return op;
  }
  static const auto& backward_op() {
    static const auto op = find_op<at::Tensor(const at::Tensor&, const at::Tensor&, P...)>(backward_name<Op>());
    return op;
  }

  // The math struct for the schema arguments, checked against the dtype they will run in.
  static Math math(const char* op, at::ScalarType dtype, P... params) {
    check_params_fit(op, dtype, params...);
    return Op::make(params...);
  }

  template <class Backend>
  static at::Tensor forward(const at::Tensor& self, P... params) {
    check_floating(Op::kName, "input", self);
    auto fn = ForwardFn<Math>{math(Op::kName, self.scalar_type(), params...)};
    at::Tensor out = at::empty_like(self);
    auto iter = pointwise_iter({out}, {self});
    Backend::run(iter, fn);
    return out;
  }

  template <class Backend>
  static void forward_(at::Tensor& self, P... params) {
    check_floating(inplace_name<Op>().c_str(), "input", self);
    auto fn = ForwardFn<Math>{math(inplace_name<Op>().c_str(), self.scalar_type(), params...)};
    auto iter = pointwise_iter({self}, {self});
    Backend::run(iter, fn);
  }

  template <class Backend>
  static at::Tensor backward(const at::Tensor& grad, const at::Tensor& saved, P... params) {
    check_backward_args(backward_name<Op>(), grad, saved);
    auto fn = BackwardFn<Math>{math(backward_name<Op>().c_str(), saved.scalar_type(), params...)};
    at::Tensor grad_input = at::empty_like(saved);
    auto iter = pointwise_iter({grad_input}, {grad, saved});
    Backend::run(iter, fn);
    return grad_input;
  }

  // Meta kernels: the same checks and allocation, no computation. Sym-size APIs only, so
  // that dynamic shapes stay symbolic.
  static at::Tensor forward_meta(const at::Tensor& self, P... params) {
    check_floating(Op::kName, "input", self);
    (void)math(Op::kName, self.scalar_type(), params...);
    return at::empty_like(self);
  }
  static void forward_meta_(at::Tensor& self, P... params) {
    check_floating(inplace_name<Op>().c_str(), "input", self);
    (void)math(inplace_name<Op>().c_str(), self.scalar_type(), params...);
  }
  static at::Tensor backward_meta(const at::Tensor& grad, const at::Tensor& saved, P... params) {
    check_backward_args(backward_name<Op>(), grad, saved);
    (void)math(backward_name<Op>().c_str(), saved.scalar_type(), params...);
    return at::empty_like(saved);
  }
};

// Registers every op of the table with the kernels of one backend.
template <class Backend>
void register_pointwise_kernels(torch::Library& m) {
  for_each_type(PointwiseOps{}, [&](auto op) {
    using Impl = Pointwise<decltype(op)>;
    m.impl(decltype(op)::kName, &Impl::template forward<Backend>);
    m.impl(backward_name<decltype(op)>().c_str(), &Impl::template backward<Backend>);
    if constexpr (decltype(op)::kHasInplace) {
      m.impl(inplace_name<decltype(op)>().c_str(), &Impl::template forward_<Backend>);
    }
  });
}

}  // namespace fusedact
