// The math of every fusedact activation, written once.
//
// Each activation is a small struct with `forward(x)` and `backward(grad, s)`, where s is
// the saved input or output (the struct's `kSaves` says which). An activation with a tensor
// parameter p (prelu's weight, swish's beta) has `forward(x, p)`, `backward(grad, x, p)` and
// `backward_param(grad, x, p)`, this element's share of the gradient of p; WithConstant
// turns it into a plain activation when p is a number (leaky_relu, swish with a float beta). The members are templates
// over a value type V, and the same formula runs as:
//   - float / double on CUDA threads (host+device functions),
//   - at::vec::Vectorized lanes in the CPU kernels (csrc/cpu/vec.h),
//   - differentiable ATen tensor ops for double backward (csrc/autograd/tensor_value.h).
// A formula may only use what every value type provides: + - * /, unary -, the
// comparisons (giving a mask), select(mask, a, b), V(constant) and the functions
// declared below (clamp_min, clamp_max, exp, exp_nonpositive, expm1, log, log1p_unit, tanh,
// normal_cdf). No data-dependent `if`.
//
// Formulas follow the operation order of ATen's kernels, so that overflow, NaN and
// signed zeros come out where torch's do, unless a stable form gives the same special values
// for less work (log1p_exp, which softplus and mish use).
#pragma once

#include <c10/macros/Macros.h>

#include <cmath>

// Every math function is forced inline: the per-instruction-set CPU objects must not
// share an out-of-line copy compiled for a wider instruction set than the caller's.
#define FUSEDACT_MATH C10_HOST_DEVICE C10_ALWAYS_INLINE

namespace fusedact::math {

// ---- constants -----------------------------------------------------------------------

constexpr double kSqrt1_2 = 0.70710678118654752440;      // 1/sqrt(2)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2/pi)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1/sqrt(2*pi)
constexpr double kGeluKappa = 0.044715;                  // tanh approximation, Hendrycks & Gimpel 2016

// ---- scalar primitives (float and double, host and device) -------------------------

FUSEDACT_MATH float exp(float x) { return ::expf(x); }
FUSEDACT_MATH double exp(double x) { return ::exp(x); }
FUSEDACT_MATH float expm1(float x) { return ::expm1f(x); }
FUSEDACT_MATH double expm1(double x) { return ::expm1(x); }
FUSEDACT_MATH float log(float x) { return ::logf(x); }
FUSEDACT_MATH double log(double x) { return ::log(x); }
FUSEDACT_MATH float tanh(float x) { return ::tanhf(x); }
FUSEDACT_MATH double tanh(double x) { return ::tanh(x); }
// a b + c rounded once: the same answer on every CPU and on the GPU, where the compiler may or
// may not contract a b + c on its own.
FUSEDACT_MATH float fma(float a, float b, float c) { return ::fmaf(a, b, c); }
FUSEDACT_MATH double fma(double a, double b, double c) { return ::fma(a, b, c); }

// Phi(x), the standard normal CDF. In float, erfc(-x / sqrt 2) / 2, which keeps its accuracy in
// the left tail, where (1 + erf(x / sqrt 2)) / 2 keeps erf's absolute error near -1 (torch's
// float gelu has 4e-7 of it, most of gelu's value below -4.5); 0 below -6, where Phi < 1e-9 and
// 1 + erf is 0 in float too. In double, torch's (1 + erf(x / sqrt 2)) / 2, whose error is 1e-16.
FUSEDACT_MATH float normal_cdf(float x) {
#ifdef __CUDA_ARCH__
  return x < -6.0f ? 0.0f : ::normcdff(x);
#else
  return x < -6.0f ? 0.0f : 0.5f * ::erfcf(x * static_cast<float>(-kSqrt1_2));
#endif
}
FUSEDACT_MATH double normal_cdf(double x) { return 0.5 * (1.0 + ::erf(x * kSqrt1_2)); }

// e^x for x <= 0 or NaN: a value type may implement it faster than exp (the CPU vectors do).
FUSEDACT_MATH float exp_nonpositive(float x) { return ::expf(x); }
FUSEDACT_MATH double exp_nonpositive(double x) { return ::exp(x); }

// log(1 + x) for 0 <= x <= 1 or NaN: likewise, a value type may implement it faster than log1p.
FUSEDACT_MATH float log1p_unit(float x) { return ::log1pf(x); }
FUSEDACT_MATH double log1p_unit(double x) { return ::log1p(x); }

// Lane-wise choice: a where mask holds, else b. Both sides are evaluated.
template <class T>
FUSEDACT_MATH T select(bool mask, T a, T b) {
  return mask ? a : b;
}

// x raised to low and x lowered to high, as ATen's clamp_min and clamp_max: x wherever the
// comparison fails, so a NaN x passes and an x equal to the bound (-0.0 against 0.0) is kept. A
// value type may do either in one instruction (the CPU vectors do, where select takes two).
template <class V>
FUSEDACT_MATH V clamp_min(V x, V low) {
  return select(x < low, low, x);
}
template <class V>
FUSEDACT_MATH V clamp_max(V x, V high) {
  return select(x > high, high, x);
}

// Whether backward needs the op's input or can work from its output alone; the
// output form saves memory and is what makes in-place variants possible.
enum class Saves { Input, Output };

// The two results of a math function with two outputs (a GLU's two input gradients).
template <class V>
struct Pair {
  V first;
  V second;
};

// ---- activations -----------------------------------------------------------------------

// relu(x) = max(0, x). NaN and -0.0 pass through unchanged, as torch's clamp_min does.
struct Relu {
  static constexpr Saves kSaves = Saves::Output;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    return clamp_min(x, V(0));
  }
  // From the output y: grad where y > 0 (torch's threshold_backward, so relu'(0) = 0).
  template <class V>
  FUSEDACT_MATH V backward(V grad, V y) const {
    return select(y <= V(0), V(0), grad);
  }
};

