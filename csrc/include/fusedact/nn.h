// fusedact's C++ modules: drop-in replacements for the torch::nn activation modules,
// taking the same options structs (torch::nn::GELUOptions, ...).
//
//   #include <fusedact/nn.h>
//   torch::nn::Sequential net(torch::nn::Linear(64, 64), fusedact::nn::GELU());
#pragma once

#include <fusedact/fusedact.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/options/activation.h>
#include <torch/nn/pimpl.h>

#include <ostream>
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

class ReLUImpl : public Activation<ReLUImpl, torch::nn::ReLUOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(at::Tensor input) { return options.inplace() ? fusedact::relu_(input) : fusedact::relu(input); }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::ReLU(" << (options.inplace() ? "inplace=true" : "") << ")";
  }
};
TORCH_MODULE(ReLU);

class GELUImpl : public Activation<GELUImpl, torch::nn::GELUOptions> {
 public:
  using Activation::Activation;
  at::Tensor forward(const at::Tensor& input) { return fusedact::gelu(input, options.approximate()); }
  void pretty_print(std::ostream& stream) const override {
    stream << "fusedact::nn::GELU(approximate=" << options.approximate() << ")";
  }
};
TORCH_MODULE(GELU);

}  // namespace fusedact::nn
