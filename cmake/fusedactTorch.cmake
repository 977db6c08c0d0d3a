# fusedact_torch_target(<torch root>): defines fusedact::torch, LibTorch as fusedact and its
# users link it: the libraries c10, torch_cpu and torch and the include folders under the
# root (the folder holding torch's include/ and lib/), and nothing else, so that a library
# torch's own config could not find (CUDA_nvrtc_LIBRARY-NOTFOUND) is never passed on. Used by
# fusedact's build (cmake/torch.cmake) and installed beside its package config.
function(fusedact_torch_target root)
  if(TARGET fusedact::torch)
    return()
  endif()
  set(_libs)
  foreach(_name c10 torch_cpu torch)
    find_library(_lib ${_name} PATHS "${root}/lib" NO_DEFAULT_PATH NO_CACHE)
    if(NOT _lib)
      message(FATAL_ERROR "fusedact: lib${_name} not found in ${root}/lib; is ${root} a torch installation?")
    endif()
    list(APPEND _libs "${_lib}")
    unset(_lib)
  endforeach()
  set(_includes "${root}/include" "${root}/include/torch/csrc/api/include")
  add_library(fusedact::torch INTERFACE IMPORTED)
  # System headers: warnings-as-errors see only the code that includes them.
  set_target_properties(fusedact::torch PROPERTIES
    INTERFACE_LINK_LIBRARIES "${_libs}"
    INTERFACE_INCLUDE_DIRECTORIES "${_includes}"
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${_includes}")
endfunction()
