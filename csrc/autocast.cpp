// Autocast: fusedact's ops behave under torch.autocast as their torch twins do. torch runs
// softmax and log_softmax in float32 under CUDA autocast (its fp32 list), so do we: a float16 /
// bfloat16 input is read as it is into a float32 result (half_to_float), not copied to float32
// first; on the CPU torch's autocast leaves them alone, as it leaves every activation, and so
// does ours.
// swiglu_ffn is three linear layers around swiglu: torch's autocast runs linear in its lower
// precision (float16 / bfloat16) on CUDA and on the CPU, so swiglu_ffn's inputs are cast to it.
// prelu is on torch's lower-precision list on both devices (nn.PReLU under AMP runs in
// float16 / bfloat16), and so are fusedact's channel-parameter ops, prelu and swish with a
// tensor beta: input and parameter are cast to it, the parameter's gradient comes back in its
// own dtype through the cast.
// Registers softmax and log_softmax at AutocastCUDA; swiglu_ffn, prelu and swish_tensor at
// AutocastCUDA and AutocastCPU.
#include "channel_param.h"
#include "softmax.h"
#include "swiglu_ffn.h"

#include <ATen/autocast_mode.h>

namespace fusedact {
namespace {

template <class Op>
at::Tensor softmax_in_float32(const at::Tensor& self, int64_t dim, bool half_to_float) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCUDA);
  const bool half = self.scalar_type() == at::kHalf || self.scalar_type() == at::kBFloat16;
  if (half && self.is_cuda()) return Softmax<Op>::forward_op().call(self, dim, /*half_to_float=*/true);
  return Softmax<Op>::forward_op().call(at::autocast::cached_cast(at::kFloat, self, c10::DeviceType::CUDA), dim,
                                        half_to_float);
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

template <class Op, c10::DeviceType kDevice>
at::Tensor channel_param_in_lower_precision(const at::Tensor& self, const at::Tensor& param) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(at::autocast::get_autocast_dispatch_key_from_device_type(kDevice));
  const auto dtype = at::autocast::get_lower_precision_fp_from_device_type(kDevice);
  return ChannelParam<Op>::forward_op().call(at::autocast::cached_cast(dtype, self, kDevice),
                                             at::autocast::cached_cast(dtype, param, kDevice));
}

template <c10::DeviceType kDevice>
void register_lower_precision(torch::Library& m) {
  m.impl(SwigluFfn::kName, &swiglu_ffn_in_lower_precision<kDevice>);
  for_each_type(ChannelParamOps{}, [&](auto op) {
    using Op = decltype(op);
    m.impl(Op::kName, &channel_param_in_lower_precision<Op, kDevice>);
  });
}

}  // namespace

TORCH_LIBRARY_IMPL(fusedact, AutocastCUDA, m) {
  for_each_type(SoftmaxOps{}, [&](auto op) { m.impl(decltype(op)::kName, &softmax_in_float32<decltype(op)>); });
  register_lower_precision<c10::DeviceType::CUDA>(m);
}

TORCH_LIBRARY_IMPL(fusedact, AutocastCPU, m) { register_lower_precision<c10::DeviceType::CPU>(m); }

}  // namespace fusedact
