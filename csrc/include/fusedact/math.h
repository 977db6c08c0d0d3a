// The math of every fusedact activation, written once.
//
// Each activation is a small struct with `forward(x)` and `backward(grad, s)`, where s is
// the saved input or output (the struct's `kSaves` says which). The members are templates
// over a value type V, and the same formula runs as:
//   - float / double on CUDA threads (host+device functions),
//   - at::vec::Vectorized lanes in the CPU kernels (csrc/cpu/vec.h),
//   - differentiable ATen tensor ops for double backward (csrc/autograd/tensor_value.h).
// A formula may only use what every value type provides: + - * /, unary -, the
// comparisons (giving a mask), select(mask, a, b), V(constant) and the functions
// declared below (exp, expm1, log1p, tanh, erf). No data-dependent `if`.
//
// Formulas follow the operation order of ATen's kernels, so that overflow, NaN and
// signed zeros come out where torch's do.
#pragma once

#include <c10/macros/Macros.h>

#include <cmath>

// Every math function is forced inline: the per-instruction-set CPU objects must not
// share an out-of-line copy compiled for a wider instruction set than the caller's.
#define FUSEDACT_MATH C10_HOST_DEVICE C10_ALWAYS_INLINE

namespace fusedact::math {

// ---- scalar primitives (float and double, host and device) -------------------------

FUSEDACT_MATH float exp(float x) { return ::expf(x); }
FUSEDACT_MATH double exp(double x) { return ::exp(x); }
FUSEDACT_MATH float expm1(float x) { return ::expm1f(x); }
FUSEDACT_MATH double expm1(double x) { return ::expm1(x); }
FUSEDACT_MATH float log1p(float x) { return ::log1pf(x); }
FUSEDACT_MATH double log1p(double x) { return ::log1p(x); }
FUSEDACT_MATH float tanh(float x) { return ::tanhf(x); }
FUSEDACT_MATH double tanh(double x) { return ::tanh(x); }
FUSEDACT_MATH float erf(float x) { return ::erff(x); }
FUSEDACT_MATH double erf(double x) { return ::erf(x); }

// Lane-wise choice: a where mask holds, else b. Both sides are evaluated.
template <class T>
FUSEDACT_MATH T select(bool mask, T a, T b) {
  return mask ? a : b;
}

// ---- constants -----------------------------------------------------------------------

constexpr double kSqrt1_2 = 0.70710678118654752440;        // 1/sqrt(2)
constexpr double kSqrt2OverPi = 0.79788456080286535588;    // sqrt(2/pi)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;     // 1/sqrt(2*pi)
constexpr double kGeluKappa = 0.044715;  // tanh approximation, Hendrycks & Gimpel 2016

// Whether backward needs the op's input or can work from its output alone; the
// output form saves memory and is what makes in-place variants possible.
enum class Saves { Input, Output };

// ---- activations -----------------------------------------------------------------------

// relu(x) = max(0, x). NaN and -0.0 pass through unchanged, as torch's clamp_min does.
struct Relu {
  static constexpr Saves kSaves = Saves::Output;

  template <class V>
  FUSEDACT_MATH V forward(V x) const {
    return select(x < V(0), V(0), x);
  }
  // From the output y: grad where y > 0 (torch's threshold_backward, so relu'(0) = 0).
  template <class V>
  FUSEDACT_MATH V backward(V grad, V y) const {
    return select(y <= V(0), V(0), grad);
  }
};

// gelu(x) = x * Phi(x), exactly (erf) or with the tanh approximation
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
    return x * V(0.5) * (V(1) + erf(x * V(kSqrt1_2)));
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
    V cdf = V(0.5) * (V(1) + erf(x * V(kSqrt1_2)));
    V pdf = V(kInvSqrt2Pi) * exp(V(-0.5) * (x * x));
    return grad * (cdf + x * pdf);
  }
};

}  // namespace fusedact::math
