// CPU kernels of softmax and log_softmax: registers them at the CPU key.
#include "cpu/kernels.h"
#include "softmax.h"

namespace fusedact {

TORCH_LIBRARY_IMPL(fusedact, CPU, m) { register_softmax_kernels<cpu::CpuBackend>(m); }

}  // namespace fusedact
