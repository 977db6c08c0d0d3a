// The Python entry points of the operators (fusedact._ops.<name>): for a call with every
// argument the schema names (positional, then keywords in the schema's order), each of exactly its type (torch.Tensor
// or nn.Parameter, float, int, bool, str, None), and no __torch_function__ mode active, a typed dispatcher call, as
// torch's generated bindings make one; any other call goes on to the dispatcher's generic entry point (the builtin that
// torch.ops.fusedact.<name> calls), which parses the arguments against the schema, honours __torch_function__ and
// raises the schema's errors. The results are the builtin's either way; the first way skips converting the arguments
// into a stack of IValues and back, a third of a call's fixed cost on a small tensor.
#pragma once

#include "family.h"

#include <ATen/PythonTorchFunctionTLS.h>
#include <Python.h>
#include <torch/csrc/Exceptions.h>
#include <torch/csrc/autograd/python_variable.h>
#include <torch/csrc/utils/pybind.h>

#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fusedact::python {

// Whether a CPython conversion that returned its error value failed; the error is then cleared,
// for the generic entry point to raise its own.
inline bool conversion_failed(bool error_value) {
  if (!error_value || PyErr_Occurred() == nullptr) return false;
  PyErr_Clear();
  return true;
}

// One argument of a C++ signature, read from a Python object when it is exactly of the type
// the schema gives it: load(object) is false for anything else (a subclass, a number of
// another type, a value out of range), which sends the call to the generic entry point.
template <class T>
struct Argument;

template <>
struct Argument<const at::Tensor&> {
  const at::Tensor* value = nullptr;
  bool load(PyObject* object) {
    if (!THPVariable_CheckExact(object)) return false;
    value = &THPVariable_Unpack(object);
    return true;
  }
  const at::Tensor& get() const { return *value; }
};

// The in-place operators' self: the dispatcher takes a mutable reference.
template <>
struct Argument<at::Tensor&> {
  at::Tensor value;
  bool load(PyObject* object) {
    if (!THPVariable_CheckExact(object)) return false;
    value = THPVariable_Unpack(object);
    return true;
  }
  at::Tensor& get() { return value; }
};

template <>
struct Argument<const std::optional<at::Tensor>&> {
  std::optional<at::Tensor> value;
  bool load(PyObject* object) {
    if (object == Py_None) return true;
    if (!THPVariable_CheckExact(object)) return false;
    value = THPVariable_Unpack(object);
    return true;
  }
  const std::optional<at::Tensor>& get() const { return value; }
};

// A float argument: a Python float, or an int as the schema's float accepts one.
template <>
struct Argument<double> {
  double value = 0.0;
  bool load(PyObject* object) {
    if (PyFloat_CheckExact(object)) {
      value = PyFloat_AS_DOUBLE(object);
      return true;
    }
    if (!PyLong_CheckExact(object)) return false;
    value = PyLong_AsDouble(object);
    return !conversion_failed(value == -1.0);
  }
  double get() const { return value; }
};

template <>
struct Argument<int64_t> {
  int64_t value = 0;
  bool load(PyObject* object) {
    if (!PyLong_CheckExact(object)) return false;
    value = PyLong_AsLongLong(object);
    return !conversion_failed(value == -1);
  }
  int64_t get() const { return value; }
};

template <>
struct Argument<bool> {
  bool value = false;
  bool load(PyObject* object) {
    value = object == Py_True;
    return value || object == Py_False;
  }
  bool get() const { return value; }
};

template <>
struct Argument<c10::string_view> {
  c10::string_view value;
  bool load(PyObject* object) {
    if (!PyUnicode_CheckExact(object)) return false;
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(object, &size);
    if (conversion_failed(data == nullptr)) return false;
    value = c10::string_view(data, static_cast<size_t>(size));
    return true;
  }
  c10::string_view get() const { return value; }
};

inline PyObject* to_python(at::Tensor&& tensor) { return THPVariable_Wrap(std::move(tensor)); }
inline PyObject* to_python(std::tuple<at::Tensor, at::Tensor>&& tensors) {
  PyObject* first = THPVariable_Wrap(std::move(std::get<0>(tensors)));
  PyObject* second = THPVariable_Wrap(std::move(std::get<1>(tensors)));
  PyObject* pair = first && second ? PyTuple_Pack(2, first, second) : nullptr;
  Py_XDECREF(first);
  Py_XDECREF(second);
  return pair;
}

// Whether a call's keywords (a vectorcall's names, or null) name the arguments that follow its
// `positional` ones, in the schema's order (as fusedact.functional passes a keyword-only
// parameter), with every argument given and none of the keyword-only ones by position.
template <class C>
bool keywords_in_order(PyObject* kwnames, Py_ssize_t positional) {
  struct Names {
    std::vector<std::string> all;
    size_t positional = 0;  // how many may be given by position
  };
  static const Names names = [] {
    Names out;
    for (const auto& argument : op<C>().schema().arguments()) {
      out.all.push_back(argument.name());
      if (!argument.kwarg_only()) out.positional = out.all.size();
    }
    return out;
  }();
  const Py_ssize_t keywords = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
  if (positional + keywords != static_cast<Py_ssize_t>(names.all.size()) ||
      positional > static_cast<Py_ssize_t>(names.positional)) {
    return false;
  }
  for (Py_ssize_t k = 0; k < keywords; ++k) {
    const char* name = names.all[static_cast<size_t>(positional + k)].c_str();
    if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, k), name) != 0) return false;
  }
  return true;
}

// The entry point of companion op C: `generic` is the dispatcher's builtin for the op. A
// vectorcall's keyword values follow its positional ones in args.
template <class C, class Return, class... Args>
PyObject* call(PyObject* generic, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, Return (*)(Args...)) {
  HANDLE_TH_ERRORS
  if (keywords_in_order<C>(kwnames, nargs) && !at::impl::torch_function_mode_enabled()) {
    std::tuple<Argument<Args>...> arguments;
    const bool loaded = [&]<size_t... I>(std::index_sequence<I...>) {
      return (std::get<I>(arguments).load(args[I]) && ...);
    }(std::index_sequence_for<Args...>{});
    if (loaded) {
      const auto run = [&] {
        pybind11::gil_scoped_release no_gil;  // as the generic entry point and torch's bindings
        return std::apply([](auto&... a) { return op<C>().call(a.get()...); }, arguments);
      };
      if constexpr (std::is_void_v<Return>) {
        run();
        Py_RETURN_NONE;
      } else {
        return to_python(run());
      }
    }
  }
  return PyObject_Vectorcall(generic, args, static_cast<size_t>(nargs), kwnames);
  END_HANDLE_TH_ERRORS
}

template <class C>
PyObject* entry(PyObject* generic, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return call<C>(generic, args, nargs, kwnames, static_cast<Signature<C>*>(nullptr));
}

// The method definition of every companion op of the families, by the op's name.
template <class Families>
const std::unordered_map<std::string, PyMethodDef>& entry_definitions(Families families) {
  static const auto definitions = [&] {
    std::unordered_map<std::string, PyMethodDef> out;
    for_each_type(families, [&](auto family) {
      for_each_type(typename decltype(family)::Ops{}, [&](auto companion) {
        using C = decltype(companion);
        out[op_name<C>()] = {op_name<C>().c_str(),
                             reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&entry<C>)),
                             METH_FASTCALL | METH_KEYWORDS, nullptr};
      });
    });
    return out;
  }();
  return definitions;
}

}  // namespace fusedact::python
