// The C++ API (fusedact/fusedact.h, fusedact/nn.h) against LibTorch: values, autograd
// (first and second order), modules and errors.
#include <fusedact/fusedact.h>
#include <fusedact/nn.h>

#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace {

torch::Tensor sample(std::vector<int64_t> shape, torch::Dtype dtype = torch::kFloat) {
  torch::manual_seed(0);
  return (torch::randn(shape, torch::kDouble) * 3).to(dtype);
}

void expect_close(const torch::Tensor& actual, const torch::Tensor& expected) {
  ASSERT_EQ(actual.sizes(), expected.sizes());
  ASSERT_EQ(actual.scalar_type(), expected.scalar_type());
  EXPECT_TRUE(torch::allclose(actual, expected, 1.3e-6, 1e-5, /*equal_nan=*/true))
      << "max abs difference " << (actual - expected).abs().max().item<double>();
}

// Forward and backward of one C++ API function against its torch:: twin.
template <class Fused, class Reference>
void expect_matches(Fused fused, Reference reference, torch::Dtype dtype = torch::kFloat) {
  auto x = sample({17, 33}, dtype).requires_grad_();
  auto x_ref = x.detach().clone().requires_grad_();
  auto y = fused(x);
  auto y_ref = reference(x_ref);
  expect_close(y, y_ref);
  auto grad = torch::randn_like(y);
  y.backward(grad);
  y_ref.backward(grad);
  expect_close(x.grad(), x_ref.grad());
}

// One parameter per channel (dim 1) of a 2-D input, of both signs.
torch::Tensor channel_weights(const torch::Tensor& x) {
  return torch::linspace(-0.4, 1.3, x.size(1), x.options().requires_grad(false));
}

using Fn = std::function<torch::Tensor(const torch::Tensor&)>;

struct Case {
  std::string name;
  Fn fused;
  Fn reference;
};

