// fusedact's C++ API: the activation functions, with autograd, for LibTorch programs.
// Each call goes through the PyTorch dispatcher, so it runs on CPU or CUDA as the input
// is, and records gradients when the input requires them.
//
//   #include <fusedact/fusedact.h>
//   auto y = fusedact::gelu(x, "tanh");
//
// Modules (fusedact::nn::GELU, ...) are in <fusedact/nn.h>.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include <optional>
#include <string>
#include <vector>

namespace fusedact {

// Each function matches its torch:: / torch::nn::functional twin; the `_` forms work in
// place and return their input.

/// 1 / (1 + e^-x). torch::sigmoid.
at::Tensor sigmoid(const at::Tensor& input);
/// tanh(x). torch::tanh.
at::Tensor tanh(const at::Tensor& input);

/// max(0, x). torch::relu.
at::Tensor relu(const at::Tensor& input);
at::Tensor& relu_(at::Tensor& input);

/// x if x > 0 else negative_slope * x. torch::leaky_relu.
at::Tensor leaky_relu(const at::Tensor& input, double negative_slope = 0.01);
at::Tensor& leaky_relu_(at::Tensor& input, double negative_slope = 0.01);

/// x if x > 0 else r * x: in training r drawn for each element uniformly from [lower, upper)
/// with torch's default generator (torch::manual_seed governs it), else (lower + upper) / 2.
/// torch::rrelu.
at::Tensor rrelu(const at::Tensor& input, double lower = 1.0 / 8, double upper = 1.0 / 3, bool training = false);
at::Tensor& rrelu_(at::Tensor& input, double lower = 1.0 / 8, double upper = 1.0 / 3, bool training = false);

/// x if x > 0 else weight * x, weight one value or one per channel (dim 1). torch::prelu.
at::Tensor prelu(const at::Tensor& input, const at::Tensor& weight);

/// x if x > 0 else alpha * (e^x - 1). torch::elu.
at::Tensor elu(const at::Tensor& input, double alpha = 1.0);
at::Tensor& elu_(at::Tensor& input, double alpha = 1.0);

/// lambda * elu(x, alpha) with SELU's constants. torch::selu.
at::Tensor selu(const at::Tensor& input);
at::Tensor& selu_(at::Tensor& input);

/// x * Phi(x), or its tanh approximation with approximate = "tanh". torch::gelu.
at::Tensor gelu(const at::Tensor& input, c10::string_view approximate = "none");

/// x * sigmoid(1.702 x), CLIP's GELU.
at::Tensor quick_gelu(const at::Tensor& input);

/// x * sigmoid(x). torch::silu.
at::Tensor silu(const at::Tensor& input);
at::Tensor& silu_(at::Tensor& input);

/// x * sigmoid(beta * x), beta a constant.
at::Tensor swish(const at::Tensor& input, double beta = 1.0);
/// x * sigmoid(beta * x), beta a tensor (one value, or one per channel along dim 1) that
/// receives a gradient.
at::Tensor swish(const at::Tensor& input, const at::Tensor& beta);

/// x * tanh(softplus(x)). torch::mish.
at::Tensor mish(const at::Tensor& input);
at::Tensor& mish_(at::Tensor& input);

/// log(1 + e^(beta x)) / beta, x where beta x > threshold. torch::softplus.
at::Tensor softplus(const at::Tensor& input, double beta = 1.0, double threshold = 20.0);

/// min(max(x, min_val), max_val). torch::hardtanh.
at::Tensor hardtanh(const at::Tensor& input, double min_val = -1.0, double max_val = 1.0);
at::Tensor& hardtanh_(at::Tensor& input, double min_val = -1.0, double max_val = 1.0);

/// min(max(x, 0), 6). torch::nn::functional::relu6.
at::Tensor relu6(const at::Tensor& input);
at::Tensor& relu6_(at::Tensor& input);

/// relu6(x + 3) / 6. torch::hardsigmoid.
at::Tensor hardsigmoid(const at::Tensor& input);
at::Tensor& hardsigmoid_(at::Tensor& input);

/// x * relu6(x + 3) / 6. torch::hardswish.
at::Tensor hardswish(const at::Tensor& input);
at::Tensor& hardswish_(at::Tensor& input);

/// max(0, x) + min(0, alpha * (e^(x / alpha) - 1)). torch::celu.
at::Tensor celu(const at::Tensor& input, double alpha = 1.0);
at::Tensor& celu_(at::Tensor& input, double alpha = 1.0);

/// log(sigmoid(x)). torch::log_sigmoid.
at::Tensor logsigmoid(const at::Tensor& input);

/// x / (1 + |x|). torch::nn::functional::softsign.
at::Tensor softsign(const at::Tensor& input);

/// x - tanh(x). torch::nn::functional::tanhshrink.
at::Tensor tanhshrink(const at::Tensor& input);

/// x - lambd above lambd, x + lambd below -lambd, 0 between. torch::softshrink.
at::Tensor softshrink(const at::Tensor& input, double lambd = 0.5);

/// x outside [-lambd, lambd], 0 inside. torch::hardshrink.
at::Tensor hardshrink(const at::Tensor& input, double lambd = 0.5);

/// value where x <= threshold, else x. torch::threshold.
at::Tensor threshold(const at::Tensor& input, double threshold, double value);
at::Tensor& threshold_(at::Tensor& input, double threshold, double value);

/// relu(x)^2, the squared ReLU of Primer (So et al. 2021).
at::Tensor relu_squared(const at::Tensor& input);

/// e^(x_i - max) / sum_k e^(x_k - max) along dim; dtype casts the input first. torch::softmax.
at::Tensor softmax(const at::Tensor& input, int64_t dim, std::optional<at::ScalarType> dtype = std::nullopt);
/// x_i - max - log(sum_k e^(x_k - max)) along dim; dtype casts the input first. torch::log_softmax.
at::Tensor log_softmax(const at::Tensor& input, int64_t dim, std::optional<at::ScalarType> dtype = std::nullopt);
/// softmax(-x) along dim in one pass, as torch's; dtype casts the input first. torch::nn::functional::softmin.
at::Tensor softmin(const at::Tensor& input, int64_t dim, std::optional<at::ScalarType> dtype = std::nullopt);

// GLU variants, act(gate) * up: with two tensors of one shape, or with one tensor whose
// first half along dim is the gate and second half up (the LLaMA convention; torch's glu
// gates with the second half instead).

/// silu(gate) * up.
at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up);
/// swiglu of the halves of input along dim.
at::Tensor swiglu(const at::Tensor& input, int64_t dim = -1);
/// gelu(gate, approximate) * up.
at::Tensor geglu(const at::Tensor& gate, const at::Tensor& up, c10::string_view approximate = "none");
/// geglu of the halves of input along dim.
at::Tensor geglu(const at::Tensor& input, int64_t dim = -1, c10::string_view approximate = "none");
/// relu(gate) * up.
at::Tensor reglu(const at::Tensor& gate, const at::Tensor& up);
/// reglu of the halves of input along dim.
at::Tensor reglu(const at::Tensor& input, int64_t dim = -1);
/// relu(gate)^2 * up.
at::Tensor relu_squared_glu(const at::Tensor& gate, const at::Tensor& up);
/// relu_squared_glu of the halves of input along dim.
at::Tensor relu_squared_glu(const at::Tensor& input, int64_t dim = -1);
/// quick_gelu(gate) * up = gate * sigmoid(1.702 gate) * up.
at::Tensor quick_gelu_glu(const at::Tensor& gate, const at::Tensor& up);
/// quick_gelu_glu of the halves of input along dim.
at::Tensor quick_gelu_glu(const at::Tensor& input, int64_t dim = -1);
/// gpt-oss's SwiGLU: (up.clamp(-limit, limit) + 1) * g * sigmoid(alpha * g), g = gate.clamp(max=limit);
/// clamped values get no gradient, as through torch::clamp.
at::Tensor clamped_swiglu(const at::Tensor& gate, const at::Tensor& up, double limit = 7.0, double alpha = 1.702);
/// clamped_swiglu of the halves of input along dim.
at::Tensor clamped_swiglu(const at::Tensor& input, int64_t dim = -1, double limit = 7.0, double alpha = 1.702);
/// a * sigmoid(b) with a, b the halves of input along dim: the gate is the second half, as
/// torch::glu's.
at::Tensor glu(const at::Tensor& input, int64_t dim = -1);

