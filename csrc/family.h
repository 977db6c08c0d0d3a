// Op families: the machinery that turns an entry of the op table (ops.h) into dispatcher
// operators.
//
// A family (pointwise.h, channel_param.h, glu.h, softmax.h) is a class template over an entry
// that lists its companion ops once, in `Ops`. A companion op is a struct with
//   suffix()                its name after the entry's (relu + "_backward"),
//   schema()                its schema after the name ("(Tensor grad_output, ...) -> Tensor"),
//   impl<Impl>()            its kernel in one of the family's implementation classes;
// the implementation classes are the family's, one per dispatch key:
//   Kernels<Backend>        CPU and CUDA (the backend applies the math: cpu/kernels.h, cuda/),
//   Meta                    shapes and dtypes only, for fake tensors and torch.compile,
//   Autograd                (autograd.cpp)
// and, where the family has them, AutocastCPU / AutocastCUDA (autocast.cpp) and
// InplaceOrView (inplace_or_view.cpp). One generic loop, register_impls, registers every
// companion op of every family at a key; op<Companion>() is its typed dispatcher handle.
// Adding a family is one such class template and its kernels.
#pragma once

#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/DeviceType.h>
#include <c10/util/Metaprogramming.h>
#include <c10/util/string_view.h>
#include <torch/library.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>