// sigmoid(x) = 1 / (1 + e^-x). Stable: e^-x overflows to inf for x << 0, giving 0.
struct Sigmoid {
  static constexpr Saves kSaves = Saves::Output;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    return V(1) / (V(1) + exp(-x));
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V y) const {
    return grad * (V(1) - y) * y;
  }
};

struct Tanh {
  static constexpr Saves kSaves = Saves::Output;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    return tanh(x);
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V y) const {
    return grad * (V(1) - y * y);
  }
};

// elu(x) = scale * x if x >= 0 else scale * alpha * (e^(input_scale x) - 1): torch's
// elu (scale = input_scale = 1) and selu (scale = lambda, alpha = alpha of the SELU paper).
// +-0 take the linear side, as in torch's forward: +-0 whatever alpha (an infinite or NaN
// alpha times e^0 - 1 = 0 would be NaN). Its backward takes the exponential side at 0.
struct Elu {
  static constexpr Saves kSaves = Saves::Input;
  double alpha = 1.0;
  double scale = 1.0;
  double input_scale = 1.0;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    return select(x < V(0), expm1(x * V(input_scale)) * V(alpha * scale), x * V(scale));
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V x) const {
    V negative = grad * V(input_scale) * V(alpha * scale) * exp(x * V(input_scale));
    return select(x <= V(0), negative, grad * V(scale));
  }
};

constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

// log(1 + e^x) as max(x, 0) + log(1 + e^-|x|): it never overflows, and the exp's argument is
// never positive nor the log1p's outside [0, 1], which lets a value type use faster forms of
// both. NaN passes through, -inf gives 0.
template <class V>
FUSEDACT_MATH V log1p_exp(V x) {
  const V positive = select(x > V(0), x, V(0));
  return positive + log1p_unit(exp_nonpositive(select(x > V(0), -x, x)));
}

// softplus(x) = log(1 + e^(beta x)) / beta, and x itself where beta x > threshold.
struct Softplus {
  static constexpr Saves kSaves = Saves::Input;
  double beta = 1.0;
  double threshold = 20.0;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    V scaled = x * V(beta);
    V soft = log1p_exp(scaled);
    if (beta != 1.0) soft = soft / V(beta);  // on the parameter, not the data: beta = 1 skips it
    return select(scaled > V(threshold), x, soft);
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V x) const {
    V scaled = x * V(beta);
    V z = exp(scaled);
    return select(scaled > V(threshold), grad, grad * z / (z + V(1)));
  }
};

