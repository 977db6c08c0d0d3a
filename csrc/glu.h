// The GLU family (ops.h: GluOps: swiglu, geglu, reglu, relu_squared_glu, quick_gelu_glu, glu,
// clamped_swiglu):
// act(gate) * up, with the activation's parameters, as two tensors or as the halves of one
// along dim:
//   <name>(Tensor gate, Tensor up, <params>) -> Tensor
//   <name>_backward(Tensor grad_output, Tensor gate, Tensor up, <params>) -> (Tensor, Tensor)
//   <name>_split(Tensor self, int dim=-1, <params>) -> Tensor
//   <name>_split_backward(Tensor grad_output, Tensor self, int dim, <params>) -> Tensor
// Kernels shared by every backend. The split form takes the gate and up halves as strided
// views of its input, and its backward writes both gradients into the halves of one buffer;
// either way each pass is one element-wise kernel (Backend::run over a TensorIterator with
// the halves as operands).
#pragma once

#include "pointwise.h"

#include <ATen/WrapDimUtils.h>

#include <tuple>

namespace fusedact {

template <class Op, class Params = ParamTypes<Op>>
struct GluAutograd;  // autograd.cpp

template <class Op, class Params = ParamTypes<Op>>
struct GluFamily;

template <class Op, class... P>
struct GluFamily<Op, c10::guts::typelist::typelist<P...>> {
  using Entry = Op;
  using Math = typename Op::Math;

  struct Forward {
    using Family = GluFamily;
    static std::string suffix() { return ""; }
    static std::string schema() { return "(Tensor gate, Tensor up" + schema_params(Op::kParams) + ") -> Tensor"; }
    template <class Impl>
    static constexpr auto impl() -> decltype(&Impl::forward) {
      return &Impl::forward;
    }
  };
  struct Backward {
    using Family = GluFamily;
    static std::string suffix() { return "_backward"; }
    static std::string schema() {
      return "(Tensor grad_output, Tensor gate, Tensor up" + schema_params(Op::kParams) + ") -> (Tensor, Tensor)";
    }
    template <class Impl>
    static constexpr auto impl() -> decltype(&Impl::backward) {
      return &Impl::backward;
    }
  };
  struct Split {
    using Family = GluFamily;
    static std::string suffix() { return "_split"; }
    static std::string schema() { return "(Tensor self, int dim=-1" + schema_params(Op::kParams) + ") -> Tensor"; }
    template <class Impl>
    static constexpr auto impl() -> decltype(&Impl::split) {
      return &Impl::split;
    }
  };
  struct SplitBackward {
    using Family = GluFamily;
    static std::string suffix() { return "_split_backward"; }
    static std::string schema() {
      return "(Tensor grad_output, Tensor self, int dim" + schema_params(Op::kParams) + ") -> Tensor";
    }
    template <class Impl>
    static constexpr auto impl() -> decltype(&Impl::split_backward) {
      return &Impl::split_backward;
    }
  };
  using Ops = TypeList<Forward, Backward, Split, SplitBackward>;

  using Functors = TypeList<BinaryForwardFn<Math>, GatedBackwardFn<Math>>;

  static Math make(P... params) { return Op::make(params...); }
  // make, with the parameters checked against the dtype they will run in.
  static Math math(const char* op, at::ScalarType dtype, P... params) {
    Math m = make(params...);
    check_params_fit(op, dtype, Op::kParams, params...);
    return m;
  }

  // gate and up: floating, of one shape, dtype and device.
  static void check_pair(const std::string& op, const at::Tensor& gate, const at::Tensor& up) {
    check_floating(op.c_str(), "gate", gate);
    check_floating(op.c_str(), "up", up);
    TORCH_CHECK(gate.sym_sizes() == up.sym_sizes(), "fusedact.", op, ": gate has shape ", gate.sym_sizes(),
                " but up has shape ", up.sym_sizes());
    TORCH_CHECK(gate.scalar_type() == up.scalar_type(), "fusedact.", op, ": gate is ", gate.scalar_type(),
                " but up is ", up.scalar_type());
    TORCH_CHECK(gate.device() == up.device(), "fusedact.", op, ": gate is on ", gate.device(), " but up is on ",
                up.device());
  }

