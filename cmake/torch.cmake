# Locates the torch to build against (a pip-installed torch package, or LibTorch) and
# defines the imported targets fusedact::torch (CPU; cmake/fusedactTorch.cmake) and
# fusedact::torch_cuda.
#
# TorchConfig.cmake is not used for fusedact's own build: with a CUDA-enabled torch it
# insists on a CUDA toolkit, which would make a CPU-only build impossible. The installed
# package config (fusedactConfig.cmake) does use find_package(Torch), as LibTorch
# programs do.
#
# TORCH_ROOT is the folder holding torch's include/ and lib/. If it is not given, it is
# derived from a Torch_DIR / CMAKE_PREFIX_PATH entry holding TorchConfig.cmake, or from
# the Python interpreter's torch package.

if(NOT TORCH_ROOT)
  find_path(_fusedact_torch_config_dir TorchConfig.cmake
    HINTS ${Torch_DIR} ENV Torch_DIR
    PATHS ${CMAKE_PREFIX_PATH}
    PATH_SUFFIXES Torch share/cmake/Torch
    NO_DEFAULT_PATH)
  if(_fusedact_torch_config_dir)
    get_filename_component(TORCH_ROOT "${_fusedact_torch_config_dir}/../../.." ABSOLUTE)
  else()
    find_package(Python3 COMPONENTS Interpreter)
    if(Python3_Interpreter_FOUND)
      execute_process(
        COMMAND "${Python3_EXECUTABLE}" -c "import os, torch; print(os.path.dirname(torch.__file__))"
        OUTPUT_VARIABLE _fusedact_torch_root OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _fusedact_result)
      if(_fusedact_result EQUAL 0)
        set(TORCH_ROOT "${_fusedact_torch_root}")
      endif()
    endif()
  endif()
endif()
if(NOT TORCH_ROOT OR NOT EXISTS "${TORCH_ROOT}/include/torch/library.h")
  message(FATAL_ERROR "fusedact: torch not found. Pass -DTORCH_ROOT=<folder with torch's include/ and lib/>, "
                      "or -DCMAKE_PREFIX_PATH=$(python -c 'import torch; print(torch.utils.cmake_prefix_path)').")
endif()
set(TORCH_ROOT "${TORCH_ROOT}" CACHE PATH "torch installation (holding include/ and lib/)" FORCE)

# The torch version, for build_info().
foreach(_header include/torch/headeronly/version.h include/torch/csrc/api/include/torch/version.h)
  if(NOT FUSEDACT_TORCH_VERSION AND EXISTS "${TORCH_ROOT}/${_header}")
    file(STRINGS "${TORCH_ROOT}/${_header}" _lines REGEX "#define TORCH_VERSION_(MAJOR|MINOR|PATCH) ")
    string(REGEX REPLACE ".*MAJOR ([0-9]+).*MINOR ([0-9]+).*PATCH ([0-9]+).*" "\\1.\\2.\\3" FUSEDACT_TORCH_VERSION "${_lines}")
  endif()
endforeach()
message(STATUS "fusedact: torch ${FUSEDACT_TORCH_VERSION} at ${TORCH_ROOT}")

include("${CMAKE_CURRENT_LIST_DIR}/fusedactTorch.cmake")
fusedact_torch_target("${TORCH_ROOT}")

set(FUSEDACT_TORCH_HAS_CUDA OFF)
if(EXISTS "${TORCH_ROOT}/lib/libtorch_cuda.so")
  set(FUSEDACT_TORCH_HAS_CUDA ON)
endif()

# Call after enable_language(CUDA).
macro(fusedact_define_torch_cuda)
  find_package(CUDAToolkit REQUIRED)
  add_library(fusedact::torch_cuda INTERFACE IMPORTED)
  foreach(_name c10_cuda torch_cuda)
    find_library(_fusedact_lib_${_name} ${_name} PATHS "${TORCH_ROOT}/lib" NO_DEFAULT_PATH REQUIRED)
    set_property(TARGET fusedact::torch_cuda APPEND PROPERTY INTERFACE_LINK_LIBRARIES "${_fusedact_lib_${_name}}")
  endforeach()
  set_property(TARGET fusedact::torch_cuda APPEND PROPERTY INTERFACE_LINK_LIBRARIES fusedact::torch CUDA::cudart)
endmacro()
