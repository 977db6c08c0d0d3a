// The C++ API (fusedact/fusedact.h): each function calls its operator through the
// dispatcher. Defined here, not inline, so that linking against libfusedact is what
// loads the operator registrations.
#include <fusedact/fusedact.h>

#include "cpu/isa.h"
#include "families.h"
#include "gated_ffn.h"

#include <ATen/ops/randint.h>

#include <limits>
#include <optional>

namespace fusedact {

namespace {

template <class Op, class... P>
at::Tensor call(const at::Tensor& input, P... params) {
  return op<typename PointwiseFamily<Op>::Forward>().call(input, params...);
}

template <class Op, class... P>
at::Tensor& call_(at::Tensor& input, P... params) {
  op<typename PointwiseFamily<Op>::Inplace>().call(input, params...);
  return input;
}

template <class Op>
using Glu = GluFamily<Op>;

// The seed of a random-slope op in training (random_slope.h): one draw of torch's default
// generator on the input's device; none in evaluation.
std::optional<at::Tensor> rrelu_seed(const at::Tensor& input, bool training) {
  if (!training) return std::nullopt;
  return at::randint(std::numeric_limits<int64_t>::max(), {}, input.options().dtype(at::kLong));
}

}  // namespace

at::Tensor sigmoid(const at::Tensor& input) { return call<SigmoidOp>(input); }
at::Tensor tanh(const at::Tensor& input) { return call<TanhOp>(input); }
at::Tensor relu(const at::Tensor& input) { return call<ReluOp>(input); }
at::Tensor& relu_(at::Tensor& input) { return call_<ReluOp>(input); }
at::Tensor leaky_relu(const at::Tensor& input, double slope) { return call<LeakyReluOp>(input, slope); }
at::Tensor& leaky_relu_(at::Tensor& input, double slope) { return call_<LeakyReluOp>(input, slope); }
at::Tensor rrelu(const at::Tensor& input, double lower, double upper, bool training) {
  return op<RandomSlopeFamily<RreluOp>::Forward>().call(input, rrelu_seed(input, training), lower, upper);
}
at::Tensor& rrelu_(at::Tensor& input, double lower, double upper, bool training) {
  op<RandomSlopeFamily<RreluOp>::Inplace>().call(input, rrelu_seed(input, training), lower, upper);
  return input;
}
at::Tensor prelu(const at::Tensor& input, const at::Tensor& weight) {
  return op<ChannelParamFamily<PreluOp>::Forward>().call(input, weight);
}
at::Tensor elu(const at::Tensor& input, double alpha) { return call<EluOp>(input, alpha); }
at::Tensor& elu_(at::Tensor& input, double alpha) { return call_<EluOp>(input, alpha); }
at::Tensor selu(const at::Tensor& input) { return call<SeluOp>(input); }
at::Tensor& selu_(at::Tensor& input) { return call_<SeluOp>(input); }
at::Tensor gelu(const at::Tensor& input, c10::string_view approximate) { return call<GeluOp>(input, approximate); }
at::Tensor quick_gelu(const at::Tensor& input) { return call<QuickGeluOp>(input); }
at::Tensor silu(const at::Tensor& input) { return call<SiluOp>(input); }
at::Tensor& silu_(at::Tensor& input) { return call_<SiluOp>(input); }
at::Tensor swish(const at::Tensor& input, double beta) { return call<SwishOp>(input, beta); }
at::Tensor swish(const at::Tensor& input, const at::Tensor& beta) {
  return op<ChannelParamFamily<SwishTensorOp>::Forward>().call(input, beta);
}
at::Tensor mish(const at::Tensor& input) { return call<MishOp>(input); }
at::Tensor& mish_(at::Tensor& input) { return call_<MishOp>(input); }
at::Tensor softplus(const at::Tensor& input, double beta, double threshold) {
  return call<SoftplusOp>(input, beta, threshold);
}

at::Tensor hardtanh(const at::Tensor& input, double min_val, double max_val) {
  return call<HardtanhOp>(input, min_val, max_val);
}
at::Tensor& hardtanh_(at::Tensor& input, double min_val, double max_val) {
  return call_<HardtanhOp>(input, min_val, max_val);
}
at::Tensor relu6(const at::Tensor& input) { return call<Relu6Op>(input); }
at::Tensor& relu6_(at::Tensor& input) { return call_<Relu6Op>(input); }
at::Tensor hardsigmoid(const at::Tensor& input) { return call<HardsigmoidOp>(input); }
at::Tensor& hardsigmoid_(at::Tensor& input) { return call_<HardsigmoidOp>(input); }
at::Tensor hardswish(const at::Tensor& input) { return call<HardswishOp>(input); }
at::Tensor& hardswish_(at::Tensor& input) { return call_<HardswishOp>(input); }
at::Tensor celu(const at::Tensor& input, double alpha) { return call<CeluOp>(input, alpha); }
at::Tensor& celu_(at::Tensor& input, double alpha) { return call_<CeluOp>(input, alpha); }
at::Tensor logsigmoid(const at::Tensor& input) { return call<LogSigmoidOp>(input); }
at::Tensor softsign(const at::Tensor& input) { return call<SoftsignOp>(input); }
at::Tensor tanhshrink(const at::Tensor& input) { return call<TanhshrinkOp>(input); }
at::Tensor softshrink(const at::Tensor& input, double lambd) { return call<ShrinkOp<false>>(input, lambd); }
at::Tensor hardshrink(const at::Tensor& input, double lambd) { return call<ShrinkOp<true>>(input, lambd); }
at::Tensor threshold(const at::Tensor& input, double threshold, double value) {
  return call<ThresholdOp>(input, threshold, value);
}
at::Tensor& threshold_(at::Tensor& input, double threshold, double value) {
  return call_<ThresholdOp>(input, threshold, value);
}
at::Tensor relu_squared(const at::Tensor& input) { return call<ReluSquaredOp>(input); }

at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up) { return op<Glu<SwigluOp>::Forward>().call(gate, up); }
at::Tensor swiglu(const at::Tensor& input, int64_t dim) { return op<Glu<SwigluOp>::Split>().call(input, dim); }
at::Tensor geglu(const at::Tensor& gate, const at::Tensor& up, c10::string_view approximate) {
  return op<Glu<GegluOp>::Forward>().call(gate, up, approximate);
}
at::Tensor geglu(const at::Tensor& input, int64_t dim, c10::string_view approximate) {
  return op<Glu<GegluOp>::Split>().call(input, dim, approximate);
}
at::Tensor reglu(const at::Tensor& gate, const at::Tensor& up) { return op<Glu<RegluOp>::Forward>().call(gate, up); }
at::Tensor reglu(const at::Tensor& input, int64_t dim) { return op<Glu<RegluOp>::Split>().call(input, dim); }
at::Tensor relu_squared_glu(const at::Tensor& gate, const at::Tensor& up) {
  return op<Glu<ReluSquaredGluOp>::Forward>().call(gate, up);
}
at::Tensor relu_squared_glu(const at::Tensor& input, int64_t dim) {
  return op<Glu<ReluSquaredGluOp>::Split>().call(input, dim);
}
at::Tensor quick_gelu_glu(const at::Tensor& gate, const at::Tensor& up) {
  return op<Glu<QuickGeluGluOp>::Forward>().call(gate, up);
}
at::Tensor quick_gelu_glu(const at::Tensor& input, int64_t dim) {
  return op<Glu<QuickGeluGluOp>::Split>().call(input, dim);
}
at::Tensor clamped_swiglu(const at::Tensor& gate, const at::Tensor& up, double limit, double alpha) {
  return op<Glu<ClampedSwigluOp>::Forward>().call(gate, up, limit, alpha);
}
at::Tensor clamped_swiglu(const at::Tensor& input, int64_t dim, double limit, double alpha) {
  return op<Glu<ClampedSwigluOp>::Split>().call(input, dim, limit, alpha);
}
at::Tensor glu(const at::Tensor& input, int64_t dim) { return op<Glu<SigmoidGluOp>::Split>().call(input, dim); }

