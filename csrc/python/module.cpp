// The Python extension module fusedact._C. Importing it loads libfusedact, whose static
// initializers register the operators with the dispatcher (torch.ops.fusedact.*); the
// module itself only reports how the library was built and selects the CPU ISA.
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
}
