// Kernel functors: each adapts a math struct of math.h to a fixed arity. A functor has
// kInputs inputs and kOutputs outputs (1 unless it says); its call operator takes kInputs
// values of any math value type V and returns one V, or a math::Pair<V> for two outputs.
// The backends compile every functor of the op tables (the lists at the end).
#pragma once

#include "ops.h"

#include <c10/macros/Macros.h>

#include <type_traits>

namespace fusedact {

template <class Fn, class = void>
struct OutputsOf {
  static constexpr int value = 1;
};
template <class Fn>
struct OutputsOf<Fn, std::void_t<decltype(Fn::kOutputs)>> {
  static constexpr int value = Fn::kOutputs;
};
template <class Fn>
constexpr int kOutputsOf = OutputsOf<Fn>::value;

template <class Math>
struct ForwardFn {
  static constexpr int kInputs = 1;
  Math math;
  template <class V>
  FUSEDACT_MATH V operator()(V x) const {
    return math.forward(x);
  }
};

template <class Math>
struct BackwardFn {
  static constexpr int kInputs = 2;
  Math math;
  template <class V>
  FUSEDACT_MATH V operator()(V grad, V saved) const {
    return math.backward(grad, saved);
  }
};

// The forward of a math with two operands: (x, p) of a channel-parameter op (p broadcast to
// x), (gate, up) of a GLU.
template <class Math>
struct BinaryForwardFn {
  static constexpr int kInputs = 2;
  Math math;
  template <class V>
  FUSEDACT_MATH V operator()(V a, V b) const {
    return math.forward(a, b);
  }
};

template <class Math>
struct ParamBackwardFn {
  static constexpr int kInputs = 3;
  Math math;
  template <class V>
  FUSEDACT_MATH V operator()(V grad, V x, V p) const {
    return math.backward(grad, x, p);
  }
};

// A GLU's backward: the gradients of gate and up, in one pass.
template <class Math>
struct GatedBackwardFn {
  static constexpr int kInputs = 3;
  static constexpr int kOutputs = 2;
  Math math;
  template <class V>
  FUSEDACT_MATH math::Pair<V> operator()(V grad, V gate, V up) const {
    return math.backward(grad, gate, up);
  }
};

// One element's share of the parameter's gradient; the backends sum it per channel.
template <class Math>
struct ParamGradFn {
  static constexpr int kInputs = 3;
  Math math;
  template <class V>
  FUSEDACT_MATH V operator()(V grad, V x, V p) const {
    return math.backward_param(grad, x, p);
  }
};

// Every functor type the backends must compile for the op tables: the element-wise ones
// (run over a TensorIterator) and the channel reductions.
template <class Pointwise, class ChannelParam, class Gated>
struct AllFunctors;
template <class... Ops, class... ParamOps, class... GatedOps>
struct AllFunctors<TypeList<Ops...>, TypeList<ParamOps...>, TypeList<GatedOps...>> {
  using elementwise = TypeList<ForwardFn<typename Ops::Math>..., BackwardFn<typename Ops::Math>...,
                               BinaryForwardFn<typename ParamOps::Math>..., ParamBackwardFn<typename ParamOps::Math>...,
                               BinaryForwardFn<typename GatedOps::Math>..., GatedBackwardFn<typename GatedOps::Math>...>;
  using channel_reductions = TypeList<ParamGradFn<typename ParamOps::Math>...>;
};
using AllOpFunctors = AllFunctors<PointwiseOps, ChannelParamOps, GatedOps>;
using PointwiseFunctors = AllOpFunctors::elementwise;
using ChannelGradFunctors = AllOpFunctors::channel_reductions;

}  // namespace fusedact