// silu(x) = x * sigmoid(x).
struct Silu {
  static constexpr Saves kSaves = Saves::Input;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    return x / (V(1) + exp(-x));
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V x) const {
    V sigmoid = V(1) / (V(1) + exp(-x));
    return grad * sigmoid * (V(1) + x * (V(1) - sigmoid));
  }
};

constexpr double kQuickGeluBeta = 1.702;  // CLIP's sigmoid approximation of gelu

// mish(x) = x * tanh(softplus(x)), softplus as log1p_exp.
struct Mish {
  static constexpr Saves kSaves = Saves::Input;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    return x * tanh(log1p_exp(x));
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V x) const {
    V sigmoid = V(1) / (V(1) + exp(-x));
    V tanh_softplus = tanh(log1p_exp(x));
    return grad * (tanh_softplus + x * sigmoid * (V(1) - tanh_softplus * tanh_softplus));
  }
};

// gelu(x) = x * Phi(x), exactly (the normal CDF) or with the tanh approximation
//   0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
struct Gelu {
  static constexpr Saves kSaves = Saves::Input;
  bool tanh_approximation = false;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    if (tanh_approximation) {
      V inner = V(kSqrt2OverPi) * (x + V(kGeluKappa) * (x * x * x));
      return V(0.5) * x * (V(1) + tanh(inner));
    }
    return x * normal_cdf(x);
  }

  template <class V>
  FUSEDACT_MATH V backward(V grad, V x) const {
    if (tanh_approximation) {
      V x_sq = x * x;
      V inner = V(kSqrt2OverPi) * (x + V(kGeluKappa) * (x_sq * x));
      V tanh_inner = tanh(inner);
      V left = V(0.5) * x;
      V right = V(1) + tanh_inner;
      V left_derivative = V(0.5) * right;
      V right_derivative = V(1) - tanh_inner * tanh_inner;
      V inner_derivative = V(kSqrt2OverPi) * (V(1) + V(3 * kGeluKappa) * x_sq);
      return grad * (left_derivative + left * right_derivative * inner_derivative);
    }
    V cdf = normal_cdf(x);
    V pdf = V(kInvSqrt2Pi) * exp_nonpositive(V(-0.5) * (x * x));
    return grad * (cdf + x * pdf);
  }
};

// hardtanh(x) = min(max(x, min_val), max_val), in that order (torch's clamp); relu6 is
// hardtanh(x, 0, 6). NaN and -0.0 pass through. Its derivative is 1 strictly inside the
// range, 0 elsewhere and at NaN; the output lies strictly inside exactly where the input does,
// so backward works from the output (torch's hardtanh_backward tests the input). A NaN bound
// makes every output NaN, as torch's clamp does, and passes every gradient (torch's backward,
// from the input, still zeroes it beyond the other bound: from a NaN output that is unknown).
// The NaN bound is folded into the formulas (a factor of NaN, a mask of all lanes) rather than
// tested in them: a test of a parameter in a vector loop kept the compiler from hoisting the
// bounds' conversion out of it (bfloat16 backward at 0.72x torch's speed on an AVX2 CPU).
struct Hardtanh {
  static constexpr Saves kSaves = Saves::Output;
  double min_val = -1.0;
  double max_val = 1.0;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    return clamp_max(clamp_min(x, V(min_val)), V(max_val)) * V(nan_bound() ? double(NAN) : 1.0);
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V y) const {
    const V nan_bound_flag(nan_bound() ? 1.0 : 0.0);
    return select(((y > V(min_val)) & (y < V(max_val))) | (nan_bound_flag > V(0)), grad, V(0));
  }
  FUSEDACT_MATH bool nan_bound() const { return min_val != min_val || max_val != max_val; }
};

// hardsigmoid(x) = min(max(x + 3, 0), 6) / 6; its derivative 1/6 strictly inside (-3, 3).
struct Hardsigmoid {
  static constexpr Saves kSaves = Saves::Input;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    return Hardtanh{0.0, 6.0}.forward(x + V(3)) / V(6);
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V x) const {
    return select((x > V(-3)) & (x < V(3)), grad * V(1.0 / 6.0), V(0));
  }
};

