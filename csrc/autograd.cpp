// Autograd of the pointwise ops, in C++ so that LibTorch users get gradients too.
// Registers every op of the table at the Autograd key:
//   - forward and in-place ops: a torch::autograd::Function that runs the op below
//     autograd, saves the input or the output (whichever backward needs), and whose
//     backward is the fused <name>_backward op;
//   - backward ops: the fused kernel when no gradient is wanted, else the same math
//     evaluated with differentiable ATen ops (TensorValue), so double backward works.
#include "autograd/tensor_value.h"
#include "pointwise.h"

#include <ATen/core/ivalue.h>
#include <torch/csrc/autograd/VariableTypeUtils.h>
#include <torch/csrc/autograd/custom_function.h>

namespace fusedact {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Schema arguments travel from forward to backward as an IValue tuple in saved_data.
template <class T>
T from_ivalue(const c10::IValue& v) {
  if constexpr (std::is_same_v<T, c10::string_view>) {
    return v.toStringView();
  } else {
    return v.to<T>();
  }
}

template <class... P>
c10::IValue pack(const P&... params) {
  return c10::ivalue::Tuple::create(c10::IValue(params)...);
}

template <class... P, class F, size_t... I>
auto unpack_and_call(const c10::IValue& packed, F&& f, std::index_sequence<I...>) {
  const auto& elements = packed.toTupleRef().elements();
  return f(from_ivalue<P>(elements[I])...);
}

template <class... P, class F>
auto unpack_and_call(const c10::IValue& packed, F&& f) {
  return unpack_and_call<P...>(packed, std::forward<F>(f), std::index_sequence_for<P...>{});
}

// Upcasts 16-bit tensors for the composite formula, so it too computes in float32.
at::Tensor opmath(const at::Tensor& t) { return at::isReducedFloatingType(t.scalar_type()) ? t.to(at::kFloat) : t; }

template <class Op, class Params = ParamsOf<Op>>
struct PointwiseAutograd;

template <class Op, class... P>
struct PointwiseAutograd<Op, c10::guts::typelist::typelist<P...>> {
  using Impl = Pointwise<Op>;
  static constexpr bool kSavesOutput = Impl::kSavesOutput;

  static variable_list backward_from(AutogradContext* ctx, const variable_list& grads) {
    const at::Tensor saved = ctx->get_saved_variables()[0];
    at::Tensor grad_input = unpack_and_call<P...>(ctx->saved_data["params"], [&](P... params) {
      return Impl::backward_op().call(grads[0], saved, params...);
    });
    variable_list result = {grad_input};
    result.resize(1 + sizeof...(P));  // no gradient for the non-tensor parameters
    return result;
  }

  struct Forward : torch::autograd::Function<Forward> {
    static constexpr bool is_traceable = true;

    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& self, P... params) {
      at::Tensor out;
      {
        at::AutoDispatchBelowADInplaceOrView guard;
        out = Impl::forward_op().call(self, params...);
      }
      ctx->save_for_backward({kSavesOutput ? out : self});
      ctx->saved_data["params"] = pack(params...);
      return out;
    }
    static variable_list backward(AutogradContext* ctx, variable_list grads) { return backward_from(ctx, grads); }
  };

  struct Inplace : torch::autograd::Function<Inplace> {
    static constexpr bool is_traceable = true;

    static at::Tensor forward(AutogradContext* ctx, at::Tensor self, P... params) {
      // An op whose derivative needs its input keeps a copy of it, as torch's in-place
      // activations (silu_, mish_) do.
      at::Tensor original = (!kSavesOutput && self.requires_grad()) ? self.clone() : at::Tensor();
      {
        at::AutoDispatchBelowADInplaceOrView guard;
        Impl::inplace_op().call(self, params...);
      }
      ctx->mark_dirty({self});
      ctx->save_for_backward({kSavesOutput ? self : original});
      ctx->saved_data["params"] = pack(params...);
      return self;
    }
    static variable_list backward(AutogradContext* ctx, variable_list grads) { return backward_from(ctx, grads); }
  };

  static at::Tensor forward(const at::Tensor& self, P... params) { return Forward::apply(self, params...); }

  static void forward_(at::Tensor& self, P... params) {
    torch::autograd::check_inplace(self, torch::autograd::compute_requires_grad(self));
    Inplace::apply(self, params...);
  }

  static at::Tensor backward(const at::Tensor& grad, const at::Tensor& saved, P... params) {
    if (at::GradMode::is_enabled() && (grad.requires_grad() || saved.requires_grad())) {
      auto fn = BackwardFn<typename Op::Math>{Op::make(params...)};
      at::Tensor result = fn(TensorValue(opmath(grad)), TensorValue(opmath(saved))).get();
      return result.to(saved.scalar_type());
    }
    at::AutoDispatchBelowADInplaceOrView guard;
    return Impl::backward_op().call(grad, saved, params...);
  }
};

}  // namespace

TORCH_LIBRARY_IMPL(fusedact, Autograd, m) {
  for_each_type(PointwiseOps{}, [&](auto op) {
    using Op = decltype(op);
    using Autograd = PointwiseAutograd<Op>;
    m.impl(Op::kName, &Autograd::forward);
    m.impl(backward_name<Op>().c_str(), &Autograd::backward);
    if constexpr (Op::kHasInplace) {
      m.impl(inplace_name<Op>().c_str(), &Autograd::forward_);
    }
  });
}

}  // namespace fusedact
