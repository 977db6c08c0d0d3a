"""fusedact: exact, fast, fused drop-in replacements for the torch.nn activation functions.

    import fusedact
    y = fusedact.functional.gelu(x)            # as torch.nn.functional.gelu
    act = fusedact.nn.GELU(approximate="tanh")  # as torch.nn.GELU
    model = fusedact.convert(model)             # swap a model's activation modules
    model = fusedact.convert(model, ffn=True)   # and fuse its gated feed-forward blocks

Every operator is registered with the PyTorch dispatcher as torch.ops.fusedact.<name>, with
CPU and CUDA kernels for forward and backward, so autograd, torch.compile, torch.export
and TorchScript see real operators.
"""

import os as _os

import torch as _torch  # noqa: F401  (loads libtorch before libfusedact)

from . import _C, _dtensor, _vmap, functional, nn
from ._version import __version__  # written by the build from pyproject.toml
from .convert import conversion_plan, convert

_vmap.register()
_dtensor.install()

#: Folder to add to CMAKE_PREFIX_PATH for ``find_package(fusedact)`` in C++ projects,
#: as ``torch.utils.cmake_prefix_path`` is for LibTorch.
cmake_prefix_path = _os.path.join(_os.path.dirname(__file__), "share", "cmake")


def build_info() -> dict:
    """How this fusedact was built and what it runs with.

    Keys: ``version``; ``torch`` (the torch version it was built against); ``cuda`` (True
    when the CUDA kernels were compiled in), ``cuda_version`` and ``cuda_archs``; ``cpu_isa``
    (the instruction set the CPU kernels use now: ``avx512_bf16``, ``avx512``, ``avx2`` or
    ``default``), ``cpu_isas`` (those this build and this CPU support) and ``cpu_cache_bytes``
    (the last-level cache the CPU kernels assume: ops whose operands outgrow it write their
    outputs with streaming stores; the environment variable ``FUSEDACT_CPU_CACHE_BYTES`` sets
    it when fusedact is loaded).
    """
    return {"version": __version__, **_C.build_info()}


def set_cpu_isa(name: str) -> None:
    """Makes the CPU kernels use one instruction set (``default``, ``avx2``, ``avx512``,
    ``avx512_bf16``), as
    the environment variable ``FUSEDACT_CPU_ISA`` does when fusedact is loaded."""
    _C.set_cpu_isa(name)


__all__ = [
    "functional",
    "nn",
    "convert",
    "conversion_plan",
    "build_info",
    "set_cpu_isa",
    "cmake_prefix_path",
    "__version__",
]
