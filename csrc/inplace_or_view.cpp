// The version counter of the in-place ops, at the ADInplaceOrView key. Autograd's kernels
// (autograd.cpp) record an in-place op and bump the counter themselves; the calls that skip
// them reach this kernel: in inference mode (on a normal tensor, whose copies saved for
// backward must see the change) and with nothing to record. The counter is bumped before the
// op runs, so that an inference tensor outside inference mode raises, as torch's in-place ops
// do, before it is modified.
#include "pointwise.h"

#include <torch/csrc/autograd/VariableTypeUtils.h>

namespace fusedact {
namespace {

template <class Op, class Params = ParamsOf<Op>>
struct InplaceOrView;

template <class Op, class... P>
struct InplaceOrView<Op, c10::guts::typelist::typelist<P...>> {
  static void forward_(at::Tensor& self, P... params) {
    torch::autograd::increment_version(self);
    at::AutoDispatchBelowADInplaceOrView guard;
    Pointwise<Op>::inplace_op().call(self, params...);
  }
};

}  // namespace

TORCH_LIBRARY_IMPL(fusedact, ADInplaceOrView, m) {
  for_each_type(PointwiseOps{}, [&](auto op) {
    using Op = decltype(op);
    if constexpr (Op::kHasInplace) m.impl(inplace_name<Op>().c_str(), &InplaceOrView<Op>::forward_);
  });
}

}  // namespace fusedact
