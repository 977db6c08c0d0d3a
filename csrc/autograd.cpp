// Autograd of the fused ops, in C++ so that LibTorch users get gradients too. Registers every
// op of the tables at the Autograd key. A forward call that records builds one FusedNode
// (autograd/node.h) and saves what backward needs:
//   - pointwise ops: the input or the output (whichever the fused <name>_backward op takes);
//     in place, the output, or a copy of the input taken before the op;
//   - channel-parameter ops (prelu, swish with a tensor beta): the input and the parameter; the
//     backward runs the fused input-gradient op and the fused parameter-gradient op, each only
//     when that gradient is wanted;
//   - GLU ops: gate and up (or the input of the split form); the backward is the fused op that
//     writes both gradients;
//   - random-slope ops (rrelu): the output and the seed, from which the fused backward op draws
//     the same slopes again;
//   - softmax and log_softmax: the output;
//   - gated_ffn (a torch::autograd::Function: one call per layer, not per element-wise op): x,
//     the [tokens, 2 * hidden] gate/up projections and the weights; the rest is recomputed in
//     backward (gated_ffn.h), gate/up too when its own gradient is wanted (double backward);
//   - backward ops: the fused kernel when no gradient is wanted, else the same math evaluated
//     with differentiable ATen ops (TensorValue), so double backward works.
#include "autograd/node.h"
#include "autograd/tensor_value.h"
#include "families.h"
#include "gated_ffn.h"

#include <ATen/ExpandUtils.h>
#include <torch/csrc/autograd/VariableTypeUtils.h>
#include <torch/csrc/autograd/custom_function.h>

namespace fusedact {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Upcasts 16-bit tensors for the composite formula, so it too computes in float32.
at::Tensor opmath(const at::Tensor& t) { return at::isReducedFloatingType(t.scalar_type()) ? t.to(at::kFloat) : t; }

// A piecewise-linear formula (relu's where(y <= 0, 0, grad)) depends on the saved tensor only
// through a mask, so autograd sees no edge to it. torch's backward ops keep the edge, with a
// zero derivative, so that a gradient of the gradient exists (and is zero); so do we:
// where(false, saved, result) has result's values and saved in its graph.
at::Tensor connect(const at::Tensor& result, const at::Tensor& saved) {
  if (!saved.requires_grad() || result.requires_grad()) return result;
  return at::where(at::zeros({}, saved.options().dtype(at::kBool)), saved, result);
}

// Whether a backward op must record its own graph (double backward).
bool differentiable(std::initializer_list<at::Tensor> inputs) {
  if (!at::GradMode::is_enabled()) return false;
  for (const auto& t : inputs) {
    if (t.requires_grad()) return true;
  }
  return false;
}

// Forward-mode AD (torch.autograd.forward_ad, torch.func.jvp) has no formulas here: a tangent
// is refused, not dropped.
template <class Forward, class... Inputs>
void refuse_tangents(const Inputs&... inputs) {
  TORCH_CHECK_NOT_IMPLEMENTED(!(torch::autograd::isFwGradDefined(inputs) || ...), "fusedact.", op_name<Forward>(),
                              ": forward-mode automatic differentiation is not supported");
}

// The name of the node whose backward is the given companion op ("fusedact_relu_backward"):
// an identifier, as compiled autograd binds the backward under it.
template <class Backward>
std::string node_name() {
  static const std::string name = "fusedact_" + op_name<Backward>();
  return name;
}

template <size_t N>
using Needs = std::array<bool, N>;
template <size_t N>
using Saved = std::array<at::Tensor, N>;

// An out-of-place forward of op Forward: run() below the autograd key, recorded when one of
// `inputs` requires grad: a node of Grad with edges to them (its params from make_params(),
// made only then) becomes the output's history, and save(node, output) saves what its backward
// takes.
template <class Forward, class Grad, class MakeParams, class Run, class Save, class... Inputs>
at::Tensor recorded(MakeParams make_params, Run run, Save save, const Inputs&... inputs) {
  refuse_tangents<Forward>(inputs...);
  // Nothing to record (no input requires grad): no node, no saved tensor.
  if (!torch::autograd::compute_requires_grad(inputs...)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return run();
  }
  auto node = make_node<Grad>(make_params(), inputs...);
  at::Tensor out;
  {
    at::AutoDispatchBelowADInplaceOrView guard;
    out = run();
  }
  torch::autograd::set_history(out, node);
  save(*node, out);
  node_complete(node);
  return out;
}

}  // namespace

