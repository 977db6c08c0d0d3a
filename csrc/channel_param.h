// The channel-parameter family (ops.h: ChannelParamOps: prelu, swish with a tensor beta):
// argument checks, the parameter's broadcast view, and the operators
//   <name>(Tensor self, Tensor <param>) -> Tensor
//   <name>_backward(Tensor grad_output, Tensor self, Tensor <param>) -> Tensor
//   <name>_<param>_backward(Tensor grad_output, Tensor self, Tensor <param>) -> Tensor
// whose kernels are shared by every backend. A backend supplies `run` (as for the pointwise
// ops) and `channel_grad(tiling, grad, self, param, out, fn)`, which sums fn per channel as
// channel_tiling.h lays out. Under autocast they run in the lower precision, as torch's prelu.
#pragma once

#include "channel_tiling.h"
#include "pointwise.h"

#include <ATen/ops/empty.h>
#include <c10/core/SymInt.h>

#include <vector>

namespace fusedact {

template <class Op>
struct ChannelParamAutograd;  // autograd.cpp

template <class Op>
struct ChannelParamFamily {
  using Entry = Op;
  using Math = typename Op::Math;

  struct Forward {
    using Family = ChannelParamFamily;
    static std::string suffix() { return ""; }
    static std::string schema() { return "(Tensor self, Tensor " + std::string(Op::kParam) + ") -> Tensor"; }
    template <class Impl>
    static constexpr auto impl() -> decltype(&Impl::forward) {
      return &Impl::forward;
    }
  };
  // The gradient of the input.
  struct Backward {
    using Family = ChannelParamFamily;
    static std::string suffix() { return "_backward"; }
    static std::string schema() {
      return "(Tensor grad_output, Tensor self, Tensor " + std::string(Op::kParam) + ") -> Tensor";
    }
    template <class Impl>
    static constexpr auto impl() -> decltype(&Impl::backward) {
      return &Impl::backward;
    }
  };
  // The gradient of the parameter.
  struct ParamBackward {
    using Family = ChannelParamFamily;
    static std::string suffix() { return std::string("_") + Op::kParam + "_backward"; }
    static std::string schema() { return Backward::schema(); }
    template <class Impl>
    static constexpr auto impl() -> decltype(&Impl::param_backward) {
      return &Impl::param_backward;
    }
  };
  using Ops = TypeList<Forward, Backward, ParamBackward>;

  using Functors = TypeList<BinaryForwardFn<Math>, ParamBackwardFn<Math>>;
  using ChannelReductions = TypeList<ParamGradFn<Math>>;

  // Checks input and parameter as torch's prelu does and returns the parameter viewed to
  // broadcast against the input: a 0-dim tensor for one value, [1, C, 1, ...] for one per
  // channel (dim 1; a 0-D or 1-D input has a single channel).
  static at::Tensor broadcast_param(const at::Tensor& self, const at::Tensor& param) {
    const char* op = Op::kName;
    const char* name = Op::kParam;
    check_floating(op, "input", self);
    check_floating(op, name, param);
    TORCH_CHECK(param.scalar_type() == self.scalar_type(), "fusedact.", op, ": ", name, " is ", param.scalar_type(),
                " but input is ", self.scalar_type());
    TORCH_CHECK(param.device() == self.device(), "fusedact.", op, ": ", name, " is on ", param.device(),
                " but input is on ", self.device());
    TORCH_CHECK(param.dim() <= 1, "fusedact.", op, ": ", name, " must be a scalar or a 1-D tensor, got ", param.dim(),
                " dimensions");
    if (param.sym_numel() == 1) return param.reshape({});
    TORCH_CHECK(self.dim() >= 2, "fusedact.", op, ": ", name, " has ", param.sym_numel(), " elements but a ",
                self.dim(), "-D input has a single channel");
    TORCH_CHECK(param.sym_numel() == self.sym_size(1), "fusedact.", op, ": ", name, " has ", param.sym_numel(),
                " elements but input has ", self.sym_size(1), " channels");
    std::vector<c10::SymInt> shape(self.dim(), 1);
    shape[1] = self.sym_size(1);
    return param.reshape_symint(shape);
  }

  template <class Backend>
  struct Kernels {
    static at::Tensor forward(const at::Tensor& self, const at::Tensor& param) {
      at::Tensor out = output_like(self);
      auto iter = pointwise_iter({out}, {self, broadcast_param(self, param)});
      Backend::run(iter, BinaryForwardFn<Math>{});
      return out;
    }

    static at::Tensor backward(const at::Tensor& grad, const at::Tensor& self, const at::Tensor& param) {
      check_backward_args(op_name<Backward>(), grad, self);
      at::Tensor grad_input = output_like(self);
      auto iter = pointwise_iter({grad_input}, {grad, self, broadcast_param(self, param)});
      Backend::run(iter, ParamBackwardFn<Math>{});
      return grad_input;
    }

    // ParamGradFn summed per channel, deterministically.
    static at::Tensor param_backward(const at::Tensor& grad, const at::Tensor& self, const at::Tensor& param) {
      check_backward_args(op_name<ParamBackward>(), grad, self);
      broadcast_param(self, param);
      const bool per_channel = param.numel() != 1;
      const int64_t channels = per_channel ? self.size(1) : 1;
      at::Tensor out = at::empty({channels}, param.options());
      if (self.numel() == 0) return out.zero_().view(param.sizes());
      const int64_t rows = per_channel ? self.size(0) : 1;
      const auto tiling = ChannelTiling::make(rows, channels, self.numel() / (rows * channels));
      Backend::channel_grad(tiling, grad.contiguous(), self.contiguous(), param.reshape({channels}).contiguous(), out,
                            ParamGradFn<Math>{});
      return out.view(param.sizes());
    }
  };

  // The same checks and allocation, no computation.
  struct Meta {
    static at::Tensor forward(const at::Tensor& self, const at::Tensor& param) {
      broadcast_param(self, param);
      return at::empty_like(self);
    }
    static at::Tensor backward(const at::Tensor& grad, const at::Tensor& self, const at::Tensor& param) {
      check_backward_args(op_name<Backward>(), grad, self);
      broadcast_param(self, param);
      return at::empty_like(self);
    }
    static at::Tensor param_backward(const at::Tensor& grad, const at::Tensor& self, const at::Tensor& param) {
      check_backward_args(op_name<ParamBackward>(), grad, self);
      broadcast_param(self, param);
      return at::empty_symint(param.sym_sizes(), param.options());
    }
  };

  using Autograd = ChannelParamAutograd<Op>;
  using AutocastCPU = LowerPrecisionForward<ChannelParamFamily, c10::DeviceType::CPU>;
  using AutocastCUDA = LowerPrecisionForward<ChannelParamFamily, c10::DeviceType::CUDA>;
};

}  // namespace fusedact
