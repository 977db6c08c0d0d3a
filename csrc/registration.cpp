// Operator schemas: every fusedact operator is declared here, in one TORCH_LIBRARY block.
//
// For each pointwise entry of the op table (ops.h):
//   <name>(Tensor self, <params>) -> Tensor
//   <name>_backward(Tensor grad_output, Tensor self|output, <params>) -> Tensor
//   <name>_(Tensor(a!) self, <params>) -> ()          where torch.nn has inplace=True
// The in-place op returns nothing, the form torch.compile can functionalize. For each
// channel-parameter entry (prelu, swish with a tensor beta):
//   <name>(Tensor self, Tensor <param>) -> Tensor
//   <name>_backward(Tensor grad_output, Tensor self, Tensor <param>) -> Tensor
//   <name>_<param>_backward(Tensor grad_output, Tensor self, Tensor <param>) -> Tensor
// For each GLU entry, with its activation's parameters:
//   <name>(Tensor gate, Tensor up, <params>) -> Tensor
//   <name>_backward(Tensor grad_output, Tensor gate, Tensor up, <params>) -> (Tensor, Tensor)
//   <name>_split(Tensor self, int dim=-1, <params>) -> Tensor
//   <name>_split_backward(Tensor grad_output, Tensor self, int dim, <params>) -> Tensor
// softmax and log_softmax (half_to_float: a float16 / bfloat16 input gives a float32 result,
// read and written once, as torch's _softmax; CUDA autocast's form):
//   <name>(Tensor self, int dim, bool half_to_float=False) -> Tensor
//   <name>_backward(Tensor grad_output, Tensor output, int dim) -> Tensor
// and the SwiGLU feed-forward block (swiglu_ffn.h), weights as nn.Linear stores them:
//   swiglu_ffn(Tensor x, Tensor w_gate, Tensor w_up, Tensor w_down, Tensor? b_gate=None,
//              Tensor? b_up=None, Tensor? b_down=None) -> Tensor
#include "ops.h"

#include <torch/library.h>

namespace fusedact {
namespace {

std::string with_params(const std::string& head, const char* params) {
  return *params == '\0' ? head : head + ", " + params;
}

}  // namespace

TORCH_LIBRARY(fusedact, m) {
  auto define = [&m](const std::string& schema) { m.def(schema.c_str(), {at::Tag::pt2_compliant_tag}); };
  for_each_type(PointwiseOps{}, [&](auto op) {
    using Op = decltype(op);
    const char* saved = Op::Math::kSaves == math::Saves::Output ? "output" : "self";
    define(with_params(std::string(Op::kName) + "(Tensor self", Op::kParams) + ") -> Tensor");
    define(with_params(backward_name<Op>() + "(Tensor grad_output, Tensor " + saved, Op::kParams) + ") -> Tensor");
    if constexpr (Op::kHasInplace) {
      define(with_params(inplace_name<Op>() + "(Tensor(a!) self", Op::kParams) + ") -> ()");
    }
  });
  for_each_type(ChannelParamOps{}, [&](auto op) {
    using Op = decltype(op);
    const std::string param = std::string("Tensor ") + Op::kParam;
    define(std::string(Op::kName) + "(Tensor self, " + param + ") -> Tensor");
    define(backward_name<Op>() + "(Tensor grad_output, Tensor self, " + param + ") -> Tensor");
    define(param_backward_name<Op>() + "(Tensor grad_output, Tensor self, " + param + ") -> Tensor");
  });
  for_each_type(GatedOps{}, [&](auto op) {
    using Op = decltype(op);
    const char* params = Op::Activation::kParams;
    define(with_params(std::string(Op::kName) + "(Tensor gate, Tensor up", params) + ") -> Tensor");
    define(with_params(backward_name<Op>() + "(Tensor grad_output, Tensor gate, Tensor up", params) +
           ") -> (Tensor, Tensor)");
    define(with_params(split_name<Op>() + "(Tensor self, int dim=-1", params) + ") -> Tensor");
    define(with_params(split_backward_name<Op>() + "(Tensor grad_output, Tensor self, int dim", params) + ") -> Tensor");
  });
  for_each_type(SoftmaxOps{}, [&](auto op) {
    using Op = decltype(op);
    define(std::string(Op::kName) + "(Tensor self, int dim, bool half_to_float=False) -> Tensor");
    define(backward_name<Op>() + "(Tensor grad_output, Tensor output, int dim) -> Tensor");
  });
  define(
      "swiglu_ffn(Tensor x, Tensor w_gate, Tensor w_up, Tensor w_down, Tensor? b_gate=None, Tensor? b_up=None, "
      "Tensor? b_down=None) -> Tensor");
}

}  // namespace fusedact