// hardswish(x) = x * min(max(x + 3, 0), 6) / 6 (MobileNetV3). Its derivative is 0 up to -3,
// x / 3 + 1/2 strictly inside (-3, 3), 1 from 3 on (and at NaN), as torch's scalar and CUDA
// kernels select.
struct Hardswish {
  static constexpr Saves kSaves = Saves::Input;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    return x * Hardtanh{0.0, 6.0}.forward(x + V(3)) / V(6);
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V x) const {
    return select(x <= V(-3), V(0), select(x < V(3), grad * (x / V(3) + V(0.5)), grad));
  }
};

// logsigmoid(x) = log(sigmoid(x)) = min(x, 0) - log(1 + e^-|x|): stable at both ends. e^-|x|
// keeps its subnormal values (exp, not exp_nonpositive), so that a tiny negative result for
// x near 100 rounds to -0 in float16, as torch's.
struct LogSigmoid {
  static constexpr Saves kSaves = Saves::Input;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    return select(x < V(0), x, V(0)) - log1p_unit(exp(select(x < V(0), x, -x)));
  }
  // sigmoid(-x) = 1 - z / (1 + z) below 0 and z / (1 + z) above, z = e^-|x|.
  template <class V>
  FUSEDACT_MATH V backward(V grad, V x) const {
    const V z = exp_nonpositive(select(x < V(0), x, -x));
    const V share = z / (V(1) + z);
    return grad * select(x < V(0), V(1) - share, share);
  }
};

// softsign(x) = x / (|x| + 1). The backward follows autograd through torch's composite, for its
// special values (NaN at +-inf).
struct Softsign {
  static constexpr Saves kSaves = Saves::Input;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    return x / (select(x < V(0), -x, x) + V(1));
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V x) const {
    const V magnitude = select(x < V(0), -x, x);
    const V denominator = magnitude + V(1);
    return grad / denominator - grad * ((magnitude / denominator) / denominator);
  }
};

// tanhshrink(x) = x - tanh(x). The backward follows autograd through torch's composite,
// grad - grad (1 - tanh^2), for its signed zeros.
struct Tanhshrink {
  static constexpr Saves kSaves = Saves::Input;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    return x - tanh(x);
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V x) const {
    const V t = tanh(x);
    return grad - grad * (V(1) - t * t);
  }
};

// softshrink(x) = x - lambd above lambd, x + lambd below -lambd, 0 between (+0, and NaN for
// NaN, as torch's). hardshrink(x) = x outside [-lambd, lambd], 0 inside. The derivative of
// both is 1 outside, 0 inside and at NaN.
template <bool kHard>
struct Shrink {
  static constexpr Saves kSaves = Saves::Input;
  double lambd = 0.5;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    if constexpr (kHard) {
      return select((x >= V(-lambd)) & (x <= V(lambd)), V(0), x);
    } else {
      return select(x > V(lambd), x - V(lambd), select(x < V(-lambd), x + V(lambd), x * V(0) + V(0)));
    }
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V x) const {
    return select((x > V(lambd)) | (x < V(-lambd)), grad, V(0));
  }
};

// threshold(x) = value where x <= threshold, else x. NaN passes through, with gradient.
struct Threshold {
  static constexpr Saves kSaves = Saves::Input;
  double threshold;
  double value;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    return select(x <= V(threshold), V(value), x);
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V x) const {
    return select(x <= V(threshold), V(0), grad);
  }
};

// relu_squared(x) = relu(x)^2 (So et al. 2021, "Primer"; transformers' relu2).
struct ReluSquared {
  static constexpr Saves kSaves = Saves::Input;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    const V r = Relu{}.forward(x);
    return r * r;
  }
  // Through autograd's chain: relu's backward (0 where relu(x) <= 0) of square's, 2 relu(x) grad.
  template <class V>
  FUSEDACT_MATH V backward(V grad, V x) const {
    const V r = Relu{}.forward(x);
    return select(r <= V(0), V(0), grad * (V(2) * r));
  }
};

// ---- activations with a parameter -----------------------------------------------------

// prelu(x, w) = x if x > 0 else w * x; leaky_relu is prelu with a constant slope.
struct Prelu {
  static constexpr Saves kSaves = Saves::Input;

