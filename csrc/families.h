// Every op family of the op table (ops.h), as register_impls (family.h) takes them, and the
// kernel functors their backends compile.
#pragma once

#include "channel_param.h"
#include "glu.h"
#include "ops.h"
#include "pointwise.h"
#include "softmax.h"

namespace fusedact {

// The families run element-wise by Backend::run, and softmax's.
using ElementwiseFamilies = Concat<FamiliesOf<PointwiseFamily, PointwiseOps>,
                                   FamiliesOf<ChannelParamFamily, ChannelParamOps>, FamiliesOf<GluFamily, GluOps>>;
using SoftmaxFamilies = FamiliesOf<SoftmaxFamily, SoftmaxOps>;
using AllFamilies = Concat<ElementwiseFamilies, SoftmaxFamilies>;

// The functors of a family's kernels: those Backend::run applies (`Functors`), and the
// channel reductions of Backend::channel_grad (`ChannelReductions`, where it has one).
template <class Family>
struct FunctorsOf {
  using elementwise = typename Family::Functors;
  using channel_reductions = TypeList<>;
};
template <class Family>
  requires requires { typename Family::ChannelReductions; }
struct FunctorsOf<Family> {
  using elementwise = typename Family::Functors;
  using channel_reductions = typename Family::ChannelReductions;
};

template <class Families>
struct AllFunctors;
template <class... Families>
struct AllFunctors<TypeList<Families...>> {
  using elementwise = Concat<typename FunctorsOf<Families>::elementwise...>;
  using channel_reductions = Concat<typename FunctorsOf<Families>::channel_reductions...>;
};
using PointwiseFunctors = AllFunctors<ElementwiseFamilies>::elementwise;
using ChannelGradFunctors = AllFunctors<ElementwiseFamilies>::channel_reductions;

}  // namespace fusedact
