"""Builds fusedact's extension; the package's metadata (and its version, the one place it is
written) is in pyproject.toml's [project] table. setup.py drives CMake (CMakeLists.txt), the
one build definition for pip and for LibTorch users, and installs into the package: the
Python module _C, lib/libfusedact.so, include/fusedact/*.h and share/cmake/fusedact (the CMake
package config).

    pip install --no-build-isolation .

Build against the torch you will run with (hence --no-build-isolation). The CUDA kernels are
built when torch has CUDA and nvcc is found; FUSEDACT_REQUIRE_CUDA=1 makes a build that
cannot compile them fail. TORCH_CUDA_ARCH_LIST picks the GPU architectures (default: those
of the visible GPUs, else every architecture torch itself was built for). MAX_JOBS caps
parallel compile jobs. FUSEDACT_BUILD_TESTS=1 also builds the C++ tests (ctest in build/).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).parent.resolve()


def _flag(name: str) -> bool:
    return os.environ.get(name, "0").lower() in ("1", "on", "true", "yes")


def _default_cuda_arch_list(torch) -> str:
    """What torch.utils.cpp_extension would choose: the visible GPUs, else torch's own list."""
    if torch.cuda.is_available():
        caps = {torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())}
        return ";".join(f"{major}.{minor}" for major, minor in sorted(caps))
    archs = sorted({int(a[3:]) for a in torch.cuda.get_arch_list() if re.fullmatch(r"sm_\d+", a)})
    names = [f"{a // 10}.{a % 10}" for a in archs]
    return ";".join(names[:-1] + [names[-1] + "+PTX"]) if names else "8.0;9.0+PTX"


def _tool(name: str) -> str | None:
    """A build tool from its PyPI package when installed (newer than most systems'), else PATH."""
    try:
        module = __import__(name)
        path = Path(module.CMAKE_BIN_DIR if name == "cmake" else module.BIN_DIR) / name
        if path.exists():
            return str(path)
    except (ImportError, AttributeError):
        pass
    return shutil.which(name)


class CMakeExtension(Extension):
    def __init__(self, name: str):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        import torch

        package_dir = Path(self.get_ext_fullpath(ext.name)).parent.resolve()
        tag = re.sub(r"[^A-Za-z0-9.]+", "_", f"py{sys.version_info[0]}{sys.version_info[1]}-torch{torch.__version__}")
        build_dir = ROOT / "build" / tag
        build_dir.mkdir(parents=True, exist_ok=True)

        require_cuda = _flag("FUSEDACT_REQUIRE_CUDA")
        if require_cuda and torch.version.cuda is None:
            raise RuntimeError("FUSEDACT_REQUIRE_CUDA=1 but the installed torch was built without CUDA")
        args = [
            f"-DTORCH_ROOT={Path(torch.__file__).parent}",
            f"-DFUSEDACT_TORCH_VERSION={torch.__version__}",
            f"-DPython3_EXECUTABLE={sys.executable}",
            "-DFUSEDACT_BUILD_PYTHON=ON",
            f"-DFUSEDACT_WITH_CUDA={'ON' if require_cuda else 'AUTO'}",
            f"-DFUSEDACT_BUILD_TESTS={'ON' if _flag('FUSEDACT_BUILD_TESTS') else 'OFF'}",
            f"-DFUSEDACT_WERROR={'ON' if _flag('FUSEDACT_WERROR') else 'OFF'}",
            f"-DCMAKE_BUILD_TYPE={os.environ.get('FUSEDACT_BUILD_TYPE', 'Release')}",
        ]
        if torch.version.cuda is not None:
            arch_list = os.environ.get("TORCH_CUDA_ARCH_LIST") or _default_cuda_arch_list(torch)
            args.append(f"-DTORCH_CUDA_ARCH_LIST={arch_list}")
            nvcc = os.environ.get("CUDACXX") or shutil.which("nvcc")
            cuda_home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
            if not nvcc and cuda_home and (Path(cuda_home) / "bin" / "nvcc").exists():
                nvcc = str(Path(cuda_home) / "bin" / "nvcc")
            if nvcc:
                args.append(f"-DCMAKE_CUDA_COMPILER={nvcc}")
        cmake = _tool("cmake")
        if cmake is None:
            raise RuntimeError("fusedact needs CMake >= 3.26 to build: pip install cmake ninja")
        ninja = _tool("ninja")
        if ninja:
            args += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]

        jobs = os.environ.get("MAX_JOBS") or str(os.cpu_count() or 1)
        subprocess.check_call([cmake, "-S", str(ROOT), "-B", str(build_dir), *args])
        subprocess.check_call([cmake, "--build", str(build_dir), "--parallel", jobs])
        subprocess.check_call([cmake, "--install", str(build_dir), "--prefix", str(package_dir)])
        if self.editable_mode:  # setuptools copies only _C into the source tree; lib/ etc. too
            subprocess.check_call([cmake, "--install", str(build_dir), "--prefix", str(ROOT / "python" / "fusedact")])
        current = ROOT / "build" / "current"  # the latest build, for `ctest --test-dir build/current`
        if current.is_symlink() or current.exists():
            current.unlink()
        current.symlink_to(tag, target_is_directory=True)
        commands = ROOT / "compile_commands.json"  # where editors and clangd look for it
        if not commands.exists() or commands.is_symlink():
            commands.unlink(missing_ok=True)
            commands.symlink_to(Path("build") / "current" / "compile_commands.json")


setup(ext_modules=[CMakeExtension("fusedact._C")], cmdclass={"build_ext": CMakeBuild})
