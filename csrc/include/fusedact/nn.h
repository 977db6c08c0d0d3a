// fusedact's C++ modules: drop-in replacements for the torch::nn activation modules,
// taking the same options structs (torch::nn::GELUOptions, ...).
//
//   #include <fusedact/nn.h>
//   torch::nn::Sequential net(torch::nn::Linear(64, 64), fusedact::nn::GELU());
#pragma once

#include <fusedact/fusedact.h>

#include <torch/types.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/options/activation.h>
#include <torch/arg.h>
#include <torch/nn/pimpl.h>

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

// As torch::nn::PReLU: a parameter "weight" of num_parameters values, initialised to init.
class PReLUImpl : public torch::nn::Cloneable<PReLUImpl> {
 public:
  explicit PReLUImpl(torch::nn::PReLUOptions options_ = {}) : options(std::move(options_)) { reset(); }
  void reset() override { weight = register_parameter("weight", torch::full({options.num_parameters()}, options.init())); }
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
  at::Tensor forward(const at::Tensor& input) {
    return fusedact::softplus(input, options.beta(), options.threshold());
  }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::Softplus(beta=" << options.beta() << ", threshold=" << options.threshold() << ")";
  }
};
TORCH_MODULE(Softplus);

class SoftmaxImpl : public Activation<SoftmaxImpl, torch::nn::SoftmaxOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::softmax(input, options.dim()); }
  void pretty_print(std::ostream& stream) const override { stream << "fusedact::nn::Softmax(dim=" << options.dim() << ")"; }
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
  void pretty_print(std::ostream& stream) const override { stream << "fusedact::nn::SwiGLU(dim=" << options.dim() << ")"; }
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
  void pretty_print(std::ostream& stream) const override { stream << "fusedact::nn::ReGLU(dim=" << options.dim() << ")"; }
};
TORCH_MODULE(ReGLU);

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
    auto bias = [](const torch::nn::Linear& l) { return l->bias.defined() ? std::optional<at::Tensor>(l->bias) : std::nullopt; };
    return fusedact::swiglu_ffn(x, gate_proj->weight, up_proj->weight, down_proj->weight, bias(gate_proj), bias(up_proj),
                                bias(down_proj));
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
