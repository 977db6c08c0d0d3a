// The op table: each entry binds one dispatcher schema to a math struct of math.h.
//
// An entry names the op, spells its parameters in schema syntax, and says how the schema
// arguments become the math struct (`make`, which also validates them). Everything else
// (schemas of the forward, backward and in-place ops, CPU/CUDA/Meta kernels, autograd,
// the C++ API's dispatcher calls) is generated from this table by the machinery in
// pointwise.h, registration.cpp, meta.cpp and autograd.cpp.
#pragma once

#include <fusedact/math.h>

#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/util/Exception.h>
#include <c10/util/TypeList.h>
#include <c10/util/string_view.h>

#include <string>

namespace fusedact {

// Common part of every pointwise entry: its math, and whether torch.nn has an
// `inplace=True` form of it.
template <class M, bool kInplace = false>
struct PointwiseOp {
  using Math = M;
  static constexpr bool kHasInplace = kInplace;
};

struct ReluOp : PointwiseOp<math::Relu, /*inplace=*/true> {
  static constexpr const char* kName = "relu";
  static constexpr const char* kParams = "";
  static math::Relu make() { return {}; }
};

struct GeluOp : PointwiseOp<math::Gelu> {
  static constexpr const char* kName = "gelu";
  static constexpr const char* kParams = "*, str approximate='none'";
  static math::Gelu make(c10::string_view approximate) {
    TORCH_CHECK(approximate == "none" || approximate == "tanh",
                "fusedact.gelu: approximate must be 'none' or 'tanh', got '", approximate, "'");
    return {approximate == "tanh"};
  }
};

struct SigmoidOp : PointwiseOp<math::Sigmoid> {
  static constexpr const char* kName = "sigmoid";
  static constexpr const char* kParams = "";
  static math::Sigmoid make() { return {}; }
};

struct TanhOp : PointwiseOp<math::Tanh> {
  static constexpr const char* kName = "tanh";
  static constexpr const char* kParams = "";
  static math::Tanh make() { return {}; }
};

struct LeakyReluOp : PointwiseOp<math::LeakyRelu, /*inplace=*/true> {
  static constexpr const char* kName = "leaky_relu";
  static constexpr const char* kParams = "float negative_slope=0.01";
  static math::LeakyRelu make(double negative_slope) { return {negative_slope}; }
};

struct EluOp : PointwiseOp<math::Elu, /*inplace=*/true> {
  static constexpr const char* kName = "elu";
  static constexpr const char* kParams = "float alpha=1.0";
  static math::Elu make(double alpha) { return {alpha}; }
};

struct SeluOp : PointwiseOp<math::Elu, /*inplace=*/true> {
  static constexpr const char* kName = "selu";
  static constexpr const char* kParams = "";
  static math::Elu make() { return {math::kSeluAlpha, math::kSeluScale}; }
};

struct SoftplusOp : PointwiseOp<math::Softplus> {
  static constexpr const char* kName = "softplus";
  static constexpr const char* kParams = "float beta=1.0, float threshold=20.0";
  static math::Softplus make(double beta, double threshold) {
    TORCH_CHECK(beta != 0, "fusedact.softplus: beta must be non-zero");
    return {beta, threshold};
  }
};

struct SiluOp : PointwiseOp<math::Silu, /*inplace=*/true> {
  static constexpr const char* kName = "silu";
  static constexpr const char* kParams = "";
  static math::Silu make() { return {}; }
};

struct SwishOp : PointwiseOp<math::SwishConstant> {
  static constexpr const char* kName = "swish";
  static constexpr const char* kParams = "float beta=1.0";
  static math::SwishConstant make(double beta) { return {beta}; }
};

struct QuickGeluOp : PointwiseOp<math::SwishConstant> {
  static constexpr const char* kName = "quick_gelu";
  static constexpr const char* kParams = "";
  static math::SwishConstant make() { return {math::kQuickGeluBeta}; }
};

struct MishOp : PointwiseOp<math::Mish, /*inplace=*/true> {
  static constexpr const char* kName = "mish";
  static constexpr const char* kParams = "";
  static math::Mish make() { return {}; }
};

// Ops whose parameter is a tensor broadcast along dim 1 (one value, or one per channel, as
// nn.PReLU's weight) and may be learned. An entry names the op and the parameter. Schemas
// (see registration.cpp):
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

// GLU variants: act(gate) * up, gate and up being two tensors, or the first and second
// halves of one tensor along a dim (the gate first, as in LLaMA). An entry names the op and
// the pointwise entry of its activation, whose parameters it takes. Schemas (registration.cpp):
//   <name>(Tensor gate, Tensor up, <params>) -> Tensor
//   <name>_backward(Tensor grad_output, Tensor gate, Tensor up, <params>) -> (Tensor, Tensor)
//   <name>_split(Tensor self, int dim=-1, <params>) -> Tensor
//   <name>_split_backward(Tensor grad_output, Tensor self, int dim, <params>) -> Tensor
template <class Act>
struct GatedOp {
  using Activation = Act;
  using Math = math::Gated<typename Act::Math>;
};

struct SwigluOp : GatedOp<SiluOp> {
  static constexpr const char* kName = "swiglu";
};

struct GegluOp : GatedOp<GeluOp> {
  static constexpr const char* kName = "geglu";
};

struct RegluOp : GatedOp<ReluOp> {
  static constexpr const char* kName = "reglu";
};

// softmax and log_softmax along a dim. Schemas (registration.cpp):
//   <name>(Tensor self, int dim, bool half_to_float=False) -> Tensor
//   <name>_backward(Tensor grad_output, Tensor output, int dim) -> Tensor
template <bool kLog>
struct SoftmaxOp {
  using Math = math::Softmax<kLog>;
  static constexpr const char* kName = kLog ? "log_softmax" : "softmax";
};

// ---- helpers over the table ------------------------------------------------------------

template <class... Ts>
struct TypeList {};

// Calls f(T{}) for every type of a TypeList.
template <class... Ts, class F>
void for_each_type(TypeList<Ts...>, F&& f) {
  (f(Ts{}), ...);
}

// ---- the table ---------------------------------------------------------------------------

using PointwiseOps = TypeList<SigmoidOp, TanhOp, ReluOp, LeakyReluOp, EluOp, SeluOp, GeluOp, QuickGeluOp, SiluOp,
                              SwishOp, MishOp, SoftplusOp>;
using ChannelParamOps = TypeList<PreluOp, SwishTensorOp>;
using GatedOps = TypeList<SwigluOp, GegluOp, RegluOp>;
using SoftmaxOps = TypeList<SoftmaxOp<false>, SoftmaxOp<true>>;

// The schema argument types of an entry, as deduced from its `make`.
template <class Op>
using ParamsOf = typename c10::guts::infer_function_traits_t<decltype(Op::make)>::parameter_types;

// The names of an entry's companion ops, built once (the kernels' argument checks name them
// on every call).
template <class Op>
const std::string& backward_name() {
  static const std::string name = std::string(Op::kName) + "_backward";
  return name;
}
template <class Op>
const std::string& inplace_name() {
  static const std::string name = std::string(Op::kName) + "_";
  return name;
}

template <class Op>
const std::string& split_name() {
  static const std::string name = std::string(Op::kName) + "_split";
  return name;
}
template <class Op>
const std::string& split_backward_name() {
  static const std::string name = std::string(Op::kName) + "_split_backward";
  return name;
}
template <class Op>
const std::string& param_backward_name() {
  static const std::string name = std::string(Op::kName) + "_" + Op::kParam + "_backward";
  return name;
}

// A typed handle to a fusedact operator, looked up once.
template <class Signature>
c10::TypedOperatorHandle<Signature> find_op(const std::string& name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(("fusedact::" + name).c_str(), "").template typed<Signature>();
}

}  // namespace fusedact
