// The softmax family (ops.h: SoftmaxOps: softmax, log_softmax, softmin along a dim): argument
// checks, the [outer, size, inner] view around dim, and the operators
//   <name>(Tensor self, int dim, bool half_to_float=False) -> Tensor
//   <name>_backward(Tensor grad_output, Tensor output, int dim) -> Tensor
// half_to_float: a float16 / bfloat16 input gives a float32 result, read and written once, as
// torch's _softmax (CUDA autocast's form). Kernels shared by every backend: a backend supplies
// `softmax<Math>(in, out, layout)` and `softmax_backward<Math>(grad, output, grad_input,
// layout)` over contiguous tensors, and says whether its forward reads a float16 / bfloat16
// input into a float32 output itself (kSoftmaxHalfToFloat; otherwise the input is converted
// first). As torch's, the results are contiguous whatever the input's layout.
#pragma once

#include "pointwise.h"
#include "row_layout.h"

#include <ATen/WrapDimUtils.h>
#include <ATen/ops/empty.h>

namespace fusedact {

template <class Op>
struct SoftmaxAutograd;  // autograd.cpp
template <class Op>
struct SoftmaxAutocastCUDA;  // autocast.cpp

template <class Op>
struct SoftmaxFamily {
  using Entry = Op;
  using Math = typename Op::Math;

  struct Forward {
    using Family = SoftmaxFamily;
    static std::string suffix() { return ""; }
    static std::string schema() { return "(Tensor self, int dim, bool half_to_float=False) -> Tensor"; }
    template <class Impl>
    static constexpr auto impl() -> decltype(&Impl::forward) {
      return &Impl::forward;
    }
  };
  struct Backward {
    using Family = SoftmaxFamily;
    static std::string suffix() { return "_backward"; }
    static std::string schema() { return "(Tensor grad_output, Tensor output, int dim) -> Tensor"; }
    template <class Impl>
    static constexpr auto impl() -> decltype(&Impl::backward) {
      return &Impl::backward;
    }
  };
  using Ops = TypeList<Forward, Backward>;

  // The rows along dim of a contiguous tensor of t's shape (a 0-D tensor is one row of one).
  static RowLayout layout(const at::Tensor& t, int64_t dim) {
    const int64_t d = at::maybe_wrap_dim(dim, t.dim());
    RowLayout layout;
    if (t.dim() == 0) return layout;
    layout.size = t.size(d);
    for (int64_t k = 0; k < d; ++k) layout.outer *= t.size(k);
    for (int64_t k = d + 1; k < t.dim(); ++k) layout.inner *= t.size(k);
    return layout;
  }

  static at::Tensor empty_contiguous(const at::Tensor& like, std::optional<at::ScalarType> dtype = std::nullopt) {
    const auto options = like.options().dtype(dtype.value_or(like.scalar_type()));
    return at::empty_symint(like.sym_sizes(), options.memory_format(at::MemoryFormat::Contiguous));
  }

  // The result's dtype: float32 for half_to_float, which takes a float16 or bfloat16 input.
  static at::ScalarType result_dtype(const at::Tensor& self, bool half_to_float) {
    check_floating(Op::kName, "input", self);
    if (!half_to_float) return self.scalar_type();
    TORCH_CHECK(self.scalar_type() == at::kHalf || self.scalar_type() == at::kBFloat16, "fusedact.", Op::kName,
                ": half_to_float takes a float16 or bfloat16 input, got ", self.scalar_type());
    return at::kFloat;
  }

  template <class Backend>
  struct Kernels {
    static at::Tensor forward(const at::Tensor& self, int64_t dim, bool half_to_float) {
      const at::ScalarType dtype = result_dtype(self, half_to_float);
      const bool convert_first = half_to_float && !Backend::kSoftmaxHalfToFloat;
      const at::Tensor in = convert_first
                                ? self.to(dtype, /*non_blocking=*/false, /*copy=*/false, at::MemoryFormat::Contiguous)
                                : self.contiguous();
      at::Tensor out = empty_contiguous(in, dtype);
      const RowLayout rows = layout(in, dim);
      if (in.numel() > 0) Backend::template softmax<Math>(in, out, rows);
      return out;
    }

    // The gradient of the input, from the output.
    static at::Tensor backward(const at::Tensor& grad, const at::Tensor& output, int64_t dim) {
      check_backward_args(op_name<Backward>(), grad, output);
      const at::Tensor g = grad.contiguous(), y = output.contiguous();
      at::Tensor grad_input = empty_contiguous(y);
      const RowLayout rows = layout(y, dim);
      if (y.numel() > 0) Backend::template softmax_backward<Math>(g, y, grad_input, rows);
      return grad_input;
    }
  };

  // The same checks and allocation, no computation.
  struct Meta {
    static at::Tensor forward(const at::Tensor& self, int64_t dim, bool half_to_float) {
      const at::ScalarType dtype = result_dtype(self, half_to_float);
      at::maybe_wrap_dim(dim, self.dim());
      return empty_contiguous(self, dtype);
    }
    static at::Tensor backward(const at::Tensor& grad, const at::Tensor& output, int64_t dim) {
      check_backward_args(op_name<Backward>(), grad, output);
      at::maybe_wrap_dim(dim, output.dim());
      return empty_contiguous(output);
    }
  };

  using Autograd = SoftmaxAutograd<Op>;
  using AutocastCUDA = SoftmaxAutocastCUDA<Op>;
};

}  // namespace fusedact
