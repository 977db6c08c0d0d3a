// The C++ API (fusedact/fusedact.h, fusedact/nn.h) against LibTorch: values, autograd
// (first and second order), modules and errors.
#include <fusedact/fusedact.h>
#include <fusedact/nn.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>

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

TEST(Api, GeluMatchesTorch) {
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    expect_matches([](auto& x) { return fusedact::gelu(x); }, [](auto& x) { return torch::gelu(x); }, dtype);
    expect_matches([](auto& x) { return fusedact::gelu(x, "tanh"); }, [](auto& x) { return torch::gelu(x, "tanh"); },
                   dtype);
  }
}

TEST(Api, ReluMatchesTorch) {
  expect_matches([](auto& x) { return fusedact::relu(x); }, [](auto& x) { return torch::relu(x); });
  // In place, through autograd on a non-leaf.
  expect_matches([](auto& x) {
    auto y = x * 1;
    return fusedact::relu_(y);
  }, [](auto& x) { return torch::relu(x * 1); });
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
  for (std::string approximate : {"none", "tanh"}) {
    auto y = fusedact::gelu(x, approximate);
    auto y_ref = torch::gelu(x, approximate);
    auto g = torch::autograd::grad({y.sum()}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
    auto g_ref = torch::autograd::grad({y_ref.sum()}, {x}, {}, true, true)[0];
    auto gg = torch::autograd::grad({g.sum()}, {x})[0];
    auto gg_ref = torch::autograd::grad({g_ref.sum()}, {x})[0];
    expect_close(gg, gg_ref);
  }
}

TEST(Api, ModulesMatchTorchModules) {
  auto x = sample({8, 16});
  fusedact::nn::GELU gelu(torch::nn::GELUOptions().approximate("tanh"));
  torch::nn::GELU gelu_ref(torch::nn::GELUOptions().approximate("tanh"));
  expect_close(gelu(x), gelu_ref(x));
  fusedact::nn::ReLU relu;
  expect_close(relu(x), torch::relu(x));

  torch::nn::Sequential net(torch::nn::Linear(16, 4), fusedact::nn::GELU(), fusedact::nn::ReLU());
  auto y = net->forward(x);
  y.sum().backward();
  EXPECT_TRUE(net->parameters()[0].grad().defined());

  std::ostringstream printed;
  printed << *gelu;
  EXPECT_EQ(printed.str(), "fusedact::nn::GELU(approximate=tanh)");
  auto copy = std::dynamic_pointer_cast<fusedact::nn::GELUImpl>(gelu->clone());
  ASSERT_TRUE(copy);
  EXPECT_EQ(copy->options.approximate(), "tanh");
}

TEST(Api, ClearErrors) {
  try {
    fusedact::gelu(torch::arange(4));
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("fusedact.gelu: expected input to be a floating-point tensor"),
              std::string::npos);
  }
  EXPECT_THROW(fusedact::gelu(torch::ones(3), "fast"), c10::Error);
}

TEST(Api, BuildInfo) {
  const auto info = fusedact::build_info();
  EXPECT_FALSE(info.torch.empty());
  EXPECT_FALSE(info.cpu_isa.empty());
  EXPECT_EQ(info.cuda, !info.cuda_archs.empty());
}

}  // namespace
