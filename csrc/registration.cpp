// Operator schemas: every fusedact operator is declared here, in one TORCH_LIBRARY block:
// the companion ops of every family (families.h; each family's header spells its schemas),
// and the gated feed-forward block (gated_ffn.h), weights as nn.Linear stores them:
//   gated_ffn(Tensor x, Tensor w_gate, Tensor w_up, Tensor w_down, Tensor? b_gate=None,
//             Tensor? b_up=None, Tensor? b_down=None, *, str activation='silu') -> Tensor
#include "families.h"
#include "gated_ffn.h"

#include <torch/library.h>

namespace fusedact {

TORCH_LIBRARY(fusedact, m) {
  define_ops(m, AllFamilies{});
  m.def(GatedFfn::kSchema, {at::Tag::pt2_compliant_tag});
}

}  // namespace fusedact
