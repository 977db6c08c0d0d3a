#!/usr/bin/env bash
# Runs every test of fusedact on a fresh machine: set-up (scripts/setup.sh), then the Python
# tests (pytest) and the C++ tests (GoogleTest, through CTest). Tests that need a GPU skip
# without one. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. .venv/bin/activate
python -m pytest tests/python -q -ra "$@"
ctest --test-dir build/current --output-on-failure
