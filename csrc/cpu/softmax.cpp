// CPU kernels of softmax and log_softmax: registers them at the CPU key.
#include "cpu/kernels.h"
#include "families.h"

namespace fusedact {

TORCH_LIBRARY_IMPL(fusedact, CPU, m) { register_backend<cpu::CpuBackend>(m, SoftmaxFamilies{}); }

}  // namespace fusedact
