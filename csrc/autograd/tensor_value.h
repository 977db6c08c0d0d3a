// TensorValue: a math.h value type made of differentiable ATen ops. Evaluating a math
// struct on TensorValues records the formula in the autograd graph, which is how the
// backward ops get their own derivatives (double backward) from the one formula.
// A TensorValue is either a tensor or a constant; constants fold until they meet a tensor.
#pragma once

#include "fusedact/math.h"

#include <ATen/ATen.h>

#include <optional>
#include <utility>

namespace fusedact {

struct TensorMask {
  std::optional<at::Tensor> tensor;  // bool tensor, or
  bool constant = false;             // a constant when tensor is empty

  friend TensorMask operator&(const TensorMask& a, const TensorMask& b) {
    if (!a.tensor && !b.tensor) return {std::nullopt, a.constant && b.constant};
    return {a.as_tensor(b).logical_and(b.as_tensor(a)), false};
  }
  friend TensorMask operator|(const TensorMask& a, const TensorMask& b) {
    if (!a.tensor && !b.tensor) return {std::nullopt, a.constant || b.constant};
    return {a.as_tensor(b).logical_or(b.as_tensor(a)), false};
  }

 private:
  at::Tensor as_tensor(const TensorMask& like) const {
    return tensor ? *tensor : at::full_like(*like.tensor, constant, like.tensor->options());
  }
};

struct TensorValue {
  std::optional<at::Tensor> tensor;
  double constant = 0;

  TensorValue(at::Tensor t) : tensor(std::move(t)) {}
  explicit TensorValue(double c) : constant(c) {}

  const at::Tensor& get() const { return *tensor; }

#define FUSEDACT_TENSOR_BINARY(op, tensor_tensor, tensor_scalar, scalar_tensor)        \
  friend TensorValue operator op(const TensorValue& a, const TensorValue& b) {         \
    if (a.tensor && b.tensor) return TensorValue(tensor_tensor(*a.tensor, *b.tensor)); \
    if (a.tensor) return TensorValue(tensor_scalar(*a.tensor, b.constant));            \
    if (b.tensor) return TensorValue(scalar_tensor(a.constant, *b.tensor));            \
    return TensorValue(a.constant op b.constant);                                      \
  }
  FUSEDACT_TENSOR_BINARY(+, at::add, at::add, [](double c, const at::Tensor& t) { return at::add(t, c); })
  FUSEDACT_TENSOR_BINARY(-, at::sub, at::sub, [](double c, const at::Tensor& t) { return at::rsub(t, c); })
  FUSEDACT_TENSOR_BINARY(*, at::mul, at::mul, [](double c, const at::Tensor& t) { return at::mul(t, c); })
  FUSEDACT_TENSOR_BINARY(/, at::div, at::div,
                         [](double c, const at::Tensor& t) { return at::mul(at::reciprocal(t), c); })
#undef FUSEDACT_TENSOR_BINARY

  friend TensorValue operator-(const TensorValue& a) {
    return a.tensor ? TensorValue(at::neg(*a.tensor)) : TensorValue(-a.constant);
  }

#define FUSEDACT_TENSOR_COMPARE(op, name)                                             \
  friend TensorMask operator op(const TensorValue& a, const TensorValue& b) {         \
    if (a.tensor && b.tensor) return {at::name(*a.tensor, *b.tensor)};                \
    if (a.tensor) return {at::name(*a.tensor, b.constant)};                           \
    if (b.tensor) return {at::name(at::full_like(*b.tensor, a.constant), *b.tensor)}; \
    return {std::nullopt, a.constant op b.constant};                                  \
  }
  FUSEDACT_TENSOR_COMPARE(<, lt)
  FUSEDACT_TENSOR_COMPARE(<=, le)
  FUSEDACT_TENSOR_COMPARE(>, gt)
  FUSEDACT_TENSOR_COMPARE(>=, ge)
#undef FUSEDACT_TENSOR_COMPARE

  friend TensorValue select(const TensorMask& mask, const TensorValue& a, const TensorValue& b) {
    if (!mask.tensor) return mask.constant ? a : b;
    if (a.tensor && b.tensor) return TensorValue(at::where(*mask.tensor, *a.tensor, *b.tensor));
    if (a.tensor) return TensorValue(at::where(*mask.tensor, *a.tensor, b.constant));
    if (b.tensor) return TensorValue(at::where(*mask.tensor, a.constant, *b.tensor));
    return TensorValue(at::where(*mask.tensor, a.constant, b.constant));
  }

#define FUSEDACT_TENSOR_UNARY(name)                                                          \
  friend TensorValue name(const TensorValue& a) {                                            \
    return a.tensor ? TensorValue(at::name(*a.tensor)) : TensorValue(std::name(a.constant)); \
  }
  FUSEDACT_TENSOR_UNARY(exp)
  FUSEDACT_TENSOR_UNARY(expm1)
  FUSEDACT_TENSOR_UNARY(log)
  friend TensorValue exp_nonpositive(const TensorValue& a) { return exp(a); }
  friend TensorValue log1p_unit(const TensorValue& a) {
    return a.tensor ? TensorValue(at::log1p(*a.tensor)) : TensorValue(std::log1p(a.constant));
  }
  FUSEDACT_TENSOR_UNARY(tanh)
  friend TensorValue normal_cdf(const TensorValue& a) {
    return a.tensor ? TensorValue((at::erf(*a.tensor * math::kSqrt1_2) + 1) * 0.5)
                    : TensorValue(math::normal_cdf(a.constant));
  }
#undef FUSEDACT_TENSOR_UNARY
};

}  // namespace fusedact
