// Autocast: fusedact's ops behave under torch.autocast as their torch twins do. torch runs
// softmax and log_softmax in float32 under CUDA autocast (its fp32 list), so do we; on the CPU
// torch's autocast leaves them alone, as it leaves every activation, and so does ours.
// swiglu_ffn is three linear layers around swiglu: torch's autocast runs linear in its lower
// precision (float16 / bfloat16) on CUDA and on the CPU, so swiglu_ffn's inputs are cast to it.
// Registers softmax and log_softmax at AutocastCUDA, swiglu_ffn at AutocastCUDA and AutocastCPU.
#include "softmax.h"
#include "swiglu_ffn.h"

#include <ATen/autocast_mode.h>

namespace fusedact {
namespace {

template <class Op>
at::Tensor softmax_in_float32(const at::Tensor& self, int64_t dim) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCUDA);
  return Softmax<Op>::forward_op().call(at::autocast::cached_cast(at::kFloat, self, c10::DeviceType::CUDA), dim);
}

template <c10::DeviceType kDevice>
at::Tensor swiglu_ffn_in_lower_precision(const at::Tensor& x, const at::Tensor& w_gate, const at::Tensor& w_up,
                                         const at::Tensor& w_down, const std::optional<at::Tensor>& b_gate,
                                         const std::optional<at::Tensor>& b_up,
                                         const std::optional<at::Tensor>& b_down) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(at::autocast::get_autocast_dispatch_key_from_device_type(kDevice));
  const auto dtype = at::autocast::get_lower_precision_fp_from_device_type(kDevice);
  auto cast = [&](const auto& t) { return at::autocast::cached_cast(dtype, t, kDevice); };
  return SwigluFfn::op().call(cast(x), cast(w_gate), cast(w_up), cast(w_down), cast(b_gate), cast(b_up),
                              cast(b_down));
}

}  // namespace

TORCH_LIBRARY_IMPL(fusedact, AutocastCUDA, m) {
  for_each_type(SoftmaxOps{}, [&](auto op) { m.impl(decltype(op)::kName, &softmax_in_float32<decltype(op)>); });
  m.impl(SwigluFfn::kName, &swiglu_ffn_in_lower_precision<c10::DeviceType::CUDA>);
}

TORCH_LIBRARY_IMPL(fusedact, AutocastCPU, m) {
  m.impl(SwigluFfn::kName, &swiglu_ffn_in_lower_precision<c10::DeviceType::CPU>);
}

}  // namespace fusedact