template <class Op, class... P>
struct PointwiseAutograd<Op, c10::guts::typelist::typelist<P...>> {
  using Family = PointwiseFamily<Op>;
  static constexpr bool kSavesOutput = Family::kSavesOutput;

  struct Grad {
    static constexpr size_t kInputs = 1;
    static constexpr std::array kSavedIsOutput{kSavesOutput};
    using Params = std::tuple<kept_t<P>...>;
    static std::string name() { return node_name<typename Family::Backward>(); }
    static variable_list backward(const at::Tensor& grad, Needs<1>, const Saved<1>& saved, const kept_t<P>&... params) {
      return {op<typename Family::Backward>().call(grad, saved[0], params...)};
    }
  };

  static at::Tensor forward(const at::Tensor& self, P... params) {
    return recorded<typename Family::Forward, Grad>(
        [&] { return typename Grad::Params(params...); },
        [&] { return op<typename Family::Forward>().call(self, params...); },
        [&](auto& node, const at::Tensor& out) { node.save(0, kSavesOutput ? out : self); }, self);
  }

  // In place, as torch's own in-place ops: the version counter is bumped by the ADInplaceOrView
  // kernel below, and self's history is rebased onto the node (through CopySlices for a view).
  // Saved: self after the op, or a copy of self taken before it with its autograd history (as
  // torch's silu_ and mish_ keep one), so that double backward reaches self's history.
  static void forward_(at::Tensor& self, P... params) {
    refuse_tangents<typename Family::Inplace>(self);
    const bool requires_grad = torch::autograd::compute_requires_grad(self);
    torch::autograd::check_inplace(self, requires_grad);
    if (!requires_grad) {
      at::AutoDispatchBelowAutograd guard;
      op<typename Family::Inplace>().call(self, params...);
      return;
    }
    auto node = make_node<Grad>(typename Grad::Params(params...), self);
    if constexpr (!kSavesOutput) node->save(0, self.clone());
    {
      at::AutoDispatchBelowAutograd guard;
      op<typename Family::Inplace>().call(self, params...);
    }
    const auto attached = rebase_onto(self, node);
    if constexpr (kSavesOutput) node->save(0, self, self.is_view());
    node_complete(attached);
  }

  static at::Tensor backward(const at::Tensor& grad, const at::Tensor& saved, P... params) {
    if (differentiable({grad, saved})) {
      auto fn = BackwardFn<typename Op::Math>{Op::make(params...)};
      at::Tensor result = fn(TensorValue(opmath(grad)), TensorValue(opmath(saved))).get();
      return connect(result.to(saved.scalar_type()), saved);
    }
    at::AutoDispatchBelowADInplaceOrView guard;
    return op<typename Family::Backward>().call(grad, saved, params...);
  }
};

template <class Op>
struct ChannelParamAutograd {
  using Family = ChannelParamFamily<Op>;
  using Math = typename Op::Math;

  struct Grad {
    static constexpr size_t kInputs = 2;
    static constexpr std::array kSavedIsOutput{false, false};  // the input and the parameter
    using Params = std::tuple<>;
    static std::string name() { return node_name<typename Family::Backward>(); }
    static variable_list backward(const at::Tensor& grad, Needs<2> needs, const Saved<2>& saved) {
      return {needs[0] ? op<typename Family::Backward>().call(grad, saved[0], saved[1]) : at::Tensor(),
              needs[1] ? op<typename Family::ParamBackward>().call(grad, saved[0], saved[1]) : at::Tensor()};
    }
  };

  static at::Tensor forward(const at::Tensor& self, const at::Tensor& param) {
    return recorded<typename Family::Forward, Grad>([] { return typename Grad::Params(); },
                                                    [&] { return op<typename Family::Forward>().call(self, param); },
                                                    [&](auto& node, const at::Tensor&) {
                                                      node.save(0, self);
                                                      node.save(1, param);
                                                    },
                                                    self, param);
  }

  // The backward ops, as composites of differentiable ATen ops when their own gradient is wanted.
  template <class Fn>
  static at::Tensor composite(const at::Tensor& grad, const at::Tensor& self, const at::Tensor& param) {
    const at::Tensor p = Family::broadcast_param(self, param);
    return Fn{}(TensorValue(opmath(grad)), TensorValue(opmath(self)), TensorValue(opmath(p))).get();
  }

