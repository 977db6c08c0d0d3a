// The Python extension module fusedact._C. Importing it loads libfusedact, whose static
// initializers register the operators with the dispatcher (torch.ops.fusedact.*); the
// module reports how the library was built, selects the CPU ISA and makes each operator's
// Python entry point (entries.h).
#include "python/entries.h"

#include "families.h"

#include <fusedact/fusedact.h>

#include <c10/util/Exception.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

PYBIND11_MODULE(_C, m) {
  py::register_local_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const c10::Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what_without_backtrace());
    }
  });

  m.def("build_info", [] {
    const fusedact::BuildInfo info = fusedact::build_info();
    py::dict d;
    d["torch"] = info.torch;
    d["cuda"] = info.cuda;
    d["cuda_version"] = info.cuda ? py::object(py::str(info.cuda_version)) : py::object(py::none());
    d["cuda_archs"] = info.cuda_archs;
    d["cpu_isa"] = info.cpu_isa;
    d["cpu_isas"] = info.cpu_isas;
    d["cpu_cache_bytes"] = info.cpu_cache_bytes;
    return d;
  });
  m.def("set_cpu_isa", &fusedact::set_cpu_isa, py::arg("name"));
  // The entry point of operator `name` whose generic form is `generic` (entries.h); generic
  // itself for an operator that has no typed entry.
  m.def(
      "entry",
      [](const std::string& name, py::object generic) -> py::object {
        const auto& definitions = fusedact::python::entry_definitions(fusedact::AllFamilies{});
        const auto found = definitions.find(name);
        if (found == definitions.end()) return generic;
        // The definitions are never freed: the function object points at one for its lifetime.
        auto& definition = const_cast<PyMethodDef&>(found->second);
        return py::reinterpret_steal<py::object>(PyCFunction_NewEx(&definition, generic.ptr(), nullptr));
      },
      py::arg("name"), py::arg("generic"));
}
