// FusedNode: the autograd node of a fused op, built as torch's generated nodes (ReluBackward0
// and the rest) are: the tensors saved for backward, the op's parameters, and a backward that
// is a function of them alone. A call that records one allocates the node, its edges and its
// saved tensors, and nothing else (a torch::autograd::Function adds a context object, a record
// of every input and output and a set of their pointers, which cost small tensors ~1 us).
//
// A node is described by its Spec:
//   kInputs                    the differentiable inputs (the node's edges, in order);
//   kSavedIsOutput             for each saved tensor, whether it is an output of the op (kept
//                              without a reference to the node, as torch keeps outputs);
//   Params                     the op's non-tensor parameters (a std::tuple of value types);
//   name()                     an identifier, the node's name (grad_fn.name(), the profiler)
//                              and the name compiled autograd binds its backward under;
//   backward(grad, needs, saved, params...)
//                              one gradient per input, for those `needs` asks for; a pure
//                              function of its arguments, so that compiled autograd can put it
//                              in its graph (through PackedArgs, as torch's own nodes do).
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/util/intrusive_ptr.h>
#include <torch/csrc/autograd/VariableTypeUtils.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/csrc/autograd/saved_variable.h>
#include <torch/csrc/dynamo/compiled_autograd.h>

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace fusedact {

// How a node keeps a schema parameter: by value (a string_view's text as a string).
template <class P>
struct Kept {
  using type = P;
};
template <>
struct Kept<c10::string_view> {
  using type = std::string;
};
template <class P>
using kept_t = typename Kept<P>::type;

// torch's pointer to a node: an intrusive pointer in recent releases, a shared_ptr in older
// ones; make_node and fire_creation_hooks work with either.
using NodePtr = decltype(torch::autograd::Edge::function);

template <class Spec>
struct FusedNode final : torch::autograd::TraceableFunction {
  static constexpr size_t kInputs = Spec::kInputs;
  static constexpr size_t kSaved = Spec::kSavedIsOutput.size();
  using Needs = std::array<bool, kInputs>;
  using Saved = std::array<at::Tensor, kSaved>;
  using Params = typename Spec::Params;

  explicit FusedNode(Params params) : params_(std::move(params)) {}

  // Saves tensor i (after the op for an output, so that it is saved with its new history).
  void save(size_t i, const at::Tensor& t, bool is_inplace_on_view = false) {
    saved_[i] = torch::autograd::SavedVariable(t, Spec::kSavedIsOutput[i], is_inplace_on_view);
  }

  std::string name() const override { return Spec::name(); }

  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return run(grads, needs(), unpack(), params_);
  }

  void release_variables() override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& s : saved_) s.reset_data();
  }

  void compiled_args(torch::dynamo::autograd::CompiledNodeArgs& args) const override {
    for (size_t i = 0; i < kSaved; ++i) args.collect(saved_[i], Spec::kSavedIsOutput[i]);
    std::apply([&](const auto&... p) { (args.collect(p), ...); }, params_);
  }

  torch::autograd::variable_list apply_with_saved(const torch::autograd::variable_list& grads,
                                                  torch::dynamo::autograd::SwapSavedVariables& swap) override {
    using namespace torch::dynamo::autograd;
    for (auto& s : saved_) swap.before(s);
    std::apply([&](auto&... p) { (swap.before(p), ...); }, params_);

    const auto& python = getPyCompilerInterface();
    static const std::string bound =
        python->bind_function(swap.get_py_compiler(), Spec::name(), &functional, packed_schema());
    PackedArgs packed;
    packed.pack(needs());
    for (const auto& t : unpack()) packed.pack(t.defined() ? std::optional(t) : std::nullopt);
    std::apply([&](const auto&... p) { (packed.pack(p), ...); }, params_);
    const auto output_metadata = IValuePacker<std::vector<std::optional<torch::autograd::InputMetadata>>>::pack(
        get_input_metadata(next_edges()));
    auto result =
        python->call_function(swap.get_py_compiler(), "apply_functional", bound, grads, packed.vec(), output_metadata);

    for (auto& s : saved_) swap.after(s);
    std::apply([&](auto&... p) { (swap.after(p), ...); }, params_);
    return result;
  }

 private:
  std::array<torch::autograd::SavedVariable, kSaved> saved_;
  Params params_;

  Needs needs() const {
    Needs needs{};
    for (size_t i = 0; i < kInputs; ++i) needs[i] = task_should_compute_output(i);
    return needs;
  }

  Saved unpack() {
    Saved saved;
    for (size_t i = 0; i < kSaved; ++i) saved[i] = saved_[i].unpack(getptr());
    return saved;
  }

  static torch::autograd::variable_list run(const torch::autograd::variable_list& grads, const Needs& needs,
                                            const Saved& saved, const Params& params) {
    if (!grads[0].defined()) return torch::autograd::variable_list(kInputs);
    return std::apply([&](const auto&... p) { return Spec::backward(grads[0], needs, saved, p...); }, params);
  }

  // The backward as compiled autograd calls it: the arguments apply_with_saved packed.
  static torch::autograd::variable_list functional(const torch::autograd::variable_list& grads,
                                                   const std::vector<c10::IValue>& args) {
    torch::dynamo::autograd::PackedArgs packed(args);
    const auto needs = packed.unpack<Needs>();
    Saved saved;
    for (auto& t : saved) t = packed.unpack<std::optional<at::Tensor>>().value_or(at::Tensor());
    return run(grads, needs, saved, unpack_params(packed, std::make_index_sequence<std::tuple_size_v<Params>>{}));
  }

  template <size_t... I>
  static Params unpack_params(torch::dynamo::autograd::PackedArgs& packed, std::index_sequence<I...>) {
    return Params{packed.unpack<std::tuple_element_t<I, Params>>()...};  // in order: braced init
  }

  template <class T>
  static at::TypePtr packed_type() {
    return torch::dynamo::autograd::IValuePacker<T>::packed_type();
  }
  // The types of what apply_with_saved packs, in order.
  static std::vector<at::TypePtr> packed_schema() {
    std::vector<at::TypePtr> schema{packed_type<Needs>()};
    for (size_t i = 0; i < kSaved; ++i) schema.push_back(packed_type<std::optional<at::Tensor>>());
    std::apply([&](const auto&... p) { (schema.push_back(packed_type<std::decay_t<decltype(p)>>()), ...); }, Params{});
    return schema;
  }
};