// Every function of fusedact.h next to its LibTorch twin (or composition).
std::vector<Case> cases() {
  namespace F = torch::nn::functional;
  return {
      {"sigmoid", [](auto& x) { return fusedact::sigmoid(x); }, [](auto& x) { return torch::sigmoid(x); }},
      {"tanh", [](auto& x) { return fusedact::tanh(x); }, [](auto& x) { return torch::tanh(x); }},
      {"relu", [](auto& x) { return fusedact::relu(x); }, [](auto& x) { return torch::relu(x); }},
      {"leaky_relu", [](auto& x) { return fusedact::leaky_relu(x, 0.2); },
       [](auto& x) { return torch::leaky_relu(x, 0.2); }},
      {"elu", [](auto& x) { return fusedact::elu(x, 0.5); }, [](auto& x) { return torch::elu(x, 0.5); }},
      {"selu", [](auto& x) { return fusedact::selu(x); }, [](auto& x) { return torch::selu(x); }},
      {"gelu", [](auto& x) { return fusedact::gelu(x); }, [](auto& x) { return torch::gelu(x); }},
      {"gelu_tanh", [](auto& x) { return fusedact::gelu(x, "tanh"); }, [](auto& x) { return torch::gelu(x, "tanh"); }},
      {"quick_gelu", [](auto& x) { return fusedact::quick_gelu(x); },
       [](auto& x) { return x * torch::sigmoid(1.702 * x); }},
      {"silu", [](auto& x) { return fusedact::silu(x); }, [](auto& x) { return torch::silu(x); }},
      {"swish", [](auto& x) { return fusedact::swish(x, 0.5); }, [](auto& x) { return x * torch::sigmoid(0.5 * x); }},
      {"mish", [](auto& x) { return fusedact::mish(x); }, [](auto& x) { return torch::mish(x); }},
      {"prelu", [](auto& x) { return fusedact::prelu(x, channel_weights(x)); },
       [](auto& x) { return torch::prelu(x, channel_weights(x)); }},
      {"swish_tensor", [](auto& x) { return fusedact::swish(x, channel_weights(x)); },
       [](auto& x) { return x * torch::sigmoid(channel_weights(x).view({1, -1}) * x); }},
      {"softmax", [](auto& x) { return fusedact::softmax(x, 1); }, [](auto& x) { return torch::softmax(x, 1); }},
      {"log_softmax_dim0", [](auto& x) { return fusedact::log_softmax(x, 0); },
       [](auto& x) { return torch::log_softmax(x, 0); }},
      {"softmin", [](auto& x) { return fusedact::softmin(x, 1); },
       [](auto& x) { return F::softmin(x, F::SoftminFuncOptions(1)); }},
      {"softplus", [](auto& x) { return fusedact::softplus(x, 2.0, 5.0); },
       [](auto& x) { return F::softplus(x, F::SoftplusFuncOptions().beta(2.0).threshold(5.0)); }},
      {"hardtanh", [](auto& x) { return fusedact::hardtanh(x, -2.0, 1.5); },
       [](auto& x) { return torch::hardtanh(x, -2.0, 1.5); }},
      {"relu6", [](auto& x) { return fusedact::relu6(x); }, [](auto& x) { return F::relu6(x); }},
      // torch's hardsigmoid has no double backward; its composition does.
      {"hardsigmoid", [](auto& x) { return fusedact::hardsigmoid(x); }, [](auto& x) { return F::relu6(x + 3) / 6; }},
      {"hardswish", [](auto& x) { return fusedact::hardswish(x); }, [](auto& x) { return torch::hardswish(x); }},
      {"celu", [](auto& x) { return fusedact::celu(x, 0.7); }, [](auto& x) { return torch::celu(x, 0.7); }},
      {"logsigmoid", [](auto& x) { return fusedact::logsigmoid(x); }, [](auto& x) { return torch::log_sigmoid(x); }},
      {"softsign", [](auto& x) { return fusedact::softsign(x); }, [](auto& x) { return F::softsign(x); }},
      {"tanhshrink", [](auto& x) { return fusedact::tanhshrink(x); }, [](auto& x) { return F::tanhshrink(x); }},
      {"softshrink", [](auto& x) { return fusedact::softshrink(x, 1.5); },
       [](auto& x) { return torch::softshrink(x, 1.5); }},
      {"hardshrink", [](auto& x) { return fusedact::hardshrink(x, 1.5); },
       [](auto& x) { return torch::hardshrink(x, 1.5); }},
      {"threshold", [](auto& x) { return fusedact::threshold(x, 0.5, -2.0); },
       [](auto& x) { return torch::threshold(x, 0.5, -2.0); }},
      {"relu_squared", [](auto& x) { return fusedact::relu_squared(x); },
       [](auto& x) { return torch::square(torch::relu(x)); }},
      {"rrelu", [](auto& x) { return fusedact::rrelu(x, 0.1, 0.3); },
       [](auto& x) { return torch::rrelu(x, 0.1, 0.3, /*training=*/false); }},
      // In place, through autograd on a non-leaf.
      {"relu_",
       [](auto& x) {
         auto y = x * 1;
         return fusedact::relu_(y);
       },
       [](auto& x) { return torch::relu(x); }},
      {"leaky_relu_",
       [](auto& x) {
         auto y = x * 1;
         return fusedact::leaky_relu_(y, 0.2);
       },
       [](auto& x) { return torch::leaky_relu(x, 0.2); }},
      {"elu_",
       [](auto& x) {
         auto y = x * 1;
         return fusedact::elu_(y);
       },
       [](auto& x) { return torch::elu(x); }},
      {"selu_",
       [](auto& x) {
         auto y = x * 1;
         return fusedact::selu_(y);
       },
       [](auto& x) { return torch::selu(x); }},
      {"silu_",
       [](auto& x) {
         auto y = x * 1;
         return fusedact::silu_(y);
       },
       [](auto& x) { return torch::silu(x); }},
      {"mish_",
       [](auto& x) {
         auto y = x * 1;
         return fusedact::mish_(y);
       },
       [](auto& x) { return torch::mish(x); }},
      {"hardtanh_",
       [](auto& x) {
         auto y = x * 1;
         return fusedact::hardtanh_(y, -2.0, 1.5);
       },
       [](auto& x) { return torch::hardtanh(x, -2.0, 1.5); }},
      {"relu6_",
       [](auto& x) {
         auto y = x * 1;
         return fusedact::relu6_(y);
       },
       [](auto& x) { return F::relu6(x); }},
      {"hardsigmoid_",
       [](auto& x) {
         auto y = x * 1;
         return fusedact::hardsigmoid_(y);
       },
       [](auto& x) { return F::relu6(x + 3) / 6; }},
      {"hardswish_",
       [](auto& x) {
         auto y = x * 1;
         return fusedact::hardswish_(y);
       },
       [](auto& x) { return torch::hardswish(x); }},
      {"celu_",
       [](auto& x) {
         auto y = x * 1;
         return fusedact::celu_(y, 0.7);
       },
       [](auto& x) { return torch::celu(x, 0.7); }},
      {"threshold_",
       [](auto& x) {
         auto y = x * 1;
         return fusedact::threshold_(y, 0.5, -2.0);
       },
       [](auto& x) { return torch::threshold(x, 0.5, -2.0); }},
      {"rrelu_",
       [](auto& x) {
         auto y = x * 1;
         return fusedact::rrelu_(y, 0.1, 0.3);
       },
       [](auto& x) { return torch::rrelu(x, 0.1, 0.3, /*training=*/false); }},
  };
}

