// fusedact's C++ modules: drop-in replacements for the torch::nn activation modules,
// taking the same options structs (torch::nn::GELUOptions, ...).
//
//   #include <fusedact/nn.h>
//   torch::nn::Sequential net(torch::nn::Linear(64, 64), fusedact::nn::GELU());
#pragma once

#include <fusedact/fusedact.h>

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/options/activation.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <optional>
#include <ostream>
#include <string>
#include <utility>

namespace fusedact::nn {

// Shared by the activation modules: no parameters, an options struct, nothing to reset.
template <class Derived, class Options>
class Activation : public torch::nn::Cloneable<Derived> {
 public:
  explicit Activation(Options options_ = {}) : options(std::move(options_)) {}
  void reset() override {}
  Options options;
};

// For the activations whose torch::nn module takes no options.
struct NoOptions {};

// Options of Swish (no torch::nn twin): x * sigmoid(beta * x), beta a constant or, with
// learnable(true), a parameter named "beta" initialised to it.
struct SwishOptions {
  SwishOptions(double beta = 1.0) : beta_(beta) {}  // NOLINT(google-explicit-constructor): as torch's options
  TORCH_ARG(double, beta);
  TORCH_ARG(bool, learnable) = false;
};

class SigmoidImpl : public Activation<SigmoidImpl, NoOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::sigmoid(input); }
  void pretty_print(std::ostream& stream) const override { stream << "fusedact::nn::Sigmoid()"; }
};
TORCH_MODULE(Sigmoid);

class TanhImpl : public Activation<TanhImpl, NoOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::tanh(input); }
  void pretty_print(std::ostream& stream) const override { stream << "fusedact::nn::Tanh()"; }
};
TORCH_MODULE(Tanh);

class ReLUImpl : public Activation<ReLUImpl, torch::nn::ReLUOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(at::Tensor input) { return options.inplace() ? fusedact::relu_(input) : fusedact::relu(input); }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::ReLU(" << (options.inplace() ? "inplace=true" : "") << ")";
  }
};
TORCH_MODULE(ReLU);

class LeakyReLUImpl : public Activation<LeakyReLUImpl, torch::nn::LeakyReLUOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(at::Tensor input) {
    const double slope = options.negative_slope();
    return options.inplace() ? fusedact::leaky_relu_(input, slope) : fusedact::leaky_relu(input, slope);
  }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::LeakyReLU(negative_slope=" << options.negative_slope()
           << (options.inplace() ? ", inplace=true" : "") << ")";
  }
};
TORCH_MODULE(LeakyReLU);

// As torch::nn::RReLU: random slopes in training (is_training()), their mean in evaluation.
class RReLUImpl : public Activation<RReLUImpl, torch::nn::RReLUOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(at::Tensor input) {
    const double lower = options.lower(), upper = options.upper();
    return options.inplace() ? fusedact::rrelu_(input, lower, upper, this->is_training())
                             : fusedact::rrelu(input, lower, upper, this->is_training());
  }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::RReLU(lower=" << options.lower() << ", upper=" << options.upper()
           << (options.inplace() ? ", inplace=true" : "") << ")";
  }
};
TORCH_MODULE(RReLU);

// As torch::nn::PReLU: a parameter "weight" of num_parameters values, initialised to init.
class PReLUImpl : public torch::nn::Cloneable<PReLUImpl> {
 public:
  explicit PReLUImpl(torch::nn::PReLUOptions options_ = {}) : options(std::move(options_)) { reset(); }
  void reset() override {
    weight = register_parameter("weight", torch::full({options.num_parameters()}, options.init()));
  }
  at::Tensor forward(const at::Tensor& input) { return fusedact::prelu(input, weight); }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::PReLU(num_parameters=" << options.num_parameters() << ")";
  }
  torch::nn::PReLUOptions options;
  at::Tensor weight;
};
TORCH_MODULE(PReLU);

class ELUImpl : public Activation<ELUImpl, torch::nn::ELUOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(at::Tensor input) {
    return options.inplace() ? fusedact::elu_(input, options.alpha()) : fusedact::elu(input, options.alpha());
  }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::ELU(alpha=" << options.alpha() << (options.inplace() ? ", inplace=true" : "") << ")";
  }
};
TORCH_MODULE(ELU);

class SELUImpl : public Activation<SELUImpl, torch::nn::SELUOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(at::Tensor input) { return options.inplace() ? fusedact::selu_(input) : fusedact::selu(input); }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::SELU(" << (options.inplace() ? "inplace=true" : "") << ")";
  }
};
TORCH_MODULE(SELU);

