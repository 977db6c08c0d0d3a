// Autocast: fusedact's ops behave under torch.autocast as their torch twins do. torch runs
// softmax and log_softmax in float32 under CUDA autocast (its fp32 list), so do we: a float16 /
// bfloat16 input is read as it is into a float32 result (half_to_float), not copied to float32
// first; on the CPU torch's autocast leaves them alone, as it leaves every activation, and so
// does ours.
// gated_ffn is three linear layers around a GLU: torch's autocast runs linear in its lower
// precision (float16 / bfloat16) on CUDA and on the CPU, so gated_ffn's inputs are cast to it.
// prelu is on torch's lower-precision list on both devices (nn.PReLU under AMP runs in
// float16 / bfloat16), and so are fusedact's channel-parameter ops, prelu and swish with a
// tensor beta: input and parameter are cast to it, the parameter's gradient comes back in its
// own dtype through the cast.
// Registers the families' AutocastCPU / AutocastCUDA kernels (channel_param.h, softmax.h) and
// gated_ffn's.
#include "families.h"
#include "gated_ffn.h"

#include <ATen/autocast_mode.h>

namespace fusedact {

// handle(args...) with the floating tensors among args in kDevice's lower precision.
template <c10::DeviceType kDevice, class Signature, class... Args>
auto call_in_lower_precision(const c10::TypedOperatorHandle<Signature>& handle, const Args&... args) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(at::autocast::get_autocast_dispatch_key_from_device_type(kDevice));
  const auto dtype = at::autocast::get_lower_precision_fp_from_device_type(kDevice);
  return handle.call(at::autocast::cached_cast(dtype, args, kDevice)...);
}

template <c10::DeviceType kDevice, class Companion, class Sig = Signature<Companion>>
struct LowerPrecisionCall;
template <c10::DeviceType kDevice, class Companion, class R, class... A>
struct LowerPrecisionCall<kDevice, Companion, R(A...)> {
  static R forward(A... args) { return call_in_lower_precision<kDevice>(op<Companion>(), args...); }
};

namespace {

template <c10::DeviceType kDevice>
at::Tensor gated_ffn_in_lower_precision(const at::Tensor& x, const at::Tensor& w_gate, const at::Tensor& w_up,
                                        const at::Tensor& w_down, const std::optional<at::Tensor>& b_gate,
                                        const std::optional<at::Tensor>& b_up, const std::optional<at::Tensor>& b_down,
                                        c10::string_view activation) {
  return call_in_lower_precision<kDevice>(GatedFfn::op(), x, w_gate, w_up, w_down, b_gate, b_up, b_down, activation);
}

}  // namespace

template <class Family, c10::DeviceType kDevice>
struct LowerPrecisionForward : LowerPrecisionCall<kDevice, typename Family::Forward> {};

template <class Op>
struct SoftmaxAutocastCUDA {
  using Family = SoftmaxFamily<Op>;

  static at::Tensor forward(const at::Tensor& self, int64_t dim, bool half_to_float) {
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCUDA);
    const auto& forward = op<typename Family::Forward>();
    const bool half = self.scalar_type() == at::kHalf || self.scalar_type() == at::kBFloat16;
    if (half && self.is_cuda()) return forward.call(self, dim, /*half_to_float=*/true);
    return forward.call(at::autocast::cached_cast(at::kFloat, self, c10::DeviceType::CUDA), dim, half_to_float);
  }
};

TORCH_LIBRARY_IMPL(fusedact, AutocastCUDA, m) {
  register_impls<AutocastCudaOf, /*kEveryOp=*/false>(m, AllFamilies{});
  m.impl(GatedFfn::kName, &gated_ffn_in_lower_precision<c10::DeviceType::CUDA>);
}

TORCH_LIBRARY_IMPL(fusedact, AutocastCPU, m) {
  register_impls<AutocastCpuOf, /*kEveryOp=*/false>(m, AllFamilies{});
  m.impl(GatedFfn::kName, &gated_ffn_in_lower_precision<c10::DeviceType::CPU>);
}

}  // namespace fusedact