TEST(Api, EveryFunctionMatchesTorch) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    for (auto dtype : {torch::kFloat, torch::kDouble}) expect_matches(c.fused, c.reference, dtype);
  }
}

TEST(Api, InplaceReturnsItsArgument) {
  auto x = sample({5, 5});
  auto expected = torch::relu(x);
  auto& result = fusedact::relu_(x);
  EXPECT_TRUE(result.is_same(x));
  expect_close(x, expected);
}

TEST(Api, DoubleBackward) {
  auto x = sample({6, 7}, torch::kDouble).requires_grad_();
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    auto g = torch::autograd::grad({c.fused(x).sum()}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
    auto g_ref = torch::autograd::grad({c.reference(x).sum()}, {x}, {}, true, true)[0];
    auto gg = torch::autograd::grad({g.sum()}, {x})[0];
    auto gg_ref = torch::autograd::grad({g_ref.sum()}, {x})[0];
    expect_close(gg, gg_ref);
  }
}

// A fusedact module against its torch::nn twin built with the same options.
template <class Fused, class Reference, class... Options>
void expect_module_matches(const std::string& printed, Options... options) {
  SCOPED_TRACE(printed);
  auto x = sample({8, 16});
  Fused fused(options...);
  Reference reference(options...);
  expect_close(fused(x), reference(x));
  std::ostringstream stream;
  stream << *fused;
  EXPECT_EQ(stream.str(), printed);
  EXPECT_TRUE(std::dynamic_pointer_cast<typename Fused::Impl>(fused->clone()));
}

