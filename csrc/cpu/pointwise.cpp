// CPU kernels of the element-wise families (pointwise, channel-parameter, GLU): registers
// their ops at the CPU key.
#include "cpu/kernels.h"
#include "families.h"

namespace fusedact {

TORCH_LIBRARY_IMPL(fusedact, CPU, m) { register_backend<cpu::CpuBackend>(m, ElementwiseFamilies{}); }

}  // namespace fusedact
