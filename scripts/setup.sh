#!/usr/bin/env bash
# Sets up a fresh machine for fusedact: system packages (GoogleTest, ccache), a virtual
# environment in .venv with torch and the test tools, and a build of fusedact installed into
# it (the C++ tests too). Safe to run again: it only installs what is missing, and ccache plus
# the persistent build/ folder make a rebuild quick.
#
# Environment: PYTHON (default python3), TORCH_SPEC (default torch==2.14.1),
# TORCH_CUDA_ARCH_LIST (default 8.0;9.0 when no GPU is visible), MAX_JOBS, FUSEDACT_REQUIRE_CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.14.1}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
[ -f /usr/include/gtest/gtest.h ] || missing+=(libgtest-dev)
command -v ccache >/dev/null || missing+=(ccache)
if [ ${#missing[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null; then
        echo "setup: installing ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "setup: ${missing[*]} not found and no apt-get; the C++ tests need GoogleTest" >&2
    fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# transformers, timm and matplotlib: test extras, not dependencies (the tests convert their
# models, compare gated_ffn with their feed-forward blocks and draw the figures).
python -m pip install -q "$TORCH_SPEC" numpy pytest pytest-xdist expecttest hypothesis transformers timm matplotlib \
    pre-commit "cmake>=3.26" ninja "setuptools>=77" wheel

if ! python -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-8.0;9.0}
fi
export MAX_JOBS=${MAX_JOBS:-$(nproc)}
FUSEDACT_BUILD_TESTS=1 python -m pip install -q --no-build-isolation -e .
python -m fusedact info
