// Meta kernels: output shape, dtype and strides without computing, for fake tensors,
// torch.compile and torch.export. Registers every op of the tables at the Meta key.
#include "channel_param.h"
#include "gated.h"
#include "pointwise.h"
#include "softmax.h"

namespace fusedact {

TORCH_LIBRARY_IMPL(fusedact, Meta, m) {
  for_each_type(PointwiseOps{}, [&](auto op) {
    using Op = decltype(op);
    using Impl = Pointwise<Op>;
    m.impl(Op::kName, &Impl::forward_meta);
    m.impl(backward_name<Op>().c_str(), &Impl::backward_meta);
    if constexpr (Op::kHasInplace) {
      m.impl(inplace_name<Op>().c_str(), &Impl::forward_meta_);
    }
  });
  for_each_type(ChannelParamOps{}, [&](auto op) {
    using Op = decltype(op);
    using Impl = ChannelParam<Op>;
    m.impl(Op::kName, &Impl::forward_meta);
    m.impl(backward_name<Op>().c_str(), &Impl::backward_meta);
    m.impl(param_backward_name<Op>().c_str(), &Impl::param_backward_meta);
  });
  for_each_type(GatedOps{}, [&](auto op) {
    using Op = decltype(op);
    using Impl = Gated<Op>;
    m.impl(Op::kName, &Impl::forward_meta);
    m.impl(backward_name<Op>().c_str(), &Impl::backward_meta);
    m.impl(split_name<Op>().c_str(), &Impl::split_meta);
    m.impl(split_backward_name<Op>().c_str(), &Impl::split_backward_meta);
  });
  for_each_type(SoftmaxOps{}, [&](auto op) {
    using Op = decltype(op);
    m.impl(Op::kName, &Softmax<Op>::forward_meta);
    m.impl(backward_name<Op>().c_str(), &Softmax<Op>::backward_meta);
  });
}

}  // namespace fusedact
