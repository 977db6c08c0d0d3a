#!/usr/bin/env bash
# Runs fusedact's tests against its CPU library built with AddressSanitizer and
# UndefinedBehaviorSanitizer: every CPU instruction set compiled in, the Python suite (its
# tests select each set in turn) and the C++ tests. A memory error or undefined behaviour in
# fusedact's code stops the run with a report. Leak detection is off (torch and Python keep
# memory until exit by design); torch itself is not instrumented.
#
# The sanitized build lives in build/sanitize and its package copy in build/sanitize/python,
# which PYTHONPATH puts ahead of the installed fusedact; the normal build is untouched.
# Extra arguments go to pytest (e.g. scripts/sanitize.sh -k prelu).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || scripts/setup.sh
. .venv/bin/activate

build=build/sanitize
cmake -S . -B "$build" -G Ninja -DCMAKE_MAKE_PROGRAM="$(command -v ninja)" \
    -DTORCH_ROOT="$(python -c 'import os, torch; print(os.path.dirname(torch.__file__))')" \
    -DPython3_EXECUTABLE="$(command -v python)" -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS="-O0 -g" \
    -DFUSEDACT_WITH_CUDA=OFF -DFUSEDACT_BUILD_PYTHON=ON -DFUSEDACT_BUILD_TESTS=ON \
    -DFUSEDACT_SANITIZE=address,undefined >/dev/null
cmake --build "$build" --parallel "${MAX_JOBS:-$(nproc)}"
package="$build/python/fusedact"
rm -rf "$package" && mkdir -p "$package"
cp python/fusedact/*.py "$package/"
cmake --install "$build" --prefix "$package" >/dev/null

# The sanitizers' runtimes first in the process, as an instrumented library needs them.
export LD_PRELOAD="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export PYTHONPATH="$PWD/$build/python${PYTHONPATH:+:$PYTHONPATH}"
python -c "import fusedact, sys; sys.exit(0 if fusedact.__file__.startswith('$PWD/$package') else 'sanitize: not the sanitized fusedact')"

# test_cpp_package builds a client against the installed package config, the normal run's job.
python -m pytest tests/python -q -ra -p no:cacheprovider -n "${PYTEST_WORKERS:-auto}" --dist loadgroup \
    --ignore=tests/python/test_cpp_package.py "$@"
ctest --test-dir "$build" --output-on-failure
