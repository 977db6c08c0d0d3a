// Autograd of the pointwise and channel-parameter ops, in C++ so that LibTorch users get
// gradients too. Registers every op of the tables at the Autograd key:
//   - forward and in-place ops: a torch::autograd::Function that runs the op below
//     autograd, saves the input or the output (whichever backward needs), and whose
//     backward is the fused <name>_backward op;
//   - channel-parameter ops (prelu, swish with a tensor beta): a Function that saves the
//     input and the parameter; its backward runs the fused input-gradient op and the fused
//     parameter-gradient op, each only when that gradient is wanted;
//   - GLU ops: a Function that saves gate and up (or the input of the split form); its
//     backward is the fused op that writes both gradients;
//   - random-slope ops (rrelu): a Function that saves the output and the seed, whose backward
//     is the fused backward op, which draws the same slopes again;
//   - softmax and log_softmax: a Function that saves the output; its backward is the fused
//     backward op;
//   - gated_ffn: a Function that saves x, the [tokens, 2 * hidden] gate/up projections and
//     the weights, and recomputes the rest in backward (gated_ffn.h), gate/up too when its
//     own gradient is wanted (double backward);
//   - backward ops: the fused kernel when no gradient is wanted, else the same math
//     evaluated with differentiable ATen ops (TensorValue), so double backward works.
#include "autograd/tensor_value.h"
#include "families.h"
#include "gated_ffn.h"

#include <ATen/ExpandUtils.h>
#include <ATen/core/ivalue.h>
#include <torch/csrc/autograd/VariableTypeUtils.h>
#include <torch/csrc/autograd/custom_function.h>

namespace fusedact {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Schema arguments travel from forward to backward as an IValue tuple in saved_data; an op
// without any saves nothing (no tuple, no map entry: a few allocations less per call).
template <class T>
T from_ivalue(const c10::IValue& v) {
  if constexpr (std::is_same_v<T, c10::string_view>) {
    return v.toStringView();
  } else {
    return v.to<T>();
  }
}

template <class... P>
void save_params(AutogradContext* ctx, const P&... params) {
  if constexpr (sizeof...(P) > 0) {
    ctx->saved_data["params"] = c10::ivalue::Tuple::create(c10::IValue(params)...);
  }
}

template <class... P, class F, size_t... I>
auto unpack_and_call(const c10::IValue& packed, F&& f, std::index_sequence<I...>) {
  const auto& elements = packed.toTupleRef().elements();
  return f(from_ivalue<P>(elements[I])...);
}

// f(params...) with the parameters save_params saved.
template <class... P, class F>
auto with_params(AutogradContext* ctx, F&& f) {
  if constexpr (sizeof...(P) == 0) {
    return f();
  } else {
    return unpack_and_call<P...>(ctx->saved_data["params"], std::forward<F>(f), std::index_sequence_for<P...>{});
  }
}

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

}  // namespace

template <class Op, class... P>
struct PointwiseAutograd<Op, c10::guts::typelist::typelist<P...>> {
  using Family = PointwiseFamily<Op>;
  static constexpr bool kSavesOutput = Family::kSavesOutput;

  static at::Tensor grad_input(AutogradContext* ctx, const variable_list& grads) {
    const at::Tensor saved = ctx->get_saved_variables()[0];
    return with_params<P...>(
        ctx, [&](P... params) { return op<typename Family::Backward>().call(grads[0], saved, params...); });
  }

