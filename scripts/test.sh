#!/usr/bin/env bash
# Runs every test of fusedact on a fresh machine: set-up (scripts/setup.sh), then the Python
# tests (pytest) and the C++ tests (GoogleTest, through CTest). Tests that need a GPU skip
# without one. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. .venv/bin/activate
# Parallel over the cores (pytest-xdist); the tests marked xdist_group (over 2^31 elements,
# ~13 GB each) run one after another on one worker.
python -m pytest tests/python -q -ra -n "${PYTEST_WORKERS:-auto}" --dist loadgroup "$@"
ctest --test-dir build/current --output-on-failure
