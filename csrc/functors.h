// Kernel functors: each adapts a math struct of math.h to a fixed arity. A functor has
// kInputs inputs and kOutputs outputs (1 unless it says); its call operator takes kInputs
// values of any math value type V and returns one V, or a math::Pair<V> for two outputs.
// Each family lists the functors its kernels run (`Functors`); families.h gathers them for the
// backends to compile.
#pragma once

#include <fusedact/math.h>

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

}  // namespace fusedact