TEST(Api, ModulesMatchTorchModules) {
  expect_module_matches<fusedact::nn::Sigmoid, torch::nn::Sigmoid>("fusedact::nn::Sigmoid()");
  expect_module_matches<fusedact::nn::Tanh, torch::nn::Tanh>("fusedact::nn::Tanh()");
  expect_module_matches<fusedact::nn::ReLU, torch::nn::ReLU>("fusedact::nn::ReLU()");
  expect_module_matches<fusedact::nn::LeakyReLU, torch::nn::LeakyReLU>(
      "fusedact::nn::LeakyReLU(negative_slope=0.2)", torch::nn::LeakyReLUOptions().negative_slope(0.2));
  expect_module_matches<fusedact::nn::ELU, torch::nn::ELU>("fusedact::nn::ELU(alpha=0.5)",
                                                           torch::nn::ELUOptions().alpha(0.5));
  expect_module_matches<fusedact::nn::SELU, torch::nn::SELU>("fusedact::nn::SELU()");
  expect_module_matches<fusedact::nn::GELU, torch::nn::GELU>("fusedact::nn::GELU(approximate=tanh)",
                                                             torch::nn::GELUOptions().approximate("tanh"));
  expect_module_matches<fusedact::nn::SiLU, torch::nn::SiLU>("fusedact::nn::SiLU()");
  expect_module_matches<fusedact::nn::Mish, torch::nn::Mish>("fusedact::nn::Mish()");
  expect_module_matches<fusedact::nn::Softmax, torch::nn::Softmax>("fusedact::nn::Softmax(dim=1)",
                                                                   torch::nn::SoftmaxOptions(1));
  expect_module_matches<fusedact::nn::LogSoftmax, torch::nn::LogSoftmax>("fusedact::nn::LogSoftmax(dim=0)",
                                                                         torch::nn::LogSoftmaxOptions(0));
  expect_module_matches<fusedact::nn::Softplus, torch::nn::Softplus>(
      "fusedact::nn::Softplus(beta=2, threshold=5)", torch::nn::SoftplusOptions().beta(2.0).threshold(5.0));

  expect_module_matches<fusedact::nn::Softmin, torch::nn::Softmin>("fusedact::nn::Softmin(dim=1)",
                                                                   torch::nn::SoftminOptions(1));
  expect_module_matches<fusedact::nn::Hardtanh, torch::nn::Hardtanh>(
      "fusedact::nn::Hardtanh(min_val=-2, max_val=1.5)", torch::nn::HardtanhOptions().min_val(-2.0).max_val(1.5));
  expect_module_matches<fusedact::nn::ReLU6, torch::nn::ReLU6>("fusedact::nn::ReLU6()");
  expect_module_matches<fusedact::nn::CELU, torch::nn::CELU>("fusedact::nn::CELU(alpha=0.7)",
                                                             torch::nn::CELUOptions().alpha(0.7));
  expect_module_matches<fusedact::nn::LogSigmoid, torch::nn::LogSigmoid>("fusedact::nn::LogSigmoid()");
  expect_module_matches<fusedact::nn::Softsign, torch::nn::Softsign>("fusedact::nn::Softsign()");
  expect_module_matches<fusedact::nn::Tanhshrink, torch::nn::Tanhshrink>("fusedact::nn::Tanhshrink()");
  expect_module_matches<fusedact::nn::Softshrink, torch::nn::Softshrink>("fusedact::nn::Softshrink(1.5)",
                                                                         torch::nn::SoftshrinkOptions(1.5));
  expect_module_matches<fusedact::nn::Hardshrink, torch::nn::Hardshrink>("fusedact::nn::Hardshrink(1.5)",
                                                                         torch::nn::HardshrinkOptions(1.5));
  expect_module_matches<fusedact::nn::Threshold, torch::nn::Threshold>(
      "fusedact::nn::Threshold(threshold=0.5, value=-2)", torch::nn::ThresholdOptions(0.5, -2.0));

  auto x = sample({8, 16});
  expect_close(fusedact::nn::QuickGELU()(x), x * torch::sigmoid(1.702 * x));
  expect_close(fusedact::nn::Swish(fusedact::nn::SwishOptions(0.5))(x), x * torch::sigmoid(0.5 * x));
  auto y = x.clone();
  fusedact::nn::ReLU(torch::nn::ReLUOptions().inplace(true))(y);
  expect_close(y, torch::relu(x));

  expect_close(fusedact::nn::Hardswish()(x), torch::hardswish(x));
  expect_close(fusedact::nn::Hardsigmoid()(x), torch::hardsigmoid(x));
  expect_close(fusedact::nn::ReLUSquared()(x), torch::square(torch::relu(x)));
  auto image = sample({2, 3, 4, 5});
  expect_close(fusedact::nn::Softmax2d()(image), torch::nn::Softmax2d()(image));
  EXPECT_THROW(fusedact::nn::Softmax2d()(x), c10::Error);
  auto z = x.clone();
  fusedact::nn::Hardswish(fusedact::nn::InplaceOptions(true))(z);
  expect_close(z, torch::hardswish(x));

  torch::nn::Sequential net(torch::nn::Linear(16, 4), fusedact::nn::GELU(), fusedact::nn::Mish());
  net->forward(x).sum().backward();
  EXPECT_TRUE(net->parameters()[0].grad().defined());
}

