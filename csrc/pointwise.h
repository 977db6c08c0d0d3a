// The pointwise family (ops.h: PointwiseOps): argument checks shared by every family, and
// the operators of a pointwise entry,
//   <name>(Tensor self, <params>) -> Tensor
//   <name>_backward(Tensor grad_output, Tensor self|output, <params>) -> Tensor
//   <name>_(Tensor(a!) self, <params>) -> ()          where torch.nn has inplace=True
// backward taking the input or the output, whichever the math saves. The in-place op returns
// nothing, the form torch.compile can functionalize. Its kernels are device-generic: a
// backend (cpu::CpuBackend, cuda::CudaBackend) only supplies `run(TensorIteratorBase&,
// const Fn&)`, which applies a kernel functor (functors.h) element-wise.
#pragma once

#include "family.h"
#include "functors.h"
#include "ops.h"

#include <ATen/EmptyTensor.h>
#include <ATen/TensorIterator.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>
#include <torch/library.h>

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <c10/util/overflows.h>

#include <cmath>
#include <limits>
#include <tuple>

namespace fusedact {

// A new tensor like t, as at::empty_like(t) makes it, but in the common case (a contiguous
// CPU tensor) without the dispatcher's trips, a good part of an op's cost on a small tensor.
inline at::Tensor output_like(const at::Tensor& t) {
  if (t.is_cpu() && t.is_contiguous()) return at::detail::empty_cpu(t.sizes(), t.scalar_type());
  return at::empty_like(t);
}

// ---- argument checks ----------------------------------------------------------------------

// The dtypes every kernel is compiled for (not the float8 types, which are floating too).
inline bool supported_dtype(at::ScalarType dtype) {
  return dtype == at::kFloat || dtype == at::kDouble || dtype == at::kHalf || dtype == at::kBFloat16;
}

inline void check_floating(const char* op, const char* arg, const at::Tensor& t) {
  TORCH_CHECK(t.defined(), "fusedact.", op, ": ", arg, " is an undefined tensor");
  TORCH_CHECK(supported_dtype(t.scalar_type()), "fusedact.", op, ": expected ", arg,
              " to be a floating-point tensor of float32, float64, float16 or bfloat16, got ", t.scalar_type());
}

// grad_output and the saved tensor of a backward op: same shape, dtype and device.
inline void check_backward_args(const std::string& op, const at::Tensor& grad, const at::Tensor& saved) {
  check_floating(op.c_str(), "grad_output", grad);
  check_floating(op.c_str(), "the saved tensor", saved);
  TORCH_CHECK(grad.sym_sizes() == saved.sym_sizes(), "fusedact.", op, ": grad_output has shape ", grad.sym_sizes(),
              " but the saved tensor has shape ", saved.sym_sizes());
  TORCH_CHECK(grad.scalar_type() == saved.scalar_type(), "fusedact.", op, ": grad_output is ", grad.scalar_type(),
              " but the saved tensor is ", saved.scalar_type());
  TORCH_CHECK(grad.device() == saved.device(), "fusedact.", op, ": grad_output is on ", grad.device(),
              " but the saved tensor is on ", saved.device());
}

// A float parameter's value against the range of the type it will run in (family.h: Param):
// float, or the input's dtype for one that torch converts to it. Infinities and NaN pass, as
// in torch's checked conversion.
inline void check_param_fits(const char* op, at::ScalarType dtype, const Float& spec, double value) {
  const at::ScalarType type = spec.input_dtype && dtype != at::kFloat ? dtype : at::kFloat;
  const bool overflows = type == at::kHalf       ? c10::overflows<c10::Half>(value)
                         : type == at::kBFloat16 ? c10::overflows<c10::BFloat16>(value)
                                                 : c10::overflows<float>(value);
  TORCH_CHECK(!overflows, "fusedact.", op, ": value ", value, " cannot be converted to type ",
              type == at::kFloat ? "float" : c10::toString(type), " without overflow");
}
template <class T>
void check_param_fits(const char*, at::ScalarType, const Param<T>&, const T&) {}  // not a float parameter

// Integer (and bool) inputs of an entry that takes them go to its `integers` (ops.h).
template <class Op>
constexpr bool kTakesIntegers = requires { &Op::integers; };

inline bool is_integer(const at::Tensor& t) { return at::isIntegralType(t.scalar_type(), /*includeBool=*/true); }

// An entry's parameter values against its kParams (every value fits a float64 input).
template <class Specs, class... P>
void check_params_fit([[maybe_unused]] const char* op, at::ScalarType dtype, const Specs& specs, const P&... params) {
  if (dtype == at::kDouble) return;
  std::apply([&](const auto&... spec) { (check_param_fits(op, dtype, spec, params), ...); }, specs);
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

// ---- the family ----------------------------------------------------------------------------

template <class Op, class Params = ParamTypes<Op>>
struct PointwiseFamily;

template <class Op, class Params = ParamTypes<Op>>
struct PointwiseAutograd;  // autograd.cpp
template <class Op, class Params = ParamTypes<Op>>
struct PointwiseInplaceOrView;  // inplace_or_view.cpp

template <class Op, class... P>
struct PointwiseFamily<Op, c10::guts::typelist::typelist<P...>> {
  using Entry = Op;
  using Math = typename Op::Math;
  static_assert(make_matches_params<Op>(), "make's parameters must be kParams' C++ types");
  static constexpr bool kSavesOutput = Math::kSaves == math::Saves::Output;

  struct Forward {
    using Family = PointwiseFamily;
    static std::string suffix() { return ""; }
    static std::string schema() { return "(Tensor self" + schema_params(Op::kParams) + ") -> Tensor"; }
    template <class Impl>
    static constexpr auto impl() -> decltype(&Impl::forward) {
      return &Impl::forward;
    }
  };
  struct Backward {
    using Family = PointwiseFamily;
    static std::string suffix() { return "_backward"; }
    static std::string schema() {
      return std::string("(Tensor grad_output, Tensor ") + (kSavesOutput ? "output" : "self") +
             schema_params(Op::kParams) + ") -> Tensor";
    }
    template <class Impl>
    static constexpr auto impl() -> decltype(&Impl::backward) {
      return &Impl::backward;
    }
  };
  struct Inplace {
    using Family = PointwiseFamily;
    static std::string suffix() { return "_"; }
    static std::string schema() { return "(Tensor(a!) self" + schema_params(Op::kParams) + ") -> ()"; }
    template <class Impl>
    static constexpr auto impl() -> decltype(&Impl::forward_) {
      return &Impl::forward_;
    }
  };
  using Ops = std::conditional_t<Op::kHasInplace, TypeList<Forward, Backward, Inplace>, TypeList<Forward, Backward>>;

  // The functors the backends compile for it.
  using Functors = TypeList<ForwardFn<Math>, BackwardFn<Math>>;

  // The math struct for the schema arguments, checked against the dtype they will run in.
  static Math math(const char* op, at::ScalarType dtype, P... params) {
    Math m = Op::make(params...);
    check_params_fit(op, dtype, Op::kParams, params...);
    return m;
  }

  // torch's answer for an integer input, the parameters checked as for any other (make).
  static bool integers(const at::Tensor& self, at::Tensor& out, P... params) {
    if constexpr (kTakesIntegers<Op>) {
      if (is_integer(self)) {
        (void)Op::make(params...);
        out = Op::integers(self, params...);
        return true;
      }
    }
    return false;
  }
  static bool integers_(at::Tensor& self, P... params) {
    at::Tensor out;
    if (!integers(self, out, params...)) return false;
    self.copy_(out);
    return true;
  }

  template <class Backend>
  struct Kernels {
    static at::Tensor forward(const at::Tensor& self, P... params) {
      if (at::Tensor out; integers(self, out, params...)) return out;
      check_floating(Op::kName, "input", self);
      auto fn = ForwardFn<Math>{math(Op::kName, self.scalar_type(), params...)};
      at::Tensor out = output_like(self);
      auto iter = pointwise_iter({out}, {self});
      Backend::run(iter, fn);
      return out;
    }

    static void forward_(at::Tensor& self, P... params) {
      if (integers_(self, params...)) return;
      const std::string& name = op_name<Inplace>();
      check_floating(name.c_str(), "input", self);
      auto fn = ForwardFn<Math>{math(name.c_str(), self.scalar_type(), params...)};
      auto iter = pointwise_iter({self}, {self});
      Backend::run(iter, fn);
    }

    static at::Tensor backward(const at::Tensor& grad, const at::Tensor& saved, P... params) {
      const std::string& name = op_name<Backward>();
      check_backward_args(name, grad, saved);
      auto fn = BackwardFn<Math>{math(name.c_str(), saved.scalar_type(), params...)};
      at::Tensor grad_input = output_like(saved);
      auto iter = pointwise_iter({grad_input}, {grad, saved});
      Backend::run(iter, fn);
      return grad_input;
    }
  };

  // The same checks and allocation, no computation. Sym-size APIs only, so that dynamic
  // shapes stay symbolic.
  struct Meta {
    static at::Tensor forward(const at::Tensor& self, P... params) {
      if (at::Tensor out; integers(self, out, params...)) return out;
      check_floating(Op::kName, "input", self);
      (void)math(Op::kName, self.scalar_type(), params...);
      return at::empty_like(self);
    }
    static void forward_(at::Tensor& self, P... params) {
      if (integers_(self, params...)) return;
      const std::string& name = op_name<Inplace>();
      check_floating(name.c_str(), "input", self);
      (void)math(name.c_str(), self.scalar_type(), params...);
    }
    static at::Tensor backward(const at::Tensor& grad, const at::Tensor& saved, P... params) {
      const std::string& name = op_name<Backward>();
      check_backward_args(name, grad, saved);
      (void)math(name.c_str(), saved.scalar_type(), params...);
      return at::empty_like(saved);
    }
  };

  using Autograd = PointwiseAutograd<Op>;
  using InplaceOrView = PointwiseInplaceOrView<Op>;  // for the in-place op
};

}  // namespace fusedact
