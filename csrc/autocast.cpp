// Autocast: fusedact's ops behave under torch.autocast as their torch twins do. torch runs
// softmax and log_softmax in float32 under CUDA autocast (its fp32 list), so do we; on the CPU
// torch's autocast leaves them alone, as it leaves every activation, and so the CPU key falls
// through. Registers softmax and log_softmax at the AutocastCUDA key.
#include "softmax.h"

#include <ATen/autocast_mode.h>

namespace fusedact {
namespace {

template <class Op>
at::Tensor softmax_in_float32(const at::Tensor& self, int64_t dim) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCUDA);
  return Softmax<Op>::forward_op().call(at::autocast::cached_cast(at::kFloat, self, c10::DeviceType::CUDA), dim);
}

}  // namespace

TORCH_LIBRARY_IMPL(fusedact, AutocastCUDA, m) {
  for_each_type(SoftmaxOps{}, [&](auto op) { m.impl(decltype(op)::kName, &softmax_in_float32<decltype(op)>); });
}

}  // namespace fusedact
