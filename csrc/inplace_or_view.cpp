// The version counter of the in-place ops, at the ADInplaceOrView key. Autograd's kernels
// (autograd.cpp) record an in-place op and bump the counter themselves; the calls that skip
// them reach this kernel: in inference mode (on a normal tensor, whose copies saved for
// backward must see the change) and with nothing to record. The counter is bumped before the
// op runs, so that an inference tensor outside inference mode raises, as torch's in-place ops
// do, before it is modified.
#include "families.h"

#include <torch/csrc/autograd/VariableTypeUtils.h>

namespace fusedact {

namespace {

template <class Inplace, class... Args>
void bump_then_run(at::Tensor& self, const Args&... args) {
  torch::autograd::increment_version(self);
  at::AutoDispatchBelowADInplaceOrView guard;
  op<Inplace>().call(self, args...);
}

}  // namespace

template <class Op, class... P>
struct PointwiseInplaceOrView<Op, c10::guts::typelist::typelist<P...>> {
  static void forward_(at::Tensor& self, P... params) {
    bump_then_run<typename PointwiseFamily<Op>::Inplace>(self, params...);
  }
};

template <class Op, class... P>
struct RandomSlopeInplaceOrView<Op, c10::guts::typelist::typelist<P...>> {
  using Family = RandomSlopeFamily<Op>;
  static void forward_(at::Tensor& self, typename Family::Seed seed, P... params) {
    bump_then_run<typename Family::Inplace>(self, seed, params...);
  }
};

TORCH_LIBRARY_IMPL(fusedact, ADInplaceOrView, m) {
  register_impls<InplaceOrViewOf, /*kEveryOp=*/false>(m, AllFamilies{});
}

}  // namespace fusedact