  template <class V>
  FUSEDACT_MATH V forward(V x, V w) const {
    return select(x > V(0), x, x * w);
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V x, V w) const {
    return select(x > V(0), grad, grad * w);
  }
  template <class V>
  FUSEDACT_MATH V backward_param(V grad, V x, V w) const {
    return select(x > V(0), V(0), x * grad);
  }
};

// swish(x, beta) = x * sigmoid(beta x); quick_gelu is swish with beta = 1.702. The backward
// formulas follow autograd through x * sigmoid(beta * x), for the same rounding and signed zeros.
struct Swish {
  static constexpr Saves kSaves = Saves::Input;

  template <class V>
  FUSEDACT_MATH V forward(V x, V beta) const {
    return x * (V(1) / (V(1) + exp(-(x * beta))));
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V x, V beta) const {
    V sigmoid = V(1) / (V(1) + exp(-(x * beta)));
    return grad * sigmoid + grad * x * (V(1) - sigmoid) * sigmoid * beta;
  }
  template <class V>
  FUSEDACT_MATH V backward_param(V grad, V x, V beta) const {
    V sigmoid = V(1) / (V(1) + exp(-(x * beta)));
    return grad * x * (V(1) - sigmoid) * sigmoid * x;
  }
};

// A parametric activation with its parameter fixed to a number.
template <class Parametric>
struct WithConstant {
  static constexpr Saves kSaves = Parametric::kSaves;
  double param;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    return Parametric{}.forward(x, V(param));
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V x) const {
    return Parametric{}.backward(grad, x, V(param));
  }
};

using LeakyRelu = WithConstant<Prelu>;
using SwishConstant = WithConstant<Swish>;

// rrelu(x) = x if x > 0 else r x (Xu et al. 2015): in training r is drawn for each element
// uniformly from [lower, upper) (slope(u) of a uniform u in [0, 1), one rounding, so every
// device draws the same r), in evaluation it is their mean. backward takes the output: with
// r >= 0 it is <= 0 exactly where the input was (NaN stays NaN, whose gradient passes as
// torch's), so the in-place form keeps its gradient.
struct RandomSlope {
  static constexpr Saves kSaves = Saves::Output;
  double lower, upper;

  template <class V>
  FUSEDACT_MATH V slope(V u) const {
    return fma(V(upper - lower), u, V(lower));
  }
  double mean_slope() const { return (lower + upper) / 2; }
  template <class V>
  FUSEDACT_MATH V forward(V x, V r) const {
    return select(x <= V(0), x * r, x);
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V y, V r) const {
    return select(y <= V(0), grad * r, grad);
  }
};

// ---- gated linear units -----------------------------------------------------------------

// act(gate) * up: swiglu (act = silu), geglu (gelu), reglu (relu), after Shazeer 2020,
// "GLU Variants Improve Transformer". The gradients follow autograd through act(gate) * up:
// up's is grad * act(gate), gate's is act's backward of grad * up.
template <class Act>
struct Gated {
  Act act;

  template <class V>
  FUSEDACT_MATH V forward(V gate, V up) const {
    return act.forward(gate) * up;
  }
  template <class V>
  FUSEDACT_MATH Pair<V> backward(V grad, V gate, V up) const {
    const V activated = act.forward(gate);
    if constexpr (Act::kSaves == Saves::Output) {
      return {act.backward(grad * up, activated), grad * activated};
    } else {
      return {act.backward(grad * up, gate), grad * activated};
    }
  }
};

// gpt-oss's SwiGLU: the gate clamped above at limit and up to [-limit, limit] (NaN passes, as
// torch's clamp lets it), then (up + 1) * swish(gate, alpha). As through torch's clamp, the
// gradient passes only where the input lies strictly within the bounds (not at them, nor at
// NaN).
struct ClampedSwiglu {
  double limit = 7.0;
  double alpha = 1.702;