// The gradients of prelu's weight and swish's beta, through the functions and the modules.
TEST(Api, ParameterGradients) {
  auto x = sample({9, 5}, torch::kDouble);
  auto grad = torch::randn_like(x);
  using Param = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>;
  const std::vector<std::pair<Param, Param>> pairs = {
      {[](auto& t, auto& w) { return fusedact::prelu(t, w); }, [](auto& t, auto& w) { return torch::prelu(t, w); }},
      {[](auto& t, auto& b) { return fusedact::swish(t, b); },
       [](auto& t, auto& b) { return t * torch::sigmoid((b.numel() == 1 ? b : b.view({1, -1})) * t); }},
  };
  for (const auto& [fused, reference] : pairs) {
    for (int64_t count : {1, 5}) {
      auto w = torch::linspace(-0.5, 1.5, count, torch::kDouble).requires_grad_();
      auto w_ref = w.detach().clone().requires_grad_();
      fused(x, w).backward(grad);
      reference(x, w_ref).backward(grad);
      expect_close(w.grad(), w_ref.grad());
      // Second order, through the weight.
      auto xg = x.clone().requires_grad_();
      auto gw = torch::autograd::grad({fused(xg, w).sum()}, {w}, {}, true, true)[0];
      auto gw_ref = torch::autograd::grad({reference(xg, w_ref).sum()}, {w_ref}, {}, true, true)[0];
      expect_close(torch::autograd::grad({gw.sum()}, {xg})[0], torch::autograd::grad({gw_ref.sum()}, {xg})[0]);
    }
  }

  fusedact::nn::PReLU prelu(torch::nn::PReLUOptions().num_parameters(5).init(0.1));
  torch::nn::PReLU prelu_ref(torch::nn::PReLUOptions().num_parameters(5).init(0.1));
  const auto xf = sample({9, 5});
  prelu(xf).sum().backward();
  prelu_ref(xf).sum().backward();
  expect_close(prelu->weight.grad(), prelu_ref->weight.grad());
  EXPECT_EQ(prelu->named_parameters().keys(), std::vector<std::string>{"weight"});
  std::ostringstream printed;
  printed << *prelu;
  EXPECT_EQ(printed.str(), "fusedact::nn::PReLU(num_parameters=5)");

  fusedact::nn::Swish swish(fusedact::nn::SwishOptions(0.5).learnable(true));
  swish(xf).sum().backward();
  auto beta = torch::full({1}, 0.5).requires_grad_();
  (xf * torch::sigmoid(beta * xf)).sum().backward();
  expect_close(swish->beta.grad(), beta.grad());
}

