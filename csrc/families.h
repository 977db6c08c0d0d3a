// Every op family of the op table (ops.h), as register_impls (family.h) takes them, and the
// kernel functors their backends compile.
#pragma once

#include "channel_param.h"
#include "glu.h"
#include "ops.h"
#include "pointwise.h"
#include "random_slope.h"
#include "softmax.h"

namespace fusedact {

// The families run element-wise (by Backend::run, and Backend::random_slope), and softmax's.
using ElementwiseFamilies =
    Concat<FamiliesOf<PointwiseFamily, PointwiseOps>, FamiliesOf<ChannelParamFamily, ChannelParamOps>,
           FamiliesOf<GluFamily, GluOps>, FamiliesOf<RandomSlopeFamily, RandomSlopeOps>>;
using SoftmaxFamilies = FamiliesOf<SoftmaxFamily, SoftmaxOps>;
using AllFamilies = Concat<ElementwiseFamilies, SoftmaxFamilies>;

// The functors of a family's kernels: those Backend::run applies (`Functors`), the channel
// reductions of Backend::channel_grad (`ChannelReductions`) and those of Backend::random_slope
// (`RandomFunctors`), the last two where the family has them.
template <class Family>
auto channel_reductions_of() {
  if constexpr (requires { typename Family::ChannelReductions; }) {
    return typename Family::ChannelReductions{};
  } else {
    return TypeList<>{};
  }
}
template <class Family>
auto random_functors_of() {
  if constexpr (requires { typename Family::RandomFunctors; }) {
    return typename Family::RandomFunctors{};
  } else {
    return TypeList<>{};
  }
}

template <class Families>
struct AllFunctors;
template <class... Families>
struct AllFunctors<TypeList<Families...>> {
  using elementwise = Concat<typename Families::Functors...>;
  using channel_reductions = Concat<decltype(channel_reductions_of<Families>())...>;
  using random = Concat<decltype(random_functors_of<Families>())...>;
};
using PointwiseFunctors = AllFunctors<ElementwiseFamilies>::elementwise;
using ChannelGradFunctors = AllFunctors<ElementwiseFamilies>::channel_reductions;
using RandomSlopeFunctors = AllFunctors<ElementwiseFamilies>::random;

}  // namespace fusedact
