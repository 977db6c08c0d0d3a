"""The installed package serves C++ users: examples/cpp (a LibTorch training program) configures
with find_package(fusedact) through fusedact.cmake_prefix_path, builds, and trains in step
with torch::nn."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import fusedact

ROOT = Path(__file__).resolve().parents[2]


def _tool(name):
    try:
        module = __import__(name)
        path = Path(module.CMAKE_BIN_DIR if name == "cmake" else module.BIN_DIR) / name
        return str(path) if path.exists() else shutil.which(name)
    except ImportError:
        return shutil.which(name)


def _cuda_toolkit_root():
    """A CUDA toolkit for torch's own config (find_package(Torch) with a CUDA torch looks for
    one): CUDA_HOME, CUDA_PATH, nvcc's, or /usr/local/cuda; None without one."""
    nvcc = shutil.which("nvcc")
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")]
    candidates += [str(Path(nvcc).resolve().parents[1]) if nvcc else None, "/usr/local/cuda"]
    return next((c for c in candidates if c and (Path(c) / "include" / "cuda_runtime.h").exists()), None)


def _build_and_run(source: Path, build: Path, extra=()):
    cmake = _tool("cmake")
    assert cmake, "cmake is needed to test the C++ package"
    prefix = f"{fusedact.cmake_prefix_path};{torch.utils.cmake_prefix_path}"
    configure = [
        cmake,
        "-S",
        str(source),
        "-B",
        str(build),
        f"-DCMAKE_PREFIX_PATH={prefix}",
        "-DCMAKE_BUILD_TYPE=Release",
        f"-DPython3_EXECUTABLE={sys.executable}",
        *extra,
    ]
    ninja = _tool("ninja")
    if ninja:
        configure += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]
    for step in (configure, [cmake, "--build", str(build)]):
        done = subprocess.run(step, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    run = subprocess.run([str(build / "train_mlp")], capture_output=True, text=True, env=os.environ)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "largest loss difference" in run.stdout


@pytest.mark.slow
def test_find_package_and_train(tmp_path):
    assert (Path(fusedact.cmake_prefix_path) / "fusedact" / "fusedactConfig.cmake").exists()
    _build_and_run(ROOT / "examples" / "cpp", tmp_path)


# A client that asks for C++17 (torch 2.14's headers need C++20: the package's target raises
# it), finding torch itself before or after fusedact, or not at all.
CLIENT = """cmake_minimum_required(VERSION 3.22)
project(client LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 17)
{before}
find_package(fusedact REQUIRED)
{after}
add_executable(train_mlp {source})
target_link_libraries(train_mlp PRIVATE fusedact::fusedact)
"""


@pytest.mark.slow
@pytest.mark.parametrize("torch_first", [True, False], ids=["find_torch_first", "find_torch_after"])
def test_client_with_cxx17_and_its_own_find_package_torch(tmp_path, torch_first):
    source = tmp_path / "src"
    source.mkdir()
    find_torch = "find_package(Torch REQUIRED)"
    (source / "CMakeLists.txt").write_text(
        CLIENT.format(
            before=find_torch if torch_first else "",
            after="" if torch_first else find_torch,
            source=(ROOT / "examples" / "cpp" / "train_mlp.cpp").as_posix(),
        )
    )
    root = _cuda_toolkit_root() if torch.version.cuda else None
    _build_and_run(source, tmp_path / "build", [f"-DCUDA_TOOLKIT_ROOT_DIR={root}"] if root else [])
