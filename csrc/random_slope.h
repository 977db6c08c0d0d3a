// The random-slope family (ops.h: RandomSlopeOps: rrelu): an activation whose slope below 0
// is drawn per element in training and fixed (the mean) in evaluation. Its operators
//   <name>(Tensor self, Tensor? seed, <params>) -> Tensor
//   <name>_backward(Tensor grad_output, Tensor output, Tensor? seed, <params>) -> Tensor
//   <name>_(Tensor(a!) self, Tensor? seed, <params>) -> ()
// take the seed of the draws, a one-element int64 tensor on the input's device that the caller
// draws from torch's generator (fusedact.functional.rrelu, fusedact::rrelu), or None for
// evaluation. The operators are thus pure functions of their arguments (opcheck, torch.compile,
// export and CUDA graphs see the draw as torch's own op), and backward recomputes each slope
// from the seed and the element's index (random_slope_work.h) instead of saving them: it keeps
// the output only. An element's index is its row-major position, so the layout does not
// change the slopes: every operand is made contiguous, and the result copied into a
// non-contiguous output.
#pragma once

#include "pointwise.h"
#include "random_slope_work.h"

#include <ATen/ops/empty.h>

#include <array>
#include <optional>

namespace fusedact {

// Training's forward and backward: u is the element's uniform number (random_slope_work.h).
template <class Math>
struct RandomSlopeForwardFn {
  static constexpr int kInputs = 1;
  Math math;
  template <class V>
  FUSEDACT_MATH V operator()(V u, V x) const {
    return math.forward(x, math.slope(u));
  }
};
template <class Math>
struct RandomSlopeBackwardFn {
  static constexpr int kInputs = 2;
  Math math;
  template <class V>
  FUSEDACT_MATH V operator()(V u, V grad, V output) const {
    return math.backward(grad, output, math.slope(u));
  }
};

template <class Op, class Params = ParamTypes<Op>>
struct RandomSlopeAutograd;  // autograd.cpp
template <class Op, class Params = ParamTypes<Op>>
struct RandomSlopeInplaceOrView;  // inplace_or_view.cpp

template <class Op, class Params = ParamTypes<Op>>
struct RandomSlopeFamily;

template <class Op, class... P>
struct RandomSlopeFamily<Op, c10::guts::typelist::typelist<P...>> {
  using Entry = Op;
  using Math = typename Op::Math;
  using Seed = const std::optional<at::Tensor>&;
  static_assert(make_matches_params<Op>(), "make's parameters must be kParams' C++ types");

  struct Forward {
    using Family = RandomSlopeFamily;
    static std::string suffix() { return ""; }
    static std::string schema() { return "(Tensor self, Tensor? seed" + schema_params(Op::kParams) + ") -> Tensor"; }
    template <class Impl>
    static constexpr auto impl() -> decltype(&Impl::forward) {
      return &Impl::forward;
    }
  };
  struct Backward {
    using Family = RandomSlopeFamily;
    static std::string suffix() { return "_backward"; }
    static std::string schema() {
      return "(Tensor grad_output, Tensor output, Tensor? seed" + schema_params(Op::kParams) + ") -> Tensor";
    }
    template <class Impl>
    static constexpr auto impl() -> decltype(&Impl::backward) {
      return &Impl::backward;
    }
  };
  struct Inplace {
    using Family = RandomSlopeFamily;
    static std::string suffix() { return "_"; }
    static std::string schema() { return "(Tensor(a!) self, Tensor? seed" + schema_params(Op::kParams) + ") -> ()"; }
    template <class Impl>
    static constexpr auto impl() -> decltype(&Impl::forward_) {
      return &Impl::forward_;
    }
  };
  using Ops = TypeList<Forward, Backward, Inplace>;

  // Evaluation runs as leaky_relu with the mean slope: its functors, through Backend::run.
  using Fixed = math::LeakyRelu;
  using Functors = TypeList<ForwardFn<Fixed>, BackwardFn<Fixed>>;
  // Training's, through Backend::random_slope.
  using RandomFunctors = TypeList<RandomSlopeForwardFn<Math>, RandomSlopeBackwardFn<Math>>;