  template <class V>
  FUSEDACT_MATH V forward(V gate, V up) const {
    return (Hardtanh{-limit, limit}.forward(up) + V(1)) * SwishConstant{alpha}.forward(clamp_gate(gate));
  }
  template <class V>
  FUSEDACT_MATH Pair<V> backward(V grad, V gate, V up) const {
    const SwishConstant act{alpha};
    const V gated = act.backward(grad * (Hardtanh{-limit, limit}.forward(up) + V(1)), clamp_gate(gate));
    const V up_grad = grad * act.forward(clamp_gate(gate));
    return {select(gate < V(limit), gated, V(0)), select((up > V(-limit)) & (up < V(limit)), up_grad, V(0))};
  }

 private:
  template <class V>
  FUSEDACT_MATH V clamp_gate(V gate) const {
    return select(gate > V(limit), V(limit), gate);
  }
};

// ---- softmax along a dim -----------------------------------------------------------------

// softmax(x)_i = e^(x_i - m) / s and log_softmax(x)_i = x_i - m - log s, with m the row's
// max and s = sum_k e^(x_k - m): subtracting the max keeps e^ from overflowing, and s >= 1
// keeps log from seeing 0. Backward works from the output y: softmax's gradient is
// y_i (g_i - sum_k g_k y_k), log_softmax's g_i - e^(y_i) sum_k g_k.
template <bool kLog>
struct Softmax {
  static constexpr bool kIsLog = kLog;

  // What the row holds, from an input element: the element itself.
  template <class V>
  FUSEDACT_MATH V value(V x) const {
    return x;
  }
  // e^(x - max): a term of the row's sum, and softmax's numerator. x - max is never positive
  // (or NaN), which lets a value type use a faster exp (exp_nonpositive).
  template <class V>
  FUSEDACT_MATH V term(V x, V max) const {
    return exp_nonpositive(x - max);
  }
  // What a row's outputs are scaled by, from its sum: the sum, or its log. Once per row.
  template <class V>
  FUSEDACT_MATH V normalizer(V sum) const {
    if constexpr (kLog) {
      return log(sum);
    } else {
      return sum;
    }
  }
  template <class V>
  FUSEDACT_MATH V forward(V x, V max, V normalizer) const {
    if constexpr (kLog) {
      return x - max - normalizer;
    } else {
      return term(x, max) / normalizer;
    }
  }
  // softmax from a term already computed.
  template <class V>
  FUSEDACT_MATH V normalize(V term, V normalizer) const {
    return term / normalizer;
  }
  // What backward sums over the row.
  template <class V>
  FUSEDACT_MATH V backward_term(V grad, V y) const {
    if constexpr (kLog) {
      return grad;
    } else {
      return grad * y;
    }
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V y, V total) const {
    if constexpr (kLog) {
      return grad - exp_nonpositive(y) * total;  // y = log_softmax <= 0
    } else {
      return y * (grad - total);
    }
  }
};

// softmin(x) = softmax(-x), as torch's: the row holds the negated inputs, and the gradient of
// x is the negated gradient of softmax's input (negation is exact, so both are bitwise torch's
// softmax of -x and its backward negated, signed zeros included).
struct Softmin : Softmax<false> {
  template <class V>
  FUSEDACT_MATH V value(V x) const {
    return -x;
  }
  template <class V>
  FUSEDACT_MATH V backward(V grad, V y, V total) const {
    return -Softmax<false>::backward(grad, y, total);
  }
};

// A row's max and sum of e^(x - max), built one element at a time and merged in any grouping
// (the online softmax of Milakov & Gimelshein, 2018). As torch's two passes do, a row of -inf,
// or one holding +inf or NaN, comes out NaN.
template <class T>
struct RowStats {
  T max;
  T sum;

  static FUSEDACT_MATH RowStats empty() { return {-INFINITY, T(0)}; }
  static FUSEDACT_MATH RowStats of(T x) { return {x, T(1)}; }

  friend FUSEDACT_MATH RowStats merge(const RowStats& a, const RowStats& b) {
    const T max = (a.max > b.max || a.max != a.max) ? a.max : b.max;  // NaN wins
    return {max, a.rescaled(max) + b.rescaled(max)};
  }

 private:
  // sum, relative to a new max. -inf to -inf keeps it (the row may hold finite values yet).
  FUSEDACT_MATH T rescaled(T new_max) const {
    return (max == new_max && max == -INFINITY) ? sum : sum * exp(max - new_max);
  }
};

}  // namespace fusedact::math
