// gated_ffn: the gated feed-forward block of LLaMA-style transformers,
//   out = (act(x W_gate^T + b_gate) * (x W_up^T + b_up)) W_down^T + b_down,
// weights laid out as nn.Linear stores them, act one of silu (SwiGLU: LLaMA, Mistral, Qwen),
// gelu, gelu_tanh (GeGLU: Gemma, T5 v1.1), relu (ReGLU) or quick_gelu. The GEMMs go through
// ATen (cuBLAS, the CPU BLAS); the element-wise work is the fused split GLU kernels of act. The gate and up projections
// land in the two halves of one [tokens, 2 * hidden] buffer: one GEMM when w_gate and w_up are the halves of one packed
// tensor, else two GEMMs writing into the halves. Backward needs only x and that buffer: the hidden activation is
// recomputed, and one fused kernel turns the hidden gradient into the gate and up gradients, side by side in one buffer
// again.
#pragma once

#include "glu.h"

#include <ATen/ATen.h>

#include <optional>

namespace fusedact {

struct GatedFfn {
  static constexpr const char* kName = "gated_ffn";
  static constexpr const char* kSchema =
      "gated_ffn(Tensor x, Tensor w_gate, Tensor w_up, Tensor w_down, Tensor? b_gate=None, Tensor? b_up=None, "
      "Tensor? b_down=None, *, str activation='silu') -> Tensor";

  // The activation of the gate, as the schema's `activation` names it.
  enum class Activation { kSilu, kGelu, kGeluTanh, kRelu, kQuickGelu };
  static Activation activation(c10::string_view name);

  struct Weights {
    at::Tensor w_gate, w_up, w_down;  // [hidden, in], [hidden, in], [out, hidden]
    at::Tensor b_gate, b_up, b_down;  // [hidden], [hidden], [out], or undefined
  };

  // The gradients gated_ffn's backward returns (undefined where not wanted or no bias).
  struct Grads {
    at::Tensor x, w_gate, w_up, w_down, b_gate, b_up, b_down;
  };

  static const auto& op() {
    static const auto op = find_op<at::Tensor(
        const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&,
        const std::optional<at::Tensor>&, const std::optional<at::Tensor>&, c10::string_view)>(kName);
    return op;
  }

  // Checks x and the weights (dtypes, devices, shapes), naming the one that is off.
  static void check(const at::Tensor& x, const Weights& w);

  // Whether a and b are the first and second halves of one contiguous tensor.
  static bool packed(const at::Tensor& a, const at::Tensor& b);

  // t as [tokens, features] (a view where t's layout allows). The tokens are counted rather
  // than inferred (-1), which a tensor of zero features would leave undetermined.
  static at::Tensor flatten(const at::Tensor& t) {
    c10::SymInt tokens = 1;
    for (int64_t d = 0; d + 1 < t.dim(); ++d) tokens *= t.sym_size(d);
    return t.reshape_symint({std::move(tokens), t.sym_size(-1)});
  }

  // [tokens, 2 * hidden]: x2d W_gate^T + b_gate, then x2d W_up^T + b_up.
  static at::Tensor gate_up(const at::Tensor& x2d, const Weights& w);

  // act(gate) * up from gate_up, the split GLU op of act: [tokens, hidden].
  static at::Tensor gated(const at::Tensor& gate_up, Activation act);

  // The gradient of gated(gate_up, act) into [tokens, 2 * hidden], gate and up side by side.
  static at::Tensor gated_backward(const at::Tensor& grad_hidden, const at::Tensor& gate_up, Activation act);

  // The block's output from x2d and gate_up, shaped as x with out features.
  static at::Tensor output(const at::Tensor& x, const at::Tensor& gate_up, const Weights& w, Activation act);

  // All of it: the kernel of every backend (CompositeExplicitAutograd).
  static at::Tensor forward(const at::Tensor& x, const at::Tensor& w_gate, const at::Tensor& w_up,
                            const at::Tensor& w_down, const std::optional<at::Tensor>& b_gate,
                            const std::optional<at::Tensor>& b_up, const std::optional<at::Tensor>& b_down,
                            c10::string_view activation);

  // The gradients wanted (needs[i] for x, w_gate, w_up, w_down, b_gate, b_up, b_down) from
  // the output's gradient and what forward kept: x and gate_up.
  static Grads backward(const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& gate_up, const Weights& w,
                        Activation act, const std::array<bool, 7>& needs);
};

}  // namespace fusedact
