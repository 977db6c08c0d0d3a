// gated_ffn's forward and backward (gated_ffn.h), and its kernel for every backend: the
// same ATen GEMMs and fused split GLU ops run on CPU, CUDA and Meta, so it is registered at the
// CompositeExplicitAutograd key (its autograd is in autograd.cpp).
#include "gated_ffn.h"

#include <torch/library.h>

#include <array>
#include <type_traits>
#include <vector>

namespace fusedact {
namespace {

// f(std::type_identity<Op>{}, params...): the GLU entry (ops.h) of act and its parameters.
template <class F>
decltype(auto) with_glu(GatedFfn::Activation act, F&& f) {
  using A = GatedFfn::Activation;
  switch (act) {
    case A::kSilu:
      return f(std::type_identity<SwigluOp>{});
    case A::kGelu:
      return f(std::type_identity<GegluOp>{}, c10::string_view("none"));
    case A::kGeluTanh:
      return f(std::type_identity<GegluOp>{}, c10::string_view("tanh"));
    case A::kRelu:
      return f(std::type_identity<RegluOp>{});
    case A::kQuickGelu:
      return f(std::type_identity<QuickGeluGluOp>{});
  }
  TORCH_INTERNAL_ASSERT(false, "fusedact.gated_ffn: unknown activation");
}

std::vector<c10::SymInt> with_last(const at::Tensor& x, const c10::SymInt& last) {
  std::vector<c10::SymInt> shape(x.sym_sizes().begin(), x.sym_sizes().end());
  shape.back() = last;
  return shape;
}

void check_like_x(const at::Tensor& x, const char* name, const at::Tensor& t) {
  check_floating(GatedFfn::kName, name, t);
  TORCH_CHECK(t.scalar_type() == x.scalar_type(), "fusedact.gated_ffn: ", name, " is ", t.scalar_type(), " but x is ",
              x.scalar_type());
  TORCH_CHECK(t.device() == x.device(), "fusedact.gated_ffn: ", name, " is on ", t.device(), " but x is on ",
              x.device());
}

void check_bias(const at::Tensor& bias, const char* name, const c10::SymInt& size, const char* of) {
  if (!bias.defined()) return;
  TORCH_CHECK(bias.dim() == 1 && bias.sym_size(0) == size, "fusedact.gated_ffn: ", name, " has shape ",
              bias.sym_sizes(), "; expected [", size, "], the ", of, " size");
}

// The halves of a [tokens, 2 * hidden] buffer.
at::Tensor gate_half(const at::Tensor& t, const c10::SymInt& hidden) { return t.narrow_symint(-1, 0, hidden); }
at::Tensor up_half(const at::Tensor& t, const c10::SymInt& hidden) { return t.narrow_symint(-1, hidden, hidden); }

// a and b, known to be packed halves, as one tensor twice a's first dim.
at::Tensor both_halves(const at::Tensor& a) {
  std::vector<c10::SymInt> sizes(a.sym_sizes().begin(), a.sym_sizes().end());
  sizes[0] *= 2;
  return a.as_strided_symint(sizes, a.sym_strides(), a.sym_storage_offset());
}

}  // namespace

void GatedFfn::check(const at::Tensor& x, const Weights& w) {
  check_floating(kName, "x", x);
  TORCH_CHECK(x.dim() >= 1, "fusedact.gated_ffn: x must have at least one dim (its features), got a 0-D tensor");
  for (const auto& [name, t] : {std::pair{"w_gate", w.w_gate},
                                {"w_up", w.w_up},
                                {"w_down", w.w_down},
                                {"b_gate", w.b_gate},
                                {"b_up", w.b_up},
                                {"b_down", w.b_down}}) {
    if (t.defined()) check_like_x(x, name, t);
  }
  const c10::SymInt in = x.sym_size(-1);
  TORCH_CHECK(w.w_gate.dim() == 2 && w.w_gate.sym_size(1) == in, "fusedact.gated_ffn: w_gate has shape ",
              w.w_gate.sym_sizes(), " but x has ", in, " features; expected [hidden, ", in,
              "] (as nn.Linear stores it)");
  const c10::SymInt hidden = w.w_gate.sym_size(0);
  TORCH_CHECK(w.w_up.sym_sizes() == w.w_gate.sym_sizes(), "fusedact.gated_ffn: w_up has shape ", w.w_up.sym_sizes(),
              " but w_gate has shape ", w.w_gate.sym_sizes());
  TORCH_CHECK(w.w_down.dim() == 2 && w.w_down.sym_size(1) == hidden, "fusedact.gated_ffn: w_down has shape ",
              w.w_down.sym_sizes(), "; expected [out, ", hidden, "], the hidden size of w_gate");
  check_bias(w.b_gate, "b_gate", hidden, "hidden");
  check_bias(w.b_up, "b_up", hidden, "hidden");
  check_bias(w.b_down, "b_down", w.w_down.sym_size(0), "out");
}

GatedFfn::Activation GatedFfn::activation(c10::string_view name) {
  if (name == "silu") return Activation::kSilu;
  if (name == "gelu") return Activation::kGelu;
  if (name == "gelu_tanh") return Activation::kGeluTanh;
  if (name == "relu") return Activation::kRelu;
  if (name == "quick_gelu") return Activation::kQuickGelu;
  TORCH_CHECK(false,
              "fusedact.gated_ffn: activation must be 'silu', 'gelu', 'gelu_tanh', 'relu' or 'quick_gelu', got '", name,
              "'");
}

at::Tensor GatedFfn::gated(const at::Tensor& gate_up, Activation act) {
  return with_glu(act, [&]<class Op>(std::type_identity<Op>, auto... params) {
    return fusedact::op<typename GluFamily<Op>::Split>().call(gate_up, -1, params...);
  });
}

at::Tensor GatedFfn::gated_backward(const at::Tensor& grad_hidden, const at::Tensor& gate_up, Activation act) {
  return with_glu(act, [&]<class Op>(std::type_identity<Op>, auto... params) {
    return fusedact::op<typename GluFamily<Op>::SplitBackward>().call(grad_hidden, gate_up, -1, params...);
  });
}

bool GatedFfn::packed(const at::Tensor& a, const at::Tensor& b) {
  return a.defined() && b.defined() && a.has_storage() && b.has_storage() && a.is_contiguous() && b.is_contiguous() &&
         a.storage().is_alias_of(b.storage()) && b.sym_storage_offset() == a.sym_storage_offset() + a.sym_numel();
}

at::Tensor GatedFfn::gate_up(const at::Tensor& x2d, const Weights& w) {
  const c10::SymInt hidden = w.w_gate.sym_size(0);
  auto project = [&](const at::Tensor& weight, const at::Tensor& bias) {
    return bias.defined() ? at::addmm(bias, x2d, weight.t()) : at::mm(x2d, weight.t());
  };
  if (packed(w.w_gate, w.w_up)) {
    const at::Tensor weight = both_halves(w.w_gate);
    const at::Tensor bias = !w.b_gate.defined()        ? at::Tensor()
                            : packed(w.b_gate, w.b_up) ? both_halves(w.b_gate)
                                                       : at::cat({w.b_gate, w.b_up});
    return project(weight, bias);
  }
  const bool recorded =
      at::GradMode::is_enabled() &&
      (x2d.requires_grad() || w.w_gate.requires_grad() || w.w_up.requires_grad() ||
       (w.b_gate.defined() && w.b_gate.requires_grad()) || (w.b_up.defined() && w.b_up.requires_grad()));
  // A tensor subclass (DTensor) runs each ATen op itself and has no say in a plain buffer
  // written through out=.
  const bool subclass = x2d.key_set().has(c10::DispatchKey::Python);
  if (recorded || subclass) {  // for double backward: out= ops are not differentiable
    return at::cat({project(w.w_gate, w.b_gate), project(w.w_up, w.b_up)}, -1);
  }
  at::Tensor out = at::empty_symint({x2d.sym_size(0), 2 * hidden}, x2d.options());
  for (auto [half, weight, bias] :
       {std::tuple{gate_half(out, hidden), w.w_gate, w.b_gate}, std::tuple{up_half(out, hidden), w.w_up, w.b_up}}) {
    if (bias.defined()) {
      at::addmm_out(half, bias, x2d, weight.t());
    } else {
      at::mm_out(half, x2d, weight.t());
    }
  }
  return out;
}

at::Tensor GatedFfn::output(const at::Tensor& x, const at::Tensor& gate_up, const Weights& w, Activation act) {
  const at::Tensor h = gated(gate_up, act);
  const at::Tensor out = w.b_down.defined() ? at::addmm(w.b_down, h, w.w_down.t()) : at::mm(h, w.w_down.t());
  return out.view_symint(with_last(x, w.w_down.sym_size(0)));
}

at::Tensor GatedFfn::forward(const at::Tensor& x, const at::Tensor& w_gate, const at::Tensor& w_up,
                             const at::Tensor& w_down, const std::optional<at::Tensor>& b_gate,
                             const std::optional<at::Tensor>& b_up, const std::optional<at::Tensor>& b_down,
                             c10::string_view activation) {
  const Weights w{
      w_gate, w_up, w_down, b_gate.value_or(at::Tensor()), b_up.value_or(at::Tensor()), b_down.value_or(at::Tensor())};
  const Activation act = GatedFfn::activation(activation);
  check(x, w);
  return output(x, gate_up(flatten(x), w), w, act);
}

GatedFfn::Grads GatedFfn::backward(const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& gate_up,
                                   const Weights& w, Activation act, const std::array<bool, 7>& needs) {
  const auto [need_x, need_w_gate, need_w_up, need_w_down, need_b_gate, need_b_up, need_b_down] = needs;
  const c10::SymInt hidden = w.w_gate.sym_size(0);
  const at::Tensor grad2d = flatten(grad_out);
  Grads grads;
  if (need_w_down) grads.w_down = at::mm(grad2d.t(), gated(gate_up, act));  // recomputed
  if (need_b_down) grads.b_down = grad2d.sum(0);
  if (!(need_x || need_w_gate || need_w_up || need_b_gate || need_b_up)) return grads;

  // One fused kernel: the hidden gradient into the gate and up gradients, side by side.
  const at::Tensor grad_gate_up = gated_backward(at::mm(grad2d, w.w_down), gate_up, act);
  const at::Tensor grad_gate = gate_half(grad_gate_up, hidden), grad_up = up_half(grad_gate_up, hidden);
  const bool packed_weights = packed(w.w_gate, w.w_up);
  const at::Tensor x2d = flatten(x);
  if (need_x) {
    const at::Tensor grad_x = packed_weights ? at::mm(grad_gate_up, both_halves(w.w_gate))
                                             : at::addmm(at::mm(grad_gate, w.w_gate), grad_up, w.w_up);
    grads.x = grad_x.view_symint(x.sym_sizes());
  }
  if (packed_weights && need_w_gate && need_w_up) {
    const at::Tensor grad_weights = at::mm(grad_gate_up.t(), x2d);
    grads.w_gate = gate_half(grad_weights.t(), hidden).t();
    grads.w_up = up_half(grad_weights.t(), hidden).t();
  } else {
    if (need_w_gate) grads.w_gate = at::mm(grad_gate.t(), x2d);
    if (need_w_up) grads.w_up = at::mm(grad_up.t(), x2d);
  }
  if (need_b_gate) grads.b_gate = grad_gate.sum(0);
  if (need_b_up) grads.b_up = grad_up.sum(0);
  return grads;
}

TORCH_LIBRARY_IMPL(fusedact, CompositeExplicitAutograd, m) { m.impl(GatedFfn::kName, &GatedFfn::forward); }

}  // namespace fusedact