  // The math for the arguments, checked: the input's dtype, the seed's, the parameters.
  static Math math(const char* op, const at::Tensor& self, Seed seed, P... params) {
    check_floating(op, "input", self);
    Math m = Op::make(params...);
    check_params_fit(op, self.scalar_type(), Op::kParams, params...);
    if (seed.has_value()) {
      TORCH_CHECK(seed->scalar_type() == at::kLong && seed->sym_numel() == 1, "fusedact.", op,
                  ": seed must be an int64 tensor of one element, got ", seed->scalar_type(), " of shape ",
                  seed->sym_sizes());
      TORCH_CHECK(seed->device() == self.device(), "fusedact.", op, ": seed is on ", seed->device(),
                  " but input is on ", self.device());
    }
    return m;
  }
  static Fixed fixed(const Math& m) {
    const double slope = m.mean_slope();
    return {slope};
  }

  template <class Backend>
  struct Kernels {
    // fn over contiguous copies of the inputs into out, through a contiguous buffer if out is not.
    template <class Fn, size_t K>
    static void run_random(const at::Tensor& out, const std::array<at::Tensor, K>& inputs, const at::Tensor& seed,
                           const Fn& fn) {
      std::array<at::Tensor, K> contiguous;
      for (size_t k = 0; k < K; ++k) contiguous[k] = inputs[k].contiguous();
      if (out.is_contiguous()) {
        Backend::random_slope(out, contiguous, seed, fn);
        return;
      }
      at::Tensor buffer = at::empty(out.sizes(), out.options());
      Backend::random_slope(buffer, contiguous, seed, fn);
      out.copy_(buffer);
    }

    static at::Tensor forward(const at::Tensor& self, Seed seed, P... params) {
      const Math m = math(Op::kName, self, seed, params...);
      at::Tensor out = output_like(self);
      if (seed.has_value()) {
        run_random(out, std::array{self}, *seed, RandomSlopeForwardFn<Math>{m});
      } else {
        auto iter = pointwise_iter({out}, {self});
        Backend::run(iter, ForwardFn<Fixed>{fixed(m)});
      }
      return out;
    }

    static void forward_(at::Tensor& self, Seed seed, P... params) {
      const Math m = math(op_name<Inplace>().c_str(), self, seed, params...);
      if (seed.has_value()) {
        run_random(self, std::array{self}, *seed, RandomSlopeForwardFn<Math>{m});
      } else {
        auto iter = pointwise_iter({self}, {self});
        Backend::run(iter, ForwardFn<Fixed>{fixed(m)});
      }
    }

    static at::Tensor backward(const at::Tensor& grad, const at::Tensor& output, Seed seed, P... params) {
      const std::string& name = op_name<Backward>();
      check_backward_args(name, grad, output);
      const Math m = math(name.c_str(), output, seed, params...);
      at::Tensor grad_input = output_like(output);
      if (seed.has_value()) {
        run_random(grad_input, std::array{grad, output}, *seed, RandomSlopeBackwardFn<Math>{m});
      } else {
        auto iter = pointwise_iter({grad_input}, {grad, output});
        Backend::run(iter, BackwardFn<Fixed>{fixed(m)});
      }
      return grad_input;
    }
  };

  // The same checks and allocation, no computation.
  struct Meta {
    static at::Tensor forward(const at::Tensor& self, Seed seed, P... params) {
      (void)math(Op::kName, self, seed, params...);
      return at::empty_like(self);
    }
    static void forward_(at::Tensor& self, Seed seed, P... params) {
      (void)math(op_name<Inplace>().c_str(), self, seed, params...);
    }
    static at::Tensor backward(const at::Tensor& grad, const at::Tensor& output, Seed seed, P... params) {
      const std::string& name = op_name<Backward>();
      check_backward_args(name, grad, output);
      (void)math(name.c_str(), output, seed, params...);
      return at::empty_like(output);
    }
  };

  using Autograd = RandomSlopeAutograd<Op>;
  using InplaceOrView = RandomSlopeInplaceOrView<Op>;
};

}  // namespace fusedact
