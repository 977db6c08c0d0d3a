// Meta kernels: output shape, dtype and strides without computing, for fake tensors,
// torch.compile and torch.export. Registers every op of every family at the Meta key.
#include "families.h"

namespace fusedact {

TORCH_LIBRARY_IMPL(fusedact, Meta, m) { register_impls<MetaOf, /*kEveryOp=*/true>(m, AllFamilies{}); }

}  // namespace fusedact