// An explicit dtype is the caller's: CUDA autocast (which runs softmax in float32) leaves it
// alone, as torch's does.
template <class Op>
at::Tensor softmax_in(const at::Tensor& input, int64_t dim, std::optional<at::ScalarType> dtype) {
  const auto& forward = op<typename SoftmaxFamily<Op>::Forward>();
  if (!dtype) return forward.call(input, dim, false);
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCUDA);
  return forward.call(input.to(*dtype), dim, false);
}

at::Tensor softmax(const at::Tensor& input, int64_t dim, std::optional<at::ScalarType> dtype) {
  return softmax_in<SoftmaxOp>(input, dim, dtype);
}
at::Tensor log_softmax(const at::Tensor& input, int64_t dim, std::optional<at::ScalarType> dtype) {
  return softmax_in<LogSoftmaxOp>(input, dim, dtype);
}
at::Tensor softmin(const at::Tensor& input, int64_t dim, std::optional<at::ScalarType> dtype) {
  return softmax_in<SoftminOp>(input, dim, dtype);
}

at::Tensor swiglu_ffn(const at::Tensor& x, const at::Tensor& w_gate, const at::Tensor& w_up, const at::Tensor& w_down,
                      const std::optional<at::Tensor>& b_gate, const std::optional<at::Tensor>& b_up,
                      const std::optional<at::Tensor>& b_down) {
  return GatedFfn::op().call(x, w_gate, w_up, w_down, b_gate, b_up, b_down, "silu");
}

at::Tensor gated_ffn(const at::Tensor& x, const at::Tensor& w_gate, const at::Tensor& w_up, const at::Tensor& w_down,
                     const std::optional<at::Tensor>& b_gate, const std::optional<at::Tensor>& b_up,
                     const std::optional<at::Tensor>& b_down, c10::string_view activation) {
  return GatedFfn::op().call(x, w_gate, w_up, w_down, b_gate, b_up, b_down, activation);
}

BuildInfo build_info() {
  BuildInfo info;
  info.torch = FUSEDACT_TORCH_VERSION;
#ifdef FUSEDACT_WITH_CUDA
  info.cuda = true;
  info.cuda_version = FUSEDACT_CUDA_VERSION;
  std::string archs = FUSEDACT_CUDA_ARCHS;  // comma-separated, from CMake
  for (size_t start = 0; start < archs.size();) {
    size_t end = archs.find(',', start);
    if (end == std::string::npos) end = archs.size();
    if (end > start) info.cuda_archs.push_back(archs.substr(start, end - start));
    start = end + 1;
  }
#endif
  info.cpu_isa = cpu::isa_name(cpu::active_isa());
  for (auto isa : cpu::available_isas()) info.cpu_isas.push_back(cpu::isa_name(isa));
  info.cpu_cache_bytes = cpu::last_level_cache_bytes();
  return info;
}

void set_cpu_isa(const std::string& name) { cpu::set_cpu_isa(name); }

}  // namespace fusedact