// The GLU functions, both forms, and their modules, against act(gate) * up.
TEST(Api, GatedLinearUnits) {
  using Act = std::function<torch::Tensor(const torch::Tensor&)>;
  const std::vector<
      std::tuple<std::string, Act, std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>,
                 std::function<torch::Tensor(const torch::Tensor&, int64_t)>>>
      cases = {
          {"swiglu", [](auto& t) { return torch::silu(t); }, [](auto& g, auto& u) { return fusedact::swiglu(g, u); },
           [](auto& x, int64_t d) { return fusedact::swiglu(x, d); }},
          {"geglu", [](auto& t) { return torch::gelu(t, "tanh"); },
           [](auto& g, auto& u) { return fusedact::geglu(g, u, "tanh"); },
           [](auto& x, int64_t d) { return fusedact::geglu(x, d, "tanh"); }},
          {"reglu", [](auto& t) { return torch::relu(t); }, [](auto& g, auto& u) { return fusedact::reglu(g, u); },
           [](auto& x, int64_t d) { return fusedact::reglu(x, d); }},
          {"relu_squared_glu", [](auto& t) { return torch::square(torch::relu(t)); },
           [](auto& g, auto& u) { return fusedact::relu_squared_glu(g, u); },
           [](auto& x, int64_t d) { return fusedact::relu_squared_glu(x, d); }},
          {"quick_gelu_glu", [](auto& t) { return t * torch::sigmoid(1.702 * t); },
           [](auto& g, auto& u) { return fusedact::quick_gelu_glu(g, u); },
           [](auto& x, int64_t d) { return fusedact::quick_gelu_glu(x, d); }},
          // torch's glu gates with the second half: here the halves are swapped before the call.
          {"glu", [](auto& t) { return torch::sigmoid(t); },
           [](auto& g, auto& u) { return fusedact::glu(torch::cat({u, g}, -1), -1); },
           [](auto& x, int64_t d) {
             auto h = x.chunk(2, d);
             return fusedact::glu(torch::cat({h[1], h[0]}, d), d);
           }},
  };
  for (const auto& [name, act, pair, split] : cases) {
    SCOPED_TRACE(name);
    for (int64_t dim : {-1, 0}) {
      auto x = sample({6, 8}, torch::kDouble).requires_grad_();
      auto x_ref = x.detach().clone().requires_grad_();
      auto halves = x_ref.chunk(2, dim);
      auto y = split(x, dim);
      auto y_ref = act(halves[0]) * halves[1];
      expect_close(y, y_ref);
      auto grad = torch::randn_like(y);
      y.backward(grad);
      y_ref.backward(grad);
      expect_close(x.grad(), x_ref.grad());
    }
    auto gate = sample({5, 3}, torch::kDouble);
    auto up = sample({5, 3}, torch::kDouble) * 0.5;
    expect_close(pair(gate, up), act(gate) * up);
  }
  auto x = sample({4, 6});
  auto halves = x.chunk(2, -1);
  expect_close(fusedact::nn::SwiGLU()(x), torch::silu(halves[0]) * halves[1]);
  expect_close(fusedact::nn::SwiGLU()(halves[0], halves[1]), torch::silu(halves[0]) * halves[1]);
  fusedact::nn::GEGLU geglu(fusedact::nn::GLUOptions(-1).approximate("tanh"));
  expect_close(geglu(x), torch::gelu(halves[0], "tanh") * halves[1]);
  expect_close(fusedact::nn::ReGLU(fusedact::nn::GLUOptions(0))(x), torch::relu(x.chunk(2, 0)[0]) * x.chunk(2, 0)[1]);
  expect_close(fusedact::nn::ReLUSquaredGLU()(x), torch::square(torch::relu(halves[0])) * halves[1]);
  expect_close(fusedact::nn::QuickGELUGLU()(x), halves[0] * torch::sigmoid(1.702 * halves[0]) * halves[1]);
  expect_close(fusedact::glu(x, 0), torch::glu(x, 0));
  expect_close(fusedact::nn::GLU()(x), torch::nn::GLU()(x));
  // gpt-oss's clamped SwiGLU, values and gradients, against its composition.
  auto clamped_ref = [](const torch::Tensor& gate, const torch::Tensor& up) {
    auto g = gate.clamp_max(1.0);
    return (up.clamp(-1.0, 1.0) + 1) * (g * torch::sigmoid(g * 2.0));
  };
  auto xd = sample({6, 8}, torch::kDouble).requires_grad_();
  auto xd_ref = xd.detach().clone().requires_grad_();
  fusedact::nn::ClampedSwiGLU clamped(fusedact::nn::ClampedSwiGLUOptions().limit(1.0).alpha(2.0));
  auto y = clamped(xd);
  auto y_ref = clamped_ref(xd_ref.chunk(2, -1)[0], xd_ref.chunk(2, -1)[1]);
  expect_close(y, y_ref);
  y.backward(torch::ones_like(y));
  y_ref.backward(torch::ones_like(y_ref));
  expect_close(xd.grad(), xd_ref.grad());
  expect_close(
      fusedact::clamped_swiglu(halves[0], halves[1]),
      (halves[1].clamp(-7.0, 7.0) + 1) * halves[0].clamp_max(7.0) * torch::sigmoid(1.702 * halves[0].clamp_max(7.0)));
  std::ostringstream printed;
  printed << *geglu;
  EXPECT_EQ(printed.str(), "fusedact::nn::GEGLU(dim=-1, approximate=tanh)");
}