/// The SwiGLU feed-forward block of LLaMA-style transformers, weights as nn.Linear stores
/// them: (silu(x w_gate^T + b_gate) * (x w_up^T + b_up)) w_down^T + b_down. Backward keeps x
/// and the gate/up projections only. transformers' LlamaMLP; the same composition in torch.
at::Tensor swiglu_ffn(const at::Tensor& x, const at::Tensor& w_gate, const at::Tensor& w_up, const at::Tensor& w_down,
                      const std::optional<at::Tensor>& b_gate = std::nullopt,
                      const std::optional<at::Tensor>& b_up = std::nullopt,
                      const std::optional<at::Tensor>& b_down = std::nullopt);

/// The gated feed-forward block with the gate's activation named: "silu" (swiglu_ffn), "gelu",
/// "gelu_tanh" (Gemma's, T5 v1.1's), "relu" or "quick_gelu":
/// (act(x w_gate^T + b_gate) * (x w_up^T + b_up)) w_down^T + b_down.
at::Tensor gated_ffn(const at::Tensor& x, const at::Tensor& w_gate, const at::Tensor& w_up, const at::Tensor& w_down,
                     const std::optional<at::Tensor>& b_gate = std::nullopt,
                     const std::optional<at::Tensor>& b_up = std::nullopt,
                     const std::optional<at::Tensor>& b_down = std::nullopt, c10::string_view activation = "silu");

/// How this build of fusedact was made, and what it runs with.
struct BuildInfo {
  std::string torch;                    // torch version it was built against
  bool cuda = false;                    // whether the CUDA kernels were compiled in
  std::string cuda_version;             // CUDA toolkit version, when cuda
  std::vector<std::string> cuda_archs;  // compiled architectures, e.g. "80", "90"
  std::string cpu_isa;                  // instruction set the CPU kernels run with now
  std::vector<std::string> cpu_isas;    // those this build and this CPU could use
  int64_t cpu_cache_bytes = 0;          // last-level cache the CPU kernels assume: ops whose
                                        // operands outgrow it write with streaming stores
};
BuildInfo build_info();

/// Makes the CPU kernels use one instruction set ("default", "avx2", "avx512" or "avx512_bf16"),
/// as the environment variable FUSEDACT_CPU_ISA does at load time.
void set_cpu_isa(const std::string& name);

}  // namespace fusedact