  // The gate and up halves of self along dim (checked: floating, an even size there).
  static std::tuple<at::Tensor, at::Tensor> halves(const std::string& op, const at::Tensor& self, int64_t dim) {
    check_floating(op.c_str(), "input", self);
    TORCH_CHECK(self.dim() > 0, "fusedact.", op, ": the split form needs an input with a dim to split, got a 0-D one");
    const int64_t d = at::maybe_wrap_dim(dim, self.dim());
    const c10::SymInt size = self.sym_size(d);
    TORCH_CHECK(size % 2 == 0, "fusedact.", op, ": dim ", dim, " has odd size ", size,
                Op::kGateSecond ? "; the split form takes up from its first half and the gate from its second"
                                : "; the split form takes the gate from its first half and up from its second");
    const c10::SymInt half = size / 2;
    at::Tensor first = self.narrow_symint(d, 0, half), second = self.narrow_symint(d, half, half);
    if constexpr (Op::kGateSecond) return {second, first};
    return {first, second};
  }

  template <class Backend>
  struct Kernels {
    static at::Tensor forward(const at::Tensor& gate, const at::Tensor& up, P... params) {
      check_pair(Op::kName, gate, up);
      at::Tensor out = output_like(gate);
      auto iter = pointwise_iter({out}, {gate, up});
      Backend::run(iter, BinaryForwardFn<Math>{math(Op::kName, gate.scalar_type(), params...)});
      return out;
    }

    static std::tuple<at::Tensor, at::Tensor> backward(const at::Tensor& grad, const at::Tensor& gate,
                                                       const at::Tensor& up, P... params) {
      check_pair(op_name<Backward>(), gate, up);
      check_backward_args(op_name<Backward>(), grad, gate);
      at::Tensor grad_gate = output_like(gate), grad_up = output_like(up);
      auto iter = pointwise_iter({grad_gate, grad_up}, {grad, gate, up});
      Backend::run(iter, GatedBackwardFn<Math>{math(op_name<Backward>().c_str(), gate.scalar_type(), params...)});
      return {grad_gate, grad_up};
    }

    static at::Tensor split(const at::Tensor& self, int64_t dim, P... params) {
      const auto [gate, up] = halves(op_name<Split>(), self, dim);
      at::Tensor out = output_like(gate);
      auto iter = pointwise_iter({out}, {gate, up});
      Backend::run(iter, BinaryForwardFn<Math>{math(op_name<Split>().c_str(), self.scalar_type(), params...)});
      return out;
    }

    // The gradient of self: both halves written by one kernel into one buffer.
    static at::Tensor split_backward(const at::Tensor& grad, const at::Tensor& self, int64_t dim, P... params) {
      const auto [gate, up] = halves(op_name<SplitBackward>(), self, dim);
      check_backward_args(op_name<SplitBackward>(), grad, gate);
      at::Tensor grad_self = output_like(self);
      const auto [grad_gate, grad_up] = halves(op_name<SplitBackward>(), grad_self, dim);
      auto iter = pointwise_iter({grad_gate, grad_up}, {grad, gate, up});
      Backend::run(iter, GatedBackwardFn<Math>{math(op_name<SplitBackward>().c_str(), self.scalar_type(), params...)});
      return grad_self;
    }
  };

  // The same checks and allocation, no computation.
  struct Meta {
    static at::Tensor forward(const at::Tensor& gate, const at::Tensor& up, P... params) {
      check_pair(Op::kName, gate, up);
      (void)math(Op::kName, gate.scalar_type(), params...);
      return at::empty_like(gate);
    }
    static std::tuple<at::Tensor, at::Tensor> backward(const at::Tensor& grad, const at::Tensor& gate,
                                                       const at::Tensor& up, P... params) {
      check_pair(op_name<Backward>(), gate, up);
      check_backward_args(op_name<Backward>(), grad, gate);
      (void)math(op_name<Backward>().c_str(), gate.scalar_type(), params...);
      return {at::empty_like(gate), at::empty_like(up)};
    }
    static at::Tensor split(const at::Tensor& self, int64_t dim, P... params) {
      (void)math(op_name<Split>().c_str(), self.scalar_type(), params...);
      return at::empty_like(std::get<0>(halves(op_name<Split>(), self, dim)));
    }
    static at::Tensor split_backward(const at::Tensor& grad, const at::Tensor& self, int64_t dim, P... params) {
      check_backward_args(op_name<SplitBackward>(), grad, std::get<0>(halves(op_name<SplitBackward>(), self, dim)));
      (void)math(op_name<SplitBackward>().c_str(), self.scalar_type(), params...);
      return at::empty_like(self);
    }
  };

  using Autograd = GluAutograd<Op>;
};

}  // namespace fusedact
