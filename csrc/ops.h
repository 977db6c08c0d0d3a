// The op table: each entry binds a math struct of math.h to the operators of its family.
//
// An entry names the op, types its non-tensor parameters once (`kParams`: name, default,
// keyword-only; the schema text and the C++ types both come from it), and says how they
// become the math struct (`make`, which also validates them, and whose signature must be
// kParams' C++ types: checked at compile time). Its family (pointwise.h, channel_param.h,
// glu.h, random_slope.h, softmax.h; the machinery in family.h) generates the rest: the schemas of its
// forward, backward, in-place and split ops, their CPU / CUDA / Meta / Autograd kernels and
// the C++ API's dispatcher handles.
#pragma once

#include "family.h"

#include <fusedact/math.h>

#include <ATen/core/Tensor.h>
#include <ATen/ops/hardtanh.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/threshold.h>
#include <c10/util/Exception.h>
#include <c10/util/string_view.h>

#include <cmath>
#include <tuple>

namespace fusedact {

// Common part of every pointwise entry: its math, whether torch.nn has an `inplace=True`
// form of it, and no parameters unless it says. An entry whose torch twin also takes integer
// tensors has `integers(self, <params>)`: torch's own operator, which computes them (there is
// no gradient to take).
template <class M, bool kInplace = false>
struct PointwiseOp {
  using Math = M;
  static constexpr bool kHasInplace = kInplace;
  static constexpr std::tuple<> kParams{};
};

struct ReluOp : PointwiseOp<math::Relu, /*inplace=*/true> {
  static constexpr const char* kName = "relu";
  static math::Relu make() { return {}; }
  static at::Tensor integers(const at::Tensor& self) { return at::relu(self); }
};

struct GeluOp : PointwiseOp<math::Gelu> {
  static constexpr const char* kName = "gelu";
  static constexpr std::tuple kParams{Str{"approximate", "'none'", kKeywordOnly}};
  static math::Gelu make(c10::string_view approximate) {
    TORCH_CHECK(approximate == "none" || approximate == "tanh",
                "fusedact.gelu: approximate must be 'none' or 'tanh', got '", approximate, "'");
    return {approximate == "tanh"};
  }
};

struct SigmoidOp : PointwiseOp<math::Sigmoid> {
  static constexpr const char* kName = "sigmoid";
  static math::Sigmoid make() { return {}; }
};

struct TanhOp : PointwiseOp<math::Tanh> {
  static constexpr const char* kName = "tanh";
  static math::Tanh make() { return {}; }
};

struct LeakyReluOp : PointwiseOp<math::LeakyRelu, /*inplace=*/true> {
  static constexpr const char* kName = "leaky_relu";
  static constexpr std::tuple kParams{Float{"negative_slope", "0.01"}};
  static math::LeakyRelu make(double negative_slope) { return {negative_slope}; }
};

struct EluOp : PointwiseOp<math::Elu, /*inplace=*/true> {
  static constexpr const char* kName = "elu";
  static constexpr std::tuple kParams{Float{"alpha", "1.0"}};
  static math::Elu make(double alpha) { return {alpha}; }
};

struct SeluOp : PointwiseOp<math::Elu, /*inplace=*/true> {
  static constexpr const char* kName = "selu";
  static math::Elu make() { return {math::kSeluAlpha, math::kSeluScale}; }
};

struct SoftplusOp : PointwiseOp<math::Softplus> {
  static constexpr const char* kName = "softplus";
  static constexpr std::tuple kParams{Float{"beta", "1.0"}, Float{"threshold", "20.0"}};
  static math::Softplus make(double beta, double threshold) {
    TORCH_CHECK(beta != 0, "fusedact.softplus: beta must be non-zero");
    return {beta, threshold};
  }
};

struct SiluOp : PointwiseOp<math::Silu, /*inplace=*/true> {
  static constexpr const char* kName = "silu";
  static math::Silu make() { return {}; }
};

struct SwishOp : PointwiseOp<math::SwishConstant> {
  static constexpr const char* kName = "swish";
  static constexpr std::tuple kParams{Float{"beta", "1.0"}};
  static math::SwishConstant make(double beta) { return {beta}; }
};

struct QuickGeluOp : PointwiseOp<math::SwishConstant> {
  static constexpr const char* kName = "quick_gelu";
  static math::SwishConstant make() { return {math::kQuickGeluBeta}; }
};

struct MishOp : PointwiseOp<math::Mish, /*inplace=*/true> {
  static constexpr const char* kName = "mish";
  static math::Mish make() { return {}; }
};

struct HardtanhOp : PointwiseOp<math::Hardtanh, /*inplace=*/true> {
  static constexpr const char* kName = "hardtanh";
  static constexpr std::tuple kParams{in_input_dtype(Float{"min_val", "-1.0"}),
                                      in_input_dtype(Float{"max_val", "1.0"})};
  static math::Hardtanh make(double min_val, double max_val) {
    TORCH_CHECK_VALUE(!(min_val > max_val), "fusedact.hardtanh: min_val (", min_val,
                      ") cannot be greater than max_val (", max_val, ")");
    return {min_val, max_val};
  }
  static at::Tensor integers(const at::Tensor& self, double min_val, double max_val) {
    return at::hardtanh(self, min_val, max_val);
  }
};

struct Relu6Op : PointwiseOp<math::Hardtanh, /*inplace=*/true> {
  static constexpr const char* kName = "relu6";
  static math::Hardtanh make() { return {0.0, 6.0}; }
  static at::Tensor integers(const at::Tensor& self) { return at::hardtanh(self, 0.0, 6.0); }
};

struct HardsigmoidOp : PointwiseOp<math::Hardsigmoid, /*inplace=*/true> {
  static constexpr const char* kName = "hardsigmoid";
  static math::Hardsigmoid make() { return {}; }
};

struct HardswishOp : PointwiseOp<math::Hardswish, /*inplace=*/true> {
  static constexpr const char* kName = "hardswish";
  static math::Hardswish make() { return {}; }
};

// celu(x, alpha) = elu with the input scaled by 1 / alpha, as torch computes it.
struct CeluOp : PointwiseOp<math::Elu, /*inplace=*/true> {
  static constexpr const char* kName = "celu";
  static constexpr std::tuple kParams{Float{"alpha", "1.0"}};
  static math::Elu make(double alpha) {
    TORCH_CHECK(alpha != 0, "fusedact.celu: alpha cannot be 0");
    return {alpha, 1.0, 1.0 / alpha};
  }
};

struct LogSigmoidOp : PointwiseOp<math::LogSigmoid> {
  static constexpr const char* kName = "logsigmoid";
  static math::LogSigmoid make() { return {}; }
};

struct SoftsignOp : PointwiseOp<math::Softsign> {
  static constexpr const char* kName = "softsign";
  static math::Softsign make() { return {}; }
};

struct TanhshrinkOp : PointwiseOp<math::Tanhshrink> {
  static constexpr const char* kName = "tanhshrink";
  static math::Tanhshrink make() { return {}; }
};

// softshrink's lambd, as torch's, lies in [0, the largest value of the input's dtype].
template <bool kHard>
struct ShrinkOp : PointwiseOp<math::Shrink<kHard>> {
  static constexpr const char* kName = kHard ? "hardshrink" : "softshrink";
  static constexpr std::tuple kParams{in_input_dtype(Float{"lambd", "0.5"})};
  static math::Shrink<kHard> make(double lambd) {
    TORCH_CHECK(kHard || (lambd >= 0 && std::isfinite(lambd)),
                "fusedact.softshrink: lambd must be finite and at least 0, got ", lambd);
    return {lambd};
  }
};

struct ThresholdOp : PointwiseOp<math::Threshold, /*inplace=*/true> {
  static constexpr const char* kName = "threshold";
  static constexpr std::tuple kParams{Float{"threshold"}, in_input_dtype(Float{"value"})};
  static math::Threshold make(double threshold, double value) { return {threshold, value}; }
  static at::Tensor integers(const at::Tensor& self, double threshold, double value) {
    return at::threshold(self, threshold, value);
  }
};

struct ReluSquaredOp : PointwiseOp<math::ReluSquared> {
  static constexpr const char* kName = "relu_squared";
  static math::ReluSquared make() { return {}; }
};

// Ops whose parameter is a tensor broadcast along dim 1 (one value, or one per channel, as
// nn.PReLU's weight) and may be learned. An entry names the op and the parameter. Its
// operators (channel_param.h):
//   <name>(Tensor self, Tensor <param>) -> Tensor
//   <name>_backward(Tensor grad_output, Tensor self, Tensor <param>) -> Tensor
//   <name>_<param>_backward(Tensor grad_output, Tensor self, Tensor <param>) -> Tensor
template <class M>
struct ChannelParamOp {
  using Math = M;
};

struct PreluOp : ChannelParamOp<math::Prelu> {
  static constexpr const char* kName = "prelu";
  static constexpr const char* kParam = "weight";
};

// swish with a tensor beta. A name of its own rather than an overload of swish: a one-element
// tensor would also match swish's float beta.
struct SwishTensorOp : ChannelParamOp<math::Swish> {
  static constexpr const char* kName = "swish_tensor";
  static constexpr const char* kParam = "beta";
};

// GLU variants: act(gate) * up, gate and up being two tensors, or the halves of one tensor
// along a dim: the gate first, as in LLaMA, or second (kGateSecond), as torch's glu. An entry
// names the op and the pointwise entry of its activation, whose parameters it takes. Its
// operators (glu.h):
//   <name>(Tensor gate, Tensor up, <params>) -> Tensor
//   <name>_backward(Tensor grad_output, Tensor gate, Tensor up, <params>) -> (Tensor, Tensor)
//   <name>_split(Tensor self, int dim=-1, <params>) -> Tensor
//   <name>_split_backward(Tensor grad_output, Tensor self, int dim, <params>) -> Tensor
template <class Act>
struct GluOp {
  using Math = math::Gated<typename Act::Math>;
  static constexpr auto kParams = Act::kParams;
  static constexpr bool kGateSecond = false;
  static Math make(auto... params) { return {Act::make(params...)}; }
};

struct SwigluOp : GluOp<SiluOp> {
  static constexpr const char* kName = "swiglu";
};

struct GegluOp : GluOp<GeluOp> {
  static constexpr const char* kName = "geglu";
};

struct RegluOp : GluOp<ReluOp> {
  static constexpr const char* kName = "reglu";
};

struct ReluSquaredGluOp : GluOp<ReluSquaredOp> {
  static constexpr const char* kName = "relu_squared_glu";
};

struct QuickGeluGluOp : GluOp<QuickGeluOp> {
  static constexpr const char* kName = "quick_gelu_glu";
};

// torch's glu: a * sigmoid(b), with a, b = input.chunk(2, dim).
struct SigmoidGluOp : GluOp<SigmoidOp> {
  static constexpr const char* kName = "glu";
  static constexpr bool kGateSecond = true;
};

// gpt-oss's clamped SwiGLU (math::ClampedSwiglu), with its defaults.
struct ClampedSwigluOp {
  using Math = math::ClampedSwiglu;
  static constexpr const char* kName = "clamped_swiglu";
  static constexpr std::tuple kParams{Float{"limit", "7.0"}, Float{"alpha", "1.702"}};
  static constexpr bool kGateSecond = false;
  static Math make(double limit, double alpha) {
    TORCH_CHECK(limit >= 0, "fusedact.clamped_swiglu: limit must be at least 0, got ", limit);
    return {limit, alpha};
  }
};

// rrelu, as torch's: a slope drawn per element in training, their mean in evaluation. Its
// operators (random_slope.h) take the seed of the draws, none in evaluation. Torch's bounds
// check, and two more: finite bounds, and a lower one of at least 0, so that the output's sign
// tells where the input was positive (backward takes the output).
struct RreluOp {
  using Math = math::RandomSlope;
  static constexpr const char* kName = "rrelu";
  static constexpr std::tuple kParams{Float{"lower", "0.125"}, Float{"upper", "0.3333333333333333"}};
  static Math make(double lower, double upper) {
    TORCH_CHECK(lower <= upper, "fusedact.rrelu: lower bound (", lower,
                ") should be less than or equal to the upper bound (", upper, ")");
    TORCH_CHECK(lower >= 0 && std::isfinite(upper),
                "fusedact.rrelu: lower and upper must be finite and at least 0, got ", lower, " and ", upper);
    return {lower, upper};
  }
};

// softmax, log_softmax and softmin along a dim. Their operators (softmax.h):
//   <name>(Tensor self, int dim, bool half_to_float=False) -> Tensor
//   <name>_backward(Tensor grad_output, Tensor output, int dim) -> Tensor
struct SoftmaxOp {
  using Math = math::Softmax<false>;
  static constexpr const char* kName = "softmax";
};
struct LogSoftmaxOp {
  using Math = math::Softmax<true>;
  static constexpr const char* kName = "log_softmax";
};
struct SoftminOp {
  using Math = math::Softmin;
  static constexpr const char* kName = "softmin";
};

// ---- the table ---------------------------------------------------------------------------

using PointwiseOps =
    TypeList<SigmoidOp, TanhOp, ReluOp, LeakyReluOp, EluOp, SeluOp, GeluOp, QuickGeluOp, SiluOp, SwishOp, MishOp,
             SoftplusOp, HardtanhOp, Relu6Op, HardsigmoidOp, HardswishOp, CeluOp, LogSigmoidOp, SoftsignOp,
             TanhshrinkOp, ShrinkOp<false>, ShrinkOp<true>, ThresholdOp, ReluSquaredOp>;
using ChannelParamOps = TypeList<PreluOp, SwishTensorOp>;
using GluOps = TypeList<SwigluOp, GegluOp, RegluOp, ReluSquaredGluOp, QuickGeluGluOp, SigmoidGluOp, ClampedSwigluOp>;
using RandomSlopeOps = TypeList<RreluOp>;
using SoftmaxOps = TypeList<SoftmaxOp, LogSoftmaxOp, SoftminOp>;

}  // namespace fusedact