class GELUImpl : public Activation<GELUImpl, torch::nn::GELUOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::gelu(input, options.approximate()); }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::GELU(approximate=" << options.approximate() << ")";
  }
};
TORCH_MODULE(GELU);

class QuickGELUImpl : public Activation<QuickGELUImpl, NoOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::quick_gelu(input); }
  void pretty_print(std::ostream& stream) const override { stream << "fusedact::nn::QuickGELU()"; }
};
TORCH_MODULE(QuickGELU);

class SiLUImpl : public Activation<SiLUImpl, NoOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::silu(input); }
  void pretty_print(std::ostream& stream) const override { stream << "fusedact::nn::SiLU()"; }
};
TORCH_MODULE(SiLU);

class SwishImpl : public torch::nn::Cloneable<SwishImpl> {
 public:
  explicit SwishImpl(SwishOptions options_ = {}) : options(std::move(options_)) { reset(); }
  void reset() override {
    if (options.learnable()) beta = register_parameter("beta", torch::full({1}, options.beta()));
  }
  at::Tensor forward(const at::Tensor& input) {
    return options.learnable() ? fusedact::swish(input, beta) : fusedact::swish(input, options.beta());
  }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::Swish(beta=" << options.beta() << (options.learnable() ? ", learnable=true" : "") << ")";
  }
  SwishOptions options;
  at::Tensor beta;  // the parameter, when learnable
};
TORCH_MODULE(Swish);

class MishImpl : public Activation<MishImpl, NoOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::mish(input); }
  void pretty_print(std::ostream& stream) const override { stream << "fusedact::nn::Mish()"; }
};
TORCH_MODULE(Mish);

class SoftplusImpl : public Activation<SoftplusImpl, torch::nn::SoftplusOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::softplus(input, options.beta(), options.threshold()); }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::Softplus(beta=" << options.beta() << ", threshold=" << options.threshold() << ")";
  }
};
TORCH_MODULE(Softplus);

class HardtanhImpl : public Activation<HardtanhImpl, torch::nn::HardtanhOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(at::Tensor input) {
    const double low = options.min_val(), high = options.max_val();
    return options.inplace() ? fusedact::hardtanh_(input, low, high) : fusedact::hardtanh(input, low, high);
  }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::Hardtanh(min_val=" << options.min_val() << ", max_val=" << options.max_val()
           << (options.inplace() ? ", inplace=true" : "") << ")";
  }
};
TORCH_MODULE(Hardtanh);

class ReLU6Impl : public Activation<ReLU6Impl, torch::nn::ReLU6Options> {
 public:
  using Activation::Activation;
  at::Tensor forward(at::Tensor input) { return options.inplace() ? fusedact::relu6_(input) : fusedact::relu6(input); }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::ReLU6(" << (options.inplace() ? "inplace=true" : "") << ")";
  }
};
TORCH_MODULE(ReLU6);

// Options of Hardsigmoid and Hardswish, whose torch.nn modules take inplace (torch::nn has no twin).
struct InplaceOptions {
  InplaceOptions(bool inplace = false)
      : inplace_(inplace) {}  // NOLINT(google-explicit-constructor): as torch's options
  TORCH_ARG(bool, inplace);
};

class HardsigmoidImpl : public Activation<HardsigmoidImpl, InplaceOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(at::Tensor input) {
    return options.inplace() ? fusedact::hardsigmoid_(input) : fusedact::hardsigmoid(input);
  }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::Hardsigmoid(" << (options.inplace() ? "inplace=true" : "") << ")";
  }
};
TORCH_MODULE(Hardsigmoid);

class HardswishImpl : public Activation<HardswishImpl, InplaceOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(at::Tensor input) {
    return options.inplace() ? fusedact::hardswish_(input) : fusedact::hardswish(input);
  }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::Hardswish(" << (options.inplace() ? "inplace=true" : "") << ")";
  }
};
TORCH_MODULE(Hardswish);

class CELUImpl : public Activation<CELUImpl, torch::nn::CELUOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(at::Tensor input) {
    return options.inplace() ? fusedact::celu_(input, options.alpha()) : fusedact::celu(input, options.alpha());
  }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::CELU(alpha=" << options.alpha() << (options.inplace() ? ", inplace=true" : "") << ")";
  }
};
TORCH_MODULE(CELU);