  static at::Tensor backward(const at::Tensor& grad, const at::Tensor& self, const at::Tensor& param) {
    if (differentiable({grad, self, param})) {
      return connect(composite<ParamBackwardFn<Math>>(grad, self, param).to(self.scalar_type()), self);
    }
    at::AutoDispatchBelowADInplaceOrView guard;
    return op<typename Family::Backward>().call(grad, self, param);
  }

  static at::Tensor param_backward(const at::Tensor& grad, const at::Tensor& self, const at::Tensor& param) {
    if (differentiable({grad, self, param})) {
      const at::Tensor shares = composite<ParamGradFn<Math>>(grad, self, param);
      const at::Tensor summed = at::sum_to(shares, Family::broadcast_param(self, param).sym_sizes());
      return connect(summed.to(param.scalar_type()).reshape_symint(param.sym_sizes()), self);
    }
    at::AutoDispatchBelowADInplaceOrView guard;
    return op<typename Family::ParamBackward>().call(grad, self, param);
  }
};

template <class Op, class... P>
struct GluAutograd<Op, c10::guts::typelist::typelist<P...>> {
  using Family = GluFamily<Op>;
  using Math = typename Op::Math;

  struct PairGrad {
    static constexpr size_t kInputs = 2;
    static constexpr std::array kSavedIsOutput{false, false};  // gate and up
    using Params = std::tuple<kept_t<P>...>;
    static std::string name() { return node_name<typename Family::Backward>(); }
    static variable_list backward(const at::Tensor& grad, Needs<2> needs, const Saved<2>& saved,
                                  const kept_t<P>&... params) {
      auto [grad_gate, grad_up] = op<typename Family::Backward>().call(grad, saved[0], saved[1], params...);
      return {needs[0] ? grad_gate : at::Tensor(), needs[1] ? grad_up : at::Tensor()};
    }
  };

  struct SplitGrad {
    static constexpr size_t kInputs = 1;
    static constexpr std::array kSavedIsOutput{false};
    using Params = std::tuple<int64_t, kept_t<P>...>;  // dim, then the op's parameters
    static std::string name() { return node_name<typename Family::SplitBackward>(); }
    static variable_list backward(const at::Tensor& grad, Needs<1>, const Saved<1>& saved, int64_t dim,
                                  const kept_t<P>&... params) {
      return {op<typename Family::SplitBackward>().call(grad, saved[0], dim, params...)};
    }
  };

  static at::Tensor forward(const at::Tensor& gate, const at::Tensor& up, P... params) {
    return recorded<typename Family::Forward, PairGrad>(
        [&] { return typename PairGrad::Params(params...); },
        [&] { return op<typename Family::Forward>().call(gate, up, params...); },
        [&](auto& node, const at::Tensor&) {
          node.save(0, gate);
          node.save(1, up);
        },
        gate, up);
  }
  static at::Tensor split(const at::Tensor& self, int64_t dim, P... params) {
    return recorded<typename Family::Split, SplitGrad>(
        [&] { return typename SplitGrad::Params(dim, params...); },
        [&] { return op<typename Family::Split>().call(self, dim, params...); },
        [&](auto& node, const at::Tensor&) { node.save(0, self); }, self);
  }

  // The backward ops, as composites of differentiable ATen ops when their own gradient is wanted.
  static std::tuple<at::Tensor, at::Tensor> composite(const at::Tensor& grad, const at::Tensor& gate,
                                                      const at::Tensor& up, P... params) {
    const auto fn = GatedBackwardFn<Math>{Family::make(params...)};
    const auto result = fn(TensorValue(opmath(grad)), TensorValue(opmath(gate)), TensorValue(opmath(up)));
    return {connect(result.first.get().to(gate.scalar_type()), gate),
            connect(result.second.get().to(up.scalar_type()), gate)};
  }

  static std::tuple<at::Tensor, at::Tensor> backward(const at::Tensor& grad, const at::Tensor& gate,
                                                     const at::Tensor& up, P... params) {
    if (differentiable({grad, gate, up})) return composite(grad, gate, up, params...);
    at::AutoDispatchBelowADInplaceOrView guard;
    return op<typename Family::Backward>().call(grad, gate, up, params...);
  }