namespace detail {
template <class Ptr>
void fire_creation_hooks(const Ptr& node) {
  // torch.autograd.graph.node_creation_hook, in the torch releases that have it.
  if constexpr (requires { fire_node_creation_hooks(node); }) fire_node_creation_hooks(node);
}
}  // namespace detail

// A node with its edges to the histories of `inputs`.
template <class Spec, class... Inputs>
auto make_node(typename Spec::Params params, const Inputs&... inputs) {
  using Node = FusedNode<Spec>;
  auto node = [&] {
    if constexpr (std::is_same_v<NodePtr, std::shared_ptr<torch::autograd::Node>>) {
      return std::shared_ptr<Node>(new Node(std::move(params)), [](Node* n) { deleteNode(n); });
    } else {
      return c10::make_intrusive<Node>(std::move(params));
    }
  }();
  node->set_next_edges(torch::autograd::collect_next_edges(inputs...));
  return node;
}

// Makes `node` the history of `self`, which an in-place op just changed (through a view, a
// CopySlices node joins the view's base in; it is returned, the node attached to the graph).
template <class Node>
NodePtr rebase_onto(at::Tensor& self, const Node& node) {
  if constexpr (std::is_void_v<decltype(torch::autograd::rebase_history(self, NodePtr(node)))>) {
    torch::autograd::rebase_history(self, NodePtr(node));
    return NodePtr(node);
  } else {
    return torch::autograd::rebase_history(self, NodePtr(node));
  }
}

// Fires the node creation hooks once the attached node is complete (outputs and saved tensors
// in), as torch does for its own nodes.
inline void node_complete(const NodePtr& node) { detail::fire_creation_hooks(node); }

}  // namespace fusedact