// swiglu_ffn and nn::SwiGLUFFN against the composition of torch::nn::functional::linear and silu.
TEST(Api, SwigluFfn) {
  namespace F = torch::nn::functional;
  torch::manual_seed(0);
  fusedact::nn::SwiGLUFFN ffn(fusedact::nn::SwiGLUFFNOptions(16, 44).out_features(12).bias(true));
  auto x = torch::randn({2, 5, 16}, torch::kDouble);
  ffn->to(torch::kDouble);
  auto xa = x.clone().requires_grad_(), xb = x.clone().requires_grad_();
  auto y = ffn(xa);
  auto linear = [](const torch::nn::Linear& l, const torch::Tensor& t) { return F::linear(t, l->weight, l->bias); };
  auto y_ref = linear(ffn->down_proj, torch::silu(linear(ffn->gate_proj, xb)) * linear(ffn->up_proj, xb));
  expect_close(y, y_ref);
  auto grad = torch::randn_like(y);
  auto params = ffn->parameters();
  std::vector<torch::Tensor> wrt = {xa};
  wrt.insert(wrt.end(), params.begin(), params.end());
  auto grads = torch::autograd::grad({y}, wrt, {grad});
  std::vector<torch::Tensor> wrt_ref = {xb};
  wrt_ref.insert(wrt_ref.end(), params.begin(), params.end());
  auto grads_ref = torch::autograd::grad({y_ref}, wrt_ref, {grad});
  for (size_t i = 0; i < grads.size(); ++i) expect_close(grads[i], grads_ref[i]);
  EXPECT_EQ(ffn->named_parameters().keys(),
            (std::vector<std::string>{"gate_proj.weight", "gate_proj.bias", "up_proj.weight", "up_proj.bias",
                                      "down_proj.weight", "down_proj.bias"}));

  // The function, without biases.
  auto wg = torch::randn({8, 16}, torch::kDouble), wu = torch::randn({8, 16}, torch::kDouble);
  auto wd = torch::randn({16, 8}, torch::kDouble);
  expect_close(fusedact::swiglu_ffn(x, wg, wu, wd), F::linear(torch::silu(F::linear(x, wg)) * F::linear(x, wu), wd));
}

// relu, relu6, hardtanh and threshold take integer tensors, as torch's do.
// rrelu in training: slopes in [lower, upper) from torch's generator (torch::manual_seed
// repeats them), the gradient the same slopes; the module draws in training only.
TEST(Api, RreluDrawsSlopesInTraining) {
  auto x = sample({64, 64}, torch::kDouble).requires_grad_();
  torch::manual_seed(3);
  auto y = fusedact::rrelu(x, 0.2, 0.4, /*training=*/true);
  y.sum().backward();
  const auto negative = x.detach() < 0;
  const auto slopes = (y.detach() / x.detach()).masked_select(negative);
  EXPECT_GE(slopes.min().item<double>(), 0.2);
  EXPECT_LT(slopes.max().item<double>(), 0.4);
  EXPECT_GT(slopes.std().item<double>(), 0.05);
  expect_close(x.grad().masked_select(negative), slopes);
  EXPECT_TRUE(torch::equal(y.detach().masked_select(~negative), x.detach().masked_select(~negative)));
  torch::manual_seed(3);
  EXPECT_TRUE(torch::equal(fusedact::rrelu(x.detach(), 0.2, 0.4, true), y.detach()));
  EXPECT_FALSE(torch::equal(fusedact::rrelu(x.detach(), 0.2, 0.4, true), y.detach()));

  fusedact::nn::RReLU module(torch::nn::RReLUOptions().lower(0.2).upper(0.4));
  torch::nn::RReLU reference(torch::nn::RReLUOptions().lower(0.2).upper(0.4));
  torch::manual_seed(3);
  EXPECT_TRUE(torch::equal(module(x.detach()), y.detach()));
  module->eval();
  reference->eval();
  expect_close(module(x.detach()), reference(x.detach()));
  std::ostringstream stream;
  stream << *module;
  EXPECT_EQ(stream.str(), "fusedact::nn::RReLU(lower=0.2, upper=0.4)");
  EXPECT_THROW(fusedact::rrelu(x, 0.5, 0.4), c10::Error);
}

