// Trains the same small MLP twice from the same initial weights, once with fusedact's
// activation modules and once with torch::nn's, and checks that the two runs agree step for
// step. Exits non-zero when they do not.
#include <fusedact/nn.h>
#include <torch/torch.h>

#include <cstdio>

namespace {

template <class Gelu, class Relu>
torch::nn::Sequential make_net() {
  torch::manual_seed(0);
  return torch::nn::Sequential(torch::nn::Linear(32, 128), Gelu(torch::nn::GELUOptions().approximate("tanh")),
                               torch::nn::Linear(128, 128), Relu(), torch::nn::Linear(128, 1));
}

}  // namespace

int main() {
  torch::manual_seed(1);
  const auto inputs = torch::randn({512, 32});
  const auto targets = (inputs.sin().sum(1, /*keepdim=*/true) * 0.5).tanh();

  auto fused = make_net<fusedact::nn::GELU, fusedact::nn::ReLU>();
  auto reference = make_net<torch::nn::GELU, torch::nn::ReLU>();
  torch::optim::SGD fused_opt(fused->parameters(), 0.05);
  torch::optim::SGD reference_opt(reference->parameters(), 0.05);

  double worst = 0;
  for (int step = 0; step < 200; ++step) {
    auto loss = torch::mse_loss(fused->forward(inputs), targets);
    auto reference_loss = torch::mse_loss(reference->forward(inputs), targets);
    fused_opt.zero_grad();
    reference_opt.zero_grad();
    loss.backward();
    reference_loss.backward();
    fused_opt.step();
    reference_opt.step();
    worst = std::max(worst, std::abs(loss.item<double>() - reference_loss.item<double>()));
    if (step % 50 == 0 || step == 199) {
      std::printf("step %3d  loss fusedact %.6f  torch::nn %.6f\n", step, loss.item<double>(),
                  reference_loss.item<double>());
    }
  }
  std::printf("largest loss difference over 200 steps: %.3g\n", worst);
  return worst < 1e-4 ? 0 : 1;
}