  static at::Tensor split_backward(const at::Tensor& grad, const at::Tensor& self, int64_t dim, P... params) {
    if (differentiable({grad, self})) {
      const auto [gate, up] = Family::halves(op_name<typename Family::SplitBackward>(), self, dim);
      const auto [grad_gate, grad_up] = composite(grad, gate, up, params...);
      return at::cat({grad_gate, grad_up}, at::maybe_wrap_dim(dim, self.dim()));
    }
    at::AutoDispatchBelowADInplaceOrView guard;
    return op<typename Family::SplitBackward>().call(grad, self, dim, params...);
  }
};

template <class Op, class... P>
struct RandomSlopeAutograd<Op, c10::guts::typelist::typelist<P...>> {
  using Family = RandomSlopeFamily<Op>;
  using Seed = typename Family::Seed;

  // Saved: the output and the seed (undefined in eval), from which backward draws the same slopes.
  struct Grad {
    static constexpr size_t kInputs = 1;
    static constexpr std::array kSavedIsOutput{true, false};
    using Params = std::tuple<kept_t<P>...>;
    static std::string name() { return node_name<typename Family::Backward>(); }
    static variable_list backward(const at::Tensor& grad, Needs<1>, const Saved<2>& saved, const kept_t<P>&... params) {
      const std::optional<at::Tensor> seed = saved[1].defined() ? std::optional(saved[1]) : std::nullopt;
      return {op<typename Family::Backward>().call(grad, saved[0], seed, params...)};
    }
  };

  static at::Tensor forward(const at::Tensor& self, Seed seed, P... params) {
    return recorded<typename Family::Forward, Grad>(
        [&] { return typename Grad::Params(params...); },
        [&] { return op<typename Family::Forward>().call(self, seed, params...); },
        [&](auto& node, const at::Tensor& out) {
          node.save(0, out);
          node.save(1, seed.value_or(at::Tensor()));
        },
        self);
  }

  static void forward_(at::Tensor& self, Seed seed, P... params) {
    refuse_tangents<typename Family::Inplace>(self);
    const bool requires_grad = torch::autograd::compute_requires_grad(self);
    torch::autograd::check_inplace(self, requires_grad);
    if (!requires_grad) {
      at::AutoDispatchBelowAutograd guard;
      op<typename Family::Inplace>().call(self, seed, params...);
      return;
    }
    auto node = make_node<Grad>(typename Grad::Params(params...), self);
    {
      at::AutoDispatchBelowAutograd guard;
      op<typename Family::Inplace>().call(self, seed, params...);
    }
    const auto attached = rebase_onto(self, node);
    node->save(0, self, self.is_view());
    node->save(1, seed.value_or(at::Tensor()));
    node_complete(attached);
  }

  // Linear in grad_output: as a composite, grad_output times the slopes (the fused op's
  // answer for a gradient of ones, in the compute type), when its own gradient is wanted.
  static at::Tensor backward(const at::Tensor& grad, const at::Tensor& output, Seed seed, P... params) {
    if (differentiable({grad, output})) {
      at::Tensor slopes;
      {
        at::AutoDispatchBelowADInplaceOrView guard;
        const at::Tensor y = opmath(output).detach();
        slopes = op<typename Family::Backward>().call(at::ones_like(y), y, seed, params...);
      }
      return connect((opmath(grad) * slopes).to(output.scalar_type()), output);
    }
    at::AutoDispatchBelowADInplaceOrView guard;
    return op<typename Family::Backward>().call(grad, output, seed, params...);
  }
};

template <class Op>
struct SoftmaxAutograd {
  using Family = SoftmaxFamily<Op>;

  // Saved: the output. half_to_float: the gradient, computed in the output's float32, goes
  // back in the input's dtype.
  struct Grad {
    static constexpr size_t kInputs = 1;
    static constexpr std::array kSavedIsOutput{true};
    using Params = std::tuple<int64_t, c10::ScalarType>;  // dim, the input's dtype
    static std::string name() { return node_name<typename Family::Backward>(); }
    static variable_list backward(const at::Tensor& grad, Needs<1>, const Saved<1>& saved, int64_t dim,
                                  c10::ScalarType input_dtype) {
      return {op<typename Family::Backward>().call(grad, saved[0], dim).to(input_dtype)};
    }
  };