TEST(Api, IntegerInputsAsTorch) {
  const auto x = torch::arange(-9, 10, torch::kInt32);
  EXPECT_TRUE(torch::equal(fusedact::relu(x), torch::relu(x)));
  EXPECT_TRUE(torch::equal(fusedact::relu6(x), torch::nn::functional::relu6(x)));
  EXPECT_TRUE(torch::equal(fusedact::hardtanh(x, -2.5, 4.5), torch::hardtanh(x, -2.5, 4.5)));
  EXPECT_TRUE(torch::equal(fusedact::threshold(x, 1.0, 7.0), torch::threshold(x, 1.0, 7.0)));
  auto y = x.clone();
  EXPECT_TRUE(torch::equal(fusedact::relu_(y), torch::relu(x)));
  EXPECT_EQ(fusedact::relu(x).scalar_type(), torch::kInt32);
}

TEST(Api, ClearErrors) {
  try {
    fusedact::gelu(torch::arange(4));
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(
        std::string(e.what_without_backtrace()).find("fusedact.gelu: expected input to be a floating-point tensor"),
        std::string::npos);
  }
  EXPECT_THROW(fusedact::gelu(torch::ones(3), "fast"), c10::Error);
  EXPECT_THROW(fusedact::hardtanh(torch::ones(3), 1.0, -1.0), c10::Error);
  try {
    fusedact::prelu(torch::ones({2, 4, 3}), torch::ones(3));
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(
        std::string(e.what_without_backtrace()).find("fusedact.prelu: weight has 3 elements but input has 4 channels"),
        std::string::npos);
  }
  try {
    fusedact::swiglu(torch::ones({2, 7}));
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("fusedact.swiglu_split: dim -1 has odd size 7"),
              std::string::npos);
  }
}

// Under CUDA autocast softmax runs in float32 unless a dtype is given, which is left alone.
TEST(Api, SoftmaxDtypeUnderCudaAutocast) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no GPU here";
  const auto x = torch::randn({4, 9}, torch::device(torch::kCUDA).dtype(torch::kHalf));
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  const auto implicit = fusedact::softmax(x, -1), torch_implicit = torch::softmax(x, -1);
  const auto explicit_half = fusedact::log_softmax(x, -1, torch::kHalf);
  const auto torch_half = torch::log_softmax(x, -1, torch::kHalf);
  at::autocast::set_autocast_enabled(at::kCUDA, false);
  EXPECT_EQ(implicit.scalar_type(), torch_implicit.scalar_type());
  EXPECT_EQ(explicit_half.scalar_type(), torch::kHalf);
  EXPECT_EQ(torch_half.scalar_type(), torch::kHalf);
  expect_close(explicit_half.to(torch::kFloat), torch_half.to(torch::kFloat));
}

TEST(Api, BuildInfo) {
  const auto info = fusedact::build_info();
  EXPECT_FALSE(info.torch.empty());
  EXPECT_FALSE(info.cpu_isa.empty());
  EXPECT_GT(info.cpu_cache_bytes, 0);
  EXPECT_EQ(info.cuda, !info.cuda_archs.empty());
}

}  // namespace