class LogSigmoidImpl : public Activation<LogSigmoidImpl, NoOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::logsigmoid(input); }
  void pretty_print(std::ostream& stream) const override { stream << "fusedact::nn::LogSigmoid()"; }
};
TORCH_MODULE(LogSigmoid);

class SoftsignImpl : public Activation<SoftsignImpl, NoOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::softsign(input); }
  void pretty_print(std::ostream& stream) const override { stream << "fusedact::nn::Softsign()"; }
};
TORCH_MODULE(Softsign);

class TanhshrinkImpl : public Activation<TanhshrinkImpl, NoOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::tanhshrink(input); }
  void pretty_print(std::ostream& stream) const override { stream << "fusedact::nn::Tanhshrink()"; }
};
TORCH_MODULE(Tanhshrink);

class SoftshrinkImpl : public Activation<SoftshrinkImpl, torch::nn::SoftshrinkOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::softshrink(input, options.lambda()); }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::Softshrink(" << options.lambda() << ")";
  }
};
TORCH_MODULE(Softshrink);

class HardshrinkImpl : public Activation<HardshrinkImpl, torch::nn::HardshrinkOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::hardshrink(input, options.lambda()); }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::Hardshrink(" << options.lambda() << ")";
  }
};
TORCH_MODULE(Hardshrink);

class ThresholdImpl : public Activation<ThresholdImpl, torch::nn::ThresholdOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(at::Tensor input) {
    const double threshold = options.threshold(), value = options.value();
    return options.inplace() ? fusedact::threshold_(input, threshold, value)
                             : fusedact::threshold(input, threshold, value);
  }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::Threshold(threshold=" << options.threshold() << ", value=" << options.value()
           << (options.inplace() ? ", inplace=true" : "") << ")";
  }
};
TORCH_MODULE(Threshold);

class ReLUSquaredImpl : public Activation<ReLUSquaredImpl, NoOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::relu_squared(input); }
  void pretty_print(std::ostream& stream) const override { stream << "fusedact::nn::ReLUSquared()"; }
};
TORCH_MODULE(ReLUSquared);

class SoftmaxImpl : public Activation<SoftmaxImpl, torch::nn::SoftmaxOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::softmax(input, options.dim()); }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::Softmax(dim=" << options.dim() << ")";
  }
};
TORCH_MODULE(Softmax);

class LogSoftmaxImpl : public Activation<LogSoftmaxImpl, torch::nn::LogSoftmaxOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::log_softmax(input, options.dim()); }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::LogSoftmax(dim=" << options.dim() << ")";
  }
};
TORCH_MODULE(LogSoftmax);

class SoftminImpl : public Activation<SoftminImpl, torch::nn::SoftminOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::softmin(input, options.dim()); }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::Softmin(dim=" << options.dim() << ")";
  }
};
TORCH_MODULE(Softmin);

// softmax over the channels (dim -3) of a 3-D or 4-D input. torch::nn::Softmax2d.
class Softmax2dImpl : public Activation<Softmax2dImpl, NoOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) {
    TORCH_CHECK(input.dim() == 3 || input.dim() == 4, "fusedact.Softmax2d: expected input to be 3D or 4D, got ",
                input.dim(), "D instead");
    return fusedact::softmax(input, -3);
  }
  void pretty_print(std::ostream& stream) const override { stream << "fusedact::nn::Softmax2d()"; }
};
TORCH_MODULE(Softmax2d);

// GLU modules: forward(input) splits input along options.dim (the gate first);
// forward(gate, up) takes the two halves as tensors.
struct GLUOptions {
  GLUOptions(int64_t dim = -1) : dim_(dim) {}  // NOLINT(google-explicit-constructor): as torch's options
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(std::string, approximate) = "none";  // geglu only
};

class SwiGLUImpl : public Activation<SwiGLUImpl, GLUOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input, const at::Tensor& up = {}) {
    return up.defined() ? fusedact::swiglu(input, up) : fusedact::swiglu(input, options.dim());
  }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::SwiGLU(dim=" << options.dim() << ")";
  }
};
TORCH_MODULE(SwiGLU);

class GEGLUImpl : public Activation<GEGLUImpl, GLUOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input, const at::Tensor& up = {}) {
    return up.defined() ? fusedact::geglu(input, up, options.approximate())
                        : fusedact::geglu(input, options.dim(), options.approximate());
  }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::GEGLU(dim=" << options.dim() << ", approximate=" << options.approximate() << ")";
  }
};
TORCH_MODULE(GEGLU);

