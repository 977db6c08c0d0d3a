// The C++ API (fusedact/fusedact.h): each function calls its operator through the
// dispatcher. Defined here, not inline, so that linking against libfusedact is what
// loads the operator registrations.
#include <fusedact/fusedact.h>

#include "cpu/isa.h"
#include "pointwise.h"

namespace fusedact {

at::Tensor relu(const at::Tensor& input) { return Pointwise<ReluOp>::forward_op().call(input); }
at::Tensor& relu_(at::Tensor& input) {
  Pointwise<ReluOp>::inplace_op().call(input);
  return input;
}

at::Tensor gelu(const at::Tensor& input, c10::string_view approximate) {
  return Pointwise<GeluOp>::forward_op().call(input, approximate);
}

BuildInfo build_info() {
  BuildInfo info;
  info.torch = FUSEDACT_TORCH_VERSION;
#ifdef FUSEDACT_WITH_CUDA
  info.cuda = true;
  info.cuda_version = FUSEDACT_CUDA_VERSION;
  std::string archs = FUSEDACT_CUDA_ARCHS;  // comma-separated, from CMake
  for (size_t start = 0; start < archs.size();) {
    size_t end = archs.find(',', start);
    if (end == std::string::npos) end = archs.size();
    if (end > start) info.cuda_archs.push_back(archs.substr(start, end - start));
    start = end + 1;
  }
#endif
  info.cpu_isa = cpu::isa_name(cpu::active_isa());
  for (auto isa : cpu::available_isas()) info.cpu_isas.push_back(cpu::isa_name(isa));
  return info;
}

void set_cpu_isa(const std::string& name) { cpu::set_cpu_isa(name); }

}  // namespace fusedact