  struct Forward : torch::autograd::Function<Forward> {
    static constexpr bool is_traceable = true;

    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& self, P... params) {
      at::Tensor out;
      {
        at::AutoDispatchBelowADInplaceOrView guard;
        out = op<typename Family::Forward>().call(self, params...);
      }
      ctx->save_for_backward({kSavesOutput ? out : self});
      save_params(ctx, params...);
      return out;
    }
    static variable_list backward(AutogradContext* ctx, variable_list grads) {
      variable_list result = {grad_input(ctx, grads)};
      result.resize(1 + sizeof...(P));  // no gradient for the non-tensor parameters
      return result;
    }
  };

  // In place, for the ops whose backward needs only the output: the output is saved.
  struct InplaceFromOutput : torch::autograd::Function<InplaceFromOutput> {
    static constexpr bool is_traceable = true;

    static at::Tensor forward(AutogradContext* ctx, at::Tensor self, P... params) {
      run_inplace(self, params...);
      ctx->mark_dirty({self});
      ctx->save_for_backward({self});
      save_params(ctx, params...);
      return self;
    }
    static variable_list backward(AutogradContext* ctx, variable_list grads) {
      variable_list result = {grad_input(ctx, grads)};
      result.resize(1 + sizeof...(P));
      return result;
    }
  };

  // In place, for the ops whose backward needs the input: `original` is a copy of self taken
  // before the op with its autograd history (as torch's silu_ and mish_ keep one), saved so
  // that double backward reaches self's history through it. The gradient itself goes to self:
  // when self is a view, autograd's CopySlices passes the gradient of the rest of its base
  // through only alongside the gradient of self's own input slot.
  struct InplaceFromInput : torch::autograd::Function<InplaceFromInput> {
    static constexpr bool is_traceable = true;

    static at::Tensor forward(AutogradContext* ctx, at::Tensor self, const at::Tensor& original, P... params) {
      run_inplace(self, params...);
      ctx->mark_dirty({self});
      ctx->save_for_backward({original});
      save_params(ctx, params...);
      return self;
    }
    static variable_list backward(AutogradContext* ctx, variable_list grads) {
      variable_list result = {grad_input(ctx, grads)};
      result.resize(2 + sizeof...(P));  // none for `original`, nor the non-tensor parameters
      return result;
    }
  };

  static void run_inplace(at::Tensor& self, P... params) {
    at::AutoDispatchBelowADInplaceOrView guard;
    op<typename Family::Inplace>().call(self, params...);
  }

  static at::Tensor forward(const at::Tensor& self, P... params) {
    // Nothing to record (no input requires grad): no node, no saved tensor. So in the others.
    if (!torch::autograd::compute_requires_grad(self)) {
      at::AutoDispatchBelowADInplaceOrView guard;
      return op<typename Family::Forward>().call(self, params...);
    }
    return Forward::apply(self, params...);
  }

  static void forward_(at::Tensor& self, P... params) {
    const bool requires_grad = torch::autograd::compute_requires_grad(self);
    torch::autograd::check_inplace(self, requires_grad);
    if (!requires_grad) {
      // Nothing to record (and nothing extra for torch.compile to trace): the ADInplaceOrView
      // kernel below runs the op and bumps the version counter.
      at::AutoDispatchBelowAutograd guard;
      op<typename Family::Inplace>().call(self, params...);
    } else if constexpr (kSavesOutput) {
      InplaceFromOutput::apply(self, params...);
    } else {
      InplaceFromInput::apply(self, self.clone(), params...);
    }
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

  struct Forward : torch::autograd::Function<Forward> {
    static constexpr bool is_traceable = true;

    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& self, const at::Tensor& param) {
      at::AutoDispatchBelowADInplaceOrView guard;
      ctx->save_for_backward({self, param});
      return op<typename Family::Forward>().call(self, param);
    }
    static variable_list backward(AutogradContext* ctx, variable_list grads) {
      const auto saved = ctx->get_saved_variables();
      at::Tensor grad_input, grad_param;
      if (ctx->needs_input_grad(0)) grad_input = op<typename Family::Backward>().call(grads[0], saved[0], saved[1]);
      if (ctx->needs_input_grad(1))
        grad_param = op<typename Family::ParamBackward>().call(grads[0], saved[0], saved[1]);
      return {grad_input, grad_param};
    }
  };

  static at::Tensor forward(const at::Tensor& self, const at::Tensor& param) {
    if (!torch::autograd::compute_requires_grad(self, param)) {
      at::AutoDispatchBelowADInplaceOrView guard;
      return op<typename Family::Forward>().call(self, param);
    }
    return Forward::apply(self, param);
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

  struct Pair : torch::autograd::Function<Pair> {
    static constexpr bool is_traceable = true;

    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gate, const at::Tensor& up, P... params) {
      at::AutoDispatchBelowADInplaceOrView guard;
      ctx->save_for_backward({gate, up});
      save_params(ctx, params...);
      return op<typename Family::Forward>().call(gate, up, params...);
    }
    static variable_list backward(AutogradContext* ctx, variable_list grads) {
      const auto saved = ctx->get_saved_variables();
      auto [grad_gate, grad_up] = with_params<P...>(ctx, [&](P... params) {
        return op<typename Family::Backward>().call(grads[0], saved[0], saved[1], params...);
      });
      variable_list result = {grad_gate, grad_up};
      result.resize(2 + sizeof...(P));
      return result;
    }
  };

  struct Split : torch::autograd::Function<Split> {
    static constexpr bool is_traceable = true;

    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& self, int64_t dim, P... params) {
      at::AutoDispatchBelowADInplaceOrView guard;
      ctx->save_for_backward({self});
      ctx->saved_data["dim"] = dim;
      save_params(ctx, params...);
      return op<typename Family::Split>().call(self, dim, params...);
    }
    static variable_list backward(AutogradContext* ctx, variable_list grads) {
      const at::Tensor self = ctx->get_saved_variables()[0];
      const int64_t dim = ctx->saved_data["dim"].toInt();
      variable_list result = {with_params<P...>(
          ctx, [&](P... params) { return op<typename Family::SplitBackward>().call(grads[0], self, dim, params...); })};
      result.resize(2 + sizeof...(P));
      return result;
    }
  };

  static at::Tensor forward(const at::Tensor& gate, const at::Tensor& up, P... params) {
    if (!torch::autograd::compute_requires_grad(gate, up)) {
      at::AutoDispatchBelowADInplaceOrView guard;
      return op<typename Family::Forward>().call(gate, up, params...);
    }
    return Pair::apply(gate, up, params...);
  }
  static at::Tensor split(const at::Tensor& self, int64_t dim, P... params) {
    if (!torch::autograd::compute_requires_grad(self)) {
      at::AutoDispatchBelowADInplaceOrView guard;
      return op<typename Family::Split>().call(self, dim, params...);
    }
    return Split::apply(self, dim, params...);
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

  // Saved: the output and the seed, from which backward draws the same slopes.
  static variable_list grad_input(AutogradContext* ctx, const variable_list& grads) {
    const auto saved = ctx->get_saved_variables();
    const std::optional<at::Tensor> seed = saved[1].defined() ? std::optional(saved[1]) : std::nullopt;
    variable_list result = {with_params<P...>(
        ctx, [&](P... params) { return op<typename Family::Backward>().call(grads[0], saved[0], seed, params...); })};
    result.resize(2 + sizeof...(P));  // none for the seed, nor the non-tensor parameters
    return result;
  }

  struct Forward : torch::autograd::Function<Forward> {
    static constexpr bool is_traceable = true;

    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& self, Seed seed, P... params) {
      at::Tensor out;
      {
        at::AutoDispatchBelowADInplaceOrView guard;
        out = op<typename Family::Forward>().call(self, seed, params...);
      }
      ctx->save_for_backward({out, seed.value_or(at::Tensor())});
      save_params(ctx, params...);
      return out;
    }
    static variable_list backward(AutogradContext* ctx, variable_list grads) { return grad_input(ctx, grads); }
  };

  struct Inplace : torch::autograd::Function<Inplace> {
    static constexpr bool is_traceable = true;

    static at::Tensor forward(AutogradContext* ctx, at::Tensor self, Seed seed, P... params) {
      {
        at::AutoDispatchBelowADInplaceOrView guard;
        op<typename Family::Inplace>().call(self, seed, params...);
      }
      ctx->mark_dirty({self});
      ctx->save_for_backward({self, seed.value_or(at::Tensor())});
      save_params(ctx, params...);
      return self;
    }
    static variable_list backward(AutogradContext* ctx, variable_list grads) { return grad_input(ctx, grads); }
  };

  static at::Tensor forward(const at::Tensor& self, Seed seed, P... params) {
    if (!torch::autograd::compute_requires_grad(self)) {
      at::AutoDispatchBelowADInplaceOrView guard;
      return op<typename Family::Forward>().call(self, seed, params...);
    }
    return Forward::apply(self, seed, params...);
  }

  static void forward_(at::Tensor& self, Seed seed, P... params) {
    const bool requires_grad = torch::autograd::compute_requires_grad(self);
    torch::autograd::check_inplace(self, requires_grad);
    if (!requires_grad) {
      at::AutoDispatchBelowAutograd guard;
      op<typename Family::Inplace>().call(self, seed, params...);
      return;
    }
    Inplace::apply(self, seed, params...);
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

  struct Forward : torch::autograd::Function<Forward> {
    static constexpr bool is_traceable = true;

    // half_to_float: the gradient, computed in the output's float32, back in the input's dtype.
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& self, int64_t dim, bool half_to_float) {
      at::Tensor out;
      {
        at::AutoDispatchBelowADInplaceOrView guard;
        out = op<typename Family::Forward>().call(self, dim, half_to_float);
      }
      ctx->save_for_backward({out});
      ctx->saved_data["dim"] = dim;
      ctx->saved_data["input_dtype"] = self.scalar_type();
      return out;
    }
    static variable_list backward(AutogradContext* ctx, variable_list grads) {
      const at::Tensor output = ctx->get_saved_variables()[0];
      const at::Tensor grad = op<typename Family::Backward>().call(grads[0], output, ctx->saved_data["dim"].toInt());
      return {grad.to(ctx->saved_data["input_dtype"].toScalarType()), at::Tensor(), at::Tensor()};
    }
  };

  static at::Tensor forward(const at::Tensor& self, int64_t dim, bool half_to_float) {
    if (!torch::autograd::compute_requires_grad(self)) {
      at::AutoDispatchBelowADInplaceOrView guard;
      return op<typename Family::Forward>().call(self, dim, half_to_float);
    }
    return Forward::apply(self, dim, half_to_float);
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
