// Device-generic machinery of the GLU ops (ops.h: swiglu, geglu, reglu): argument checks and
// the forward / backward implementations of both forms, shared by every backend. The split
// form takes the gate and up halves as strided views of its input, and its backward writes
// both gradients into the halves of one buffer; either way each pass is one element-wise
// kernel (Backend::run over a TensorIterator with the halves as operands).
#pragma once

#include "pointwise.h"

#include <ATen/WrapDimUtils.h>

#include <tuple>

namespace fusedact {

template <class Op, class Params = ParamsOf<typename Op::Activation>>
struct Gated;

template <class Op, class... P>
struct Gated<Op, c10::guts::typelist::typelist<P...>> {
  using Math = typename Op::Math;

  static Math make(P... params) { return {Op::Activation::make(params...)}; }
  // make, with the parameters checked against the dtype they will run in.
  static Math math(const char* op, at::ScalarType dtype, P... params) {
    check_params_fit(op, dtype, params...);
    return make(params...);
  }

  // Dispatcher handles, for autograd and the C++ API.
  static const auto& forward_op() {
    static const auto op = find_op<at::Tensor(const at::Tensor&, const at::Tensor&, P...)>(Op::kName);
    return op;
  }
  static const auto& backward_op() {
    static const auto op =
        find_op<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&, const at::Tensor&, P...)>(
            backward_name<Op>());
    return op;
  }
  static const auto& split_op() {
    static const auto op = find_op<at::Tensor(const at::Tensor&, int64_t, P...)>(split_name<Op>());
    return op;
  }
  static const auto& split_backward_op() {
    static const auto op =
        find_op<at::Tensor(const at::Tensor&, const at::Tensor&, int64_t, P...)>(split_backward_name<Op>());
    return op;
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
                "; the split form takes the gate from its first half and up from its second");
    const c10::SymInt half = size / 2;
    return {self.narrow_symint(d, 0, half), self.narrow_symint(d, half, half)};
  }

  template <class Backend>
  static at::Tensor forward(const at::Tensor& gate, const at::Tensor& up, P... params) {
    check_pair(Op::kName, gate, up);
    at::Tensor out = at::empty_like(gate);
    auto iter = pointwise_iter({out}, {gate, up});
    Backend::run(iter, BinaryForwardFn<Math>{math(Op::kName, gate.scalar_type(), params...)});
    return out;
  }

  template <class Backend>
  static std::tuple<at::Tensor, at::Tensor> backward(const at::Tensor& grad, const at::Tensor& gate,
                                                     const at::Tensor& up, P... params) {
    check_pair(backward_name<Op>(), gate, up);
    check_backward_args(backward_name<Op>(), grad, gate);
    at::Tensor grad_gate = at::empty_like(gate), grad_up = at::empty_like(up);
    auto iter = pointwise_iter({grad_gate, grad_up}, {grad, gate, up});
    Backend::run(iter, GatedBackwardFn<Math>{math(backward_name<Op>().c_str(), gate.scalar_type(), params...)});
    return {grad_gate, grad_up};
  }

  template <class Backend>
  static at::Tensor split(const at::Tensor& self, int64_t dim, P... params) {
    const auto [gate, up] = halves(split_name<Op>(), self, dim);
    at::Tensor out = at::empty_like(gate);
    auto iter = pointwise_iter({out}, {gate, up});
    Backend::run(iter, BinaryForwardFn<Math>{math(split_name<Op>().c_str(), self.scalar_type(), params...)});
    return out;
  }

  // The gradient of self: both halves written by one kernel into one buffer.
  template <class Backend>
  static at::Tensor split_backward(const at::Tensor& grad, const at::Tensor& self, int64_t dim, P... params) {
    const auto [gate, up] = halves(split_backward_name<Op>(), self, dim);
    check_backward_args(split_backward_name<Op>(), grad, gate);
    at::Tensor grad_self = at::empty_like(self);
    const auto [grad_gate, grad_up] = halves(split_backward_name<Op>(), grad_self, dim);
    auto iter = pointwise_iter({grad_gate, grad_up}, {grad, gate, up});
    Backend::run(iter, GatedBackwardFn<Math>{math(split_backward_name<Op>().c_str(), self.scalar_type(), params...)});
    return grad_self;
  }

  // Meta kernels: the same checks and allocation, no computation.
  static at::Tensor forward_meta(const at::Tensor& gate, const at::Tensor& up, P... params) {
    check_pair(Op::kName, gate, up);
    (void)math(Op::kName, gate.scalar_type(), params...);
    return at::empty_like(gate);
  }
  static std::tuple<at::Tensor, at::Tensor> backward_meta(const at::Tensor& grad, const at::Tensor& gate,
                                                          const at::Tensor& up, P... params) {
    check_pair(backward_name<Op>(), gate, up);
    check_backward_args(backward_name<Op>(), grad, gate);
    (void)math(backward_name<Op>().c_str(), gate.scalar_type(), params...);
    return {at::empty_like(gate), at::empty_like(up)};
  }
  static at::Tensor split_meta(const at::Tensor& self, int64_t dim, P... params) {
    (void)math(split_name<Op>().c_str(), self.scalar_type(), params...);
    return at::empty_like(std::get<0>(halves(split_name<Op>(), self, dim)));
  }
  static at::Tensor split_backward_meta(const at::Tensor& grad, const at::Tensor& self, int64_t dim, P... params) {
    check_backward_args(split_backward_name<Op>(), grad, std::get<0>(halves(split_backward_name<Op>(), self, dim)));
    (void)math(split_backward_name<Op>().c_str(), self.scalar_type(), params...);
    return at::empty_like(self);
  }
};

// Registers every GLU op with the kernels of one backend.
template <class Backend>
void register_gated_kernels(torch::Library& m) {
  for_each_type(GatedOps{}, [&](auto op) {
    using Op = decltype(op);
    using Impl = Gated<Op>;
    m.impl(Op::kName, &Impl::template forward<Backend>);
    m.impl(backward_name<Op>().c_str(), &Impl::template backward<Backend>);
    m.impl(split_name<Op>().c_str(), &Impl::template split<Backend>);
    m.impl(split_backward_name<Op>().c_str(), &Impl::template split_backward<Backend>);
  });
}

}  // namespace fusedact