class ReGLUImpl : public Activation<ReGLUImpl, GLUOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input, const at::Tensor& up = {}) {
    return up.defined() ? fusedact::reglu(input, up) : fusedact::reglu(input, options.dim());
  }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::ReGLU(dim=" << options.dim() << ")";
  }
};
TORCH_MODULE(ReGLU);

class ReLUSquaredGLUImpl : public Activation<ReLUSquaredGLUImpl, GLUOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input, const at::Tensor& up = {}) {
    return up.defined() ? fusedact::relu_squared_glu(input, up) : fusedact::relu_squared_glu(input, options.dim());
  }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::ReLUSquaredGLU(dim=" << options.dim() << ")";
  }
};
TORCH_MODULE(ReLUSquaredGLU);

class QuickGELUGLUImpl : public Activation<QuickGELUGLUImpl, GLUOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input, const at::Tensor& up = {}) {
    return up.defined() ? fusedact::quick_gelu_glu(input, up) : fusedact::quick_gelu_glu(input, options.dim());
  }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::QuickGELUGLU(dim=" << options.dim() << ")";
  }
};
TORCH_MODULE(QuickGELUGLU);

// Options of ClampedSwiGLU: the split dim, and gpt-oss's limit and alpha.
struct ClampedSwiGLUOptions {
  ClampedSwiGLUOptions(int64_t dim = -1) : dim_(dim) {}  // NOLINT(google-explicit-constructor): as torch's options
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(double, limit) = 7.0;
  TORCH_ARG(double, alpha) = 1.702;
};

class ClampedSwiGLUImpl : public Activation<ClampedSwiGLUImpl, ClampedSwiGLUOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input, const at::Tensor& up = {}) {
    const double limit = options.limit(), alpha = options.alpha();
    return up.defined() ? fusedact::clamped_swiglu(input, up, limit, alpha)
                        : fusedact::clamped_swiglu(input, options.dim(), limit, alpha);
  }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::ClampedSwiGLU(dim=" << options.dim() << ", limit=" << options.limit()
           << ", alpha=" << options.alpha() << ")";
  }
};
TORCH_MODULE(ClampedSwiGLU);

// As torch::nn::GLU: a * sigmoid(b), the gate b the second half of the input along dim.
class GLUImpl : public Activation<GLUImpl, torch::nn::GLUOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::glu(input, options.dim()); }
  void pretty_print(std::ostream& stream) const override { stream << "fusedact::nn::GLU(dim=" << options.dim() << ")"; }
};
TORCH_MODULE(GLU);

// The SwiGLU feed-forward block as torch::nn::Linear layers named as transformers' LlamaMLP
// names them (gate_proj, up_proj, down_proj), so their parameters load from one.
struct SwiGLUFFNOptions {
  SwiGLUFFNOptions(int64_t in_features, int64_t hidden_features)
      : in_features_(in_features), hidden_features_(hidden_features), out_features_(in_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, hidden_features);
  TORCH_ARG(int64_t, out_features);
  TORCH_ARG(bool, bias) = false;
};

class SwiGLUFFNImpl : public torch::nn::Cloneable<SwiGLUFFNImpl> {
 public:
  explicit SwiGLUFFNImpl(SwiGLUFFNOptions options_) : options(std::move(options_)) { reset(); }
  void reset() override {
    auto linear = [&](int64_t in, int64_t out) {
      return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(options.bias()));
    };
    gate_proj = register_module("gate_proj", linear(options.in_features(), options.hidden_features()));
    up_proj = register_module("up_proj", linear(options.in_features(), options.hidden_features()));
    down_proj = register_module("down_proj", linear(options.hidden_features(), options.out_features()));
  }
  at::Tensor forward(const at::Tensor& x) {
    auto bias = [](const torch::nn::Linear& l) {
      return l->bias.defined() ? std::optional<at::Tensor>(l->bias) : std::nullopt;
    };
    return fusedact::swiglu_ffn(x, gate_proj->weight, up_proj->weight, down_proj->weight, bias(gate_proj),
                                bias(up_proj), bias(down_proj));
  }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::SwiGLUFFN(in_features=" << options.in_features()
           << ", hidden_features=" << options.hidden_features() << ", out_features=" << options.out_features()
           << ", bias=" << (options.bias() ? "true" : "false") << ")";
  }
  SwiGLUFFNOptions options;
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(SwiGLUFFN);

}  // namespace fusedact::nn
