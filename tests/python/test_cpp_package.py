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


@pytest.mark.slow
def test_find_package_and_train(tmp_path):
    cmake = _tool("cmake")
    assert cmake, "cmake is needed to test the C++ package"
    prefix = f"{fusedact.cmake_prefix_path};{torch.utils.cmake_prefix_path}"
    assert (Path(fusedact.cmake_prefix_path) / "fusedact" / "fusedactConfig.cmake").exists()
    configure = [
        cmake,
        "-S",
        str(ROOT / "examples" / "cpp"),
        "-B",
        str(tmp_path),
        f"-DCMAKE_PREFIX_PATH={prefix}",
        "-DCMAKE_BUILD_TYPE=Release",
        f"-DPython3_EXECUTABLE={sys.executable}",
    ]
    ninja = _tool("ninja")
    if ninja:
        configure += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]
    subprocess.run(configure, check=True, capture_output=True, text=True)
    subprocess.run([cmake, "--build", str(tmp_path)], check=True, capture_output=True, text=True)
    run = subprocess.run([str(tmp_path / "train_mlp")], capture_output=True, text=True, env=os.environ)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "largest loss difference" in run.stdout