namespace fusedact {

template <class... Ts>
struct TypeList {};

// Calls f(T{}) for every type of a TypeList.
template <class... Ts, class F>
void for_each_type(TypeList<Ts...>, F&& f) {
  (f(Ts{}), ...);
}

// The types of several TypeLists, in one.
template <class... Lists>
struct ConcatImpl;
template <>
struct ConcatImpl<> {
  using type = TypeList<>;
};
template <class... Ts>
struct ConcatImpl<TypeList<Ts...>> {
  using type = TypeList<Ts...>;
};
template <class... As, class... Bs, class... Rest>
struct ConcatImpl<TypeList<As...>, TypeList<Bs...>, Rest...> {
  using type = typename ConcatImpl<TypeList<As..., Bs...>, Rest...>::type;
};
template <class... Lists>
using Concat = typename ConcatImpl<Lists...>::type;

// The family of each entry of a list: FamiliesOf<PointwiseFamily, TypeList<ReluOp, ...>>.
template <template <class> class Family, class Entries>
struct FamiliesOfImpl;
template <template <class> class Family, class... Entries>
struct FamiliesOfImpl<Family, TypeList<Entries...>> {
  using type = TypeList<Family<Entries>...>;
};
template <template <class> class Family, class Entries>
using FamiliesOf = typename FamiliesOfImpl<Family, Entries>::type;

// ---- typed schema parameters ---------------------------------------------------------------

// One non-tensor parameter of an op: its schema name, its default as the schema spells it
// (none when empty), and whether it is keyword-only. T is its C++ type; the schema type
// follows from it (Float, Str, Int, Bool below). A float parameter reaches the kernels in the
// input's compute type (float but for float64 inputs), so a finite value beyond float's range
// is refused, as torch refuses it; one that torch converts to the input's own dtype
// (in_input_dtype) is refused beyond that dtype's range.
template <class T>
struct Param {
  using type = T;
  const char* name;
  const char* default_value = "";
  bool keyword_only = false;
  bool input_dtype = false;
};

using Float = Param<double>;

// A float parameter that torch converts to the input's dtype: hardtanh's bounds, ...
constexpr Float in_input_dtype(Float param) {
  param.input_dtype = true;
  return param;
}
using Str = Param<c10::string_view>;
using Int = Param<int64_t>;
using Bool = Param<bool>;
constexpr bool kKeywordOnly = true;

template <class T>
constexpr const char* schema_type() {
  if constexpr (std::is_same_v<T, double>) return "float";
  if constexpr (std::is_same_v<T, c10::string_view>) return "str";
  if constexpr (std::is_same_v<T, int64_t>) return "int";
  if constexpr (std::is_same_v<T, bool>) return "bool";
}

// An entry's parameters in schema syntax, each after ", " ("" for none):
// ", *, str approximate='none'".
template <class... T>
std::string schema_params(const std::tuple<Param<T>...>& params) {
  std::string out;
  bool keyword_only = false;
  auto add = [&]<class U>(const Param<U>& param) {
    if (param.keyword_only && !keyword_only) out += ", *";
    keyword_only = keyword_only || param.keyword_only;
    out += std::string(", ") + schema_type<U>() + " " + param.name;
    if (*param.default_value != '\0') out += std::string("=") + param.default_value;
  };
  std::apply([&](const auto&... p) { (add(p), ...); }, params);
  return out;
}

// The C++ types of a parameter tuple, as a c10 typelist (what the families' kernels take).
template <class Tuple>
struct ParamTypesImpl;
template <class... T>
struct ParamTypesImpl<std::tuple<Param<T>...>> {
  using type = c10::guts::typelist::typelist<T...>;
};
template <class Entry>
using ParamTypes = typename ParamTypesImpl<std::remove_const_t<decltype(Entry::kParams)>>::type;

// An entry's `make` takes its parameters in the C++ types of its kParams, in order.
template <class Entry>
constexpr bool make_matches_params() {
  using Make = typename c10::guts::infer_function_traits_t<decltype(Entry::make)>::parameter_types;
  return std::is_same_v<Make, ParamTypes<Entry>>;
}

// ---- companion ops ---------------------------------------------------------------------------

// The full name of a companion op ("relu_backward"), built once: argument checks name it on
// every call.
template <class Companion>
const std::string& op_name() {
  static const std::string name = Companion::Family::Entry::kName + Companion::suffix();
  return name;
}

// A companion op's C++ signature, that of its Meta kernel (every companion has one).
template <class Companion>
using Signature = std::remove_pointer_t<decltype(Companion::template impl<typename Companion::Family::Meta>())>;

// A typed handle to a fusedact operator, looked up once.
template <class Signature>
c10::TypedOperatorHandle<Signature> find_op(const std::string& name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(("fusedact::" + name).c_str(), "").template typed<Signature>();
}

template <class Companion>
const c10::TypedOperatorHandle<Signature<Companion>>& op() {
  static const auto handle = find_op<Signature<Companion>>(op_name<Companion>());
  return handle;
}

// Under autocast, a family's forward op with its floating tensors cast to the device's lower
// precision (float16 / bfloat16), as torch's autocast runs linear or prelu (autocast.cpp).
template <class Family, c10::DeviceType kDevice>
struct LowerPrecisionForward;

// ---- registration -------------------------------------------------------------------------------

// Declares every companion op of the families (the TORCH_LIBRARY block).
template <class... Families>
void define_ops(torch::Library& m, TypeList<Families...>) {
  for_each_type(TypeList<Families...>{}, [&](auto family) {
    for_each_type(typename decltype(family)::Ops{}, [&](auto companion) {
      using C = decltype(companion);
      m.def((op_name<C>() + C::schema()).c_str(), {at::Tag::pt2_compliant_tag});
    });
  });
}

// Whether ImplFor gives the family an implementation class at this key (autocast and
// in-place bookkeeping are only some families').
template <template <class> class ImplFor, class Family>
concept HasImplAt = requires { typename ImplFor<Family>; };

// Registers, at the library's key, every companion op of the families that has a kernel in
// ImplFor<Family>. With kEveryOp, each must have one (CPU, CUDA, Meta and Autograd serve every
// op; a missing kernel is a compile error, not an op that fails when called).
template <template <class> class ImplFor, bool kEveryOp, class... Families>
void register_impls(torch::Library& m, TypeList<Families...>) {
  for_each_type(TypeList<Families...>{}, [&](auto family) {
    using F = decltype(family);
    if constexpr (HasImplAt<ImplFor, F>) {
      using Impl = ImplFor<F>;
      for_each_type(typename F::Ops{}, [&](auto companion) {
        using C = decltype(companion);
        constexpr bool has_kernel = requires { C::template impl<Impl>(); };
        static_assert(has_kernel || !kEveryOp, "a companion op has no kernel at a key that needs one");
        if constexpr (has_kernel) m.impl(op_name<C>().c_str(), C::template impl<Impl>());
      });
    }
  });
}

// The implementation classes at each key, for register_impls.
template <class Backend>
struct KernelsOf {
  template <class Family>
  using type = typename Family::template Kernels<Backend>;
};
template <class Family>
using MetaOf = typename Family::Meta;
template <class Family>
using AutogradOf = typename Family::Autograd;
template <class Family>
using AutocastCpuOf = typename Family::AutocastCPU;
template <class Family>
using AutocastCudaOf = typename Family::AutocastCUDA;
template <class Family>
using InplaceOrViewOf = typename Family::InplaceOrView;

template <class Backend, class Families>
void register_backend(torch::Library& m, Families families) {
  register_impls<KernelsOf<Backend>::template type, /*kEveryOp=*/true>(m, families);
}

}  // namespace fusedact
