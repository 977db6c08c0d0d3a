// CPU kernels of the pointwise ops: registers every op of the table at the CPU key.
#include "cpu/kernels.h"
#include "pointwise.h"

namespace fusedact {

TORCH_LIBRARY_IMPL(fusedact, CPU, m) { register_pointwise_kernels<cpu::CpuBackend>(m); }

}  // namespace fusedact
