// CPU kernels of the pointwise, channel-parameter and GLU ops: registers every op of the tables
// at the CPU key.
#include "channel_param.h"
#include "gated.h"
#include "cpu/kernels.h"
#include "pointwise.h"

namespace fusedact {

TORCH_LIBRARY_IMPL(fusedact, CPU, m) {
  register_pointwise_kernels<cpu::CpuBackend>(m);
  register_channel_param_kernels<cpu::CpuBackend>(m);
  register_gated_kernels<cpu::CpuBackend>(m);
}

}  // namespace fusedact
