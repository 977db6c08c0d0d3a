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

#include <string>
#include <vector>

namespace fusedact {

/// max(0, x). torch::relu.
at::Tensor relu(const at::Tensor& input);
/// relu, in place; returns input.
at::Tensor& relu_(at::Tensor& input);

/// x * Phi(x), or its tanh approximation with approximate = "tanh". torch::gelu.
at::Tensor gelu(const at::Tensor& input, c10::string_view approximate = "none");

/// How this build of fusedact was made, and what it runs with.
struct BuildInfo {
  std::string torch;                     // torch version it was built against
  bool cuda = false;                     // whether the CUDA kernels were compiled in
  std::string cuda_version;              // CUDA toolkit version, when cuda
  std::vector<std::string> cuda_archs;   // compiled architectures, e.g. "80", "90"
  std::string cpu_isa;                   // instruction set the CPU kernels run with now
  std::vector<std::string> cpu_isas;     // those this build and this CPU could use
};
BuildInfo build_info();

/// Makes the CPU kernels use one instruction set ("default", "avx2" or "avx512"),
/// as the environment variable FUSEDACT_CPU_ISA does at load time.
void set_cpu_isa(const std::string& name);

}  // namespace fusedact