  static at::Tensor forward(const at::Tensor& self, int64_t dim, bool half_to_float) {
    return recorded<typename Family::Forward, Grad>(
        [&] { return typename Grad::Params(dim, self.scalar_type()); },
        [&] { return op<typename Family::Forward>().call(self, dim, half_to_float); },
        [](auto& node, const at::Tensor& out) { node.save(0, out); }, self);
  }

  // As a composite of differentiable ATen ops when its own gradient is wanted.
  static at::Tensor backward(const at::Tensor& grad, const at::Tensor& output, int64_t dim) {
    if (differentiable({grad, output})) {
      const typename Op::Math math;
      const TensorValue g(opmath(grad)), y(opmath(output));
      const at::Tensor total = math.backward_term(g, y).get().sum(dim, /*keepdim=*/true);
      return connect(math.backward(g, y, TensorValue(total)).get().to(output.scalar_type()), output);
    }
    at::AutoDispatchBelowADInplaceOrView guard;
    return op<typename Family::Backward>().call(grad, output, dim);
  }
};

namespace {

struct GatedFfnAutograd : torch::autograd::Function<GatedFfnAutograd> {
  static constexpr bool is_traceable = true;

  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w_gate, const at::Tensor& w_up,
                            const at::Tensor& w_down, const std::optional<at::Tensor>& b_gate,
                            const std::optional<at::Tensor>& b_up, const std::optional<at::Tensor>& b_down,
                            const std::string& activation) {
    at::AutoDispatchBelowADInplaceOrView guard;
    const GatedFfn::Activation act = GatedFfn::activation(activation);
    const GatedFfn::Weights w{w_gate,
                              w_up,
                              w_down,
                              b_gate.value_or(at::Tensor()),
                              b_up.value_or(at::Tensor()),
                              b_down.value_or(at::Tensor())};
    GatedFfn::check(x, w);
    const at::Tensor gate_up = GatedFfn::gate_up(GatedFfn::flatten(x), w);
    ctx->save_for_backward({x, gate_up, w_gate, w_up, w_down, w.b_gate, w.b_up});
    ctx->saved_data["has_bias"] = std::vector<bool>{w.b_gate.defined(), w.b_up.defined(), w.b_down.defined()};
    ctx->saved_data["activation"] = activation;
    return GatedFfn::output(x, gate_up, w, act);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const GatedFfn::Weights w{saved[2], saved[3], saved[4], saved[5], saved[6], {}};
    // needs_input_grad counts the inputs that are tensors: the four, then the biases given.
    const auto has_bias = ctx->saved_data["has_bias"].toBoolList();
    std::array<bool, 7> needs{};
    for (size_t i = 0, edge = 0; i < needs.size(); ++i) {
      if (i < 4 || has_bias.get(i - 4)) needs[i] = ctx->needs_input_grad(edge++);
    }
    // For double backward, gate_up again, this time in the graph (forward made it below autograd).
    const at::Tensor gate_up =
        at::GradMode::is_enabled() ? GatedFfn::gate_up(GatedFfn::flatten(saved[0]), w) : saved[1];
    const auto act = GatedFfn::activation(ctx->saved_data["activation"].toStringRef());
    const auto g = GatedFfn::backward(grads[0], saved[0], gate_up, w, act, needs);
    return {g.x, g.w_gate, g.w_up, g.w_down, g.b_gate, g.b_up, g.b_down, {}};
  }

  static at::Tensor call(const at::Tensor& x, const at::Tensor& w_gate, const at::Tensor& w_up,
                         const at::Tensor& w_down, const std::optional<at::Tensor>& b_gate,
                         const std::optional<at::Tensor>& b_up, const std::optional<at::Tensor>& b_down,
                         c10::string_view activation) {
    if (!torch::autograd::compute_requires_grad(x, w_gate, w_up, w_down, b_gate, b_up, b_down)) {
      // Nothing to record: the operator itself, so that a tensor subclass (DTensor) sees it whole.
      at::AutoDispatchBelowADInplaceOrView guard;
      return GatedFfn::op().call(x, w_gate, w_up, w_down, b_gate, b_up, b_down, activation);
    }
    return apply(x, w_gate, w_up, w_down, b_gate, b_up, b_down, std::string(activation));
  }
};

}  // namespace

TORCH_LIBRARY_IMPL(fusedact, Autograd, m) {
  register_impls<AutogradOf, /*kEveryOp=*/true>(m, AllFamilies{});
  m.impl(GatedFfn::kName, &GatedFfnAutograd::call);
}

}  // namespace fusedact
