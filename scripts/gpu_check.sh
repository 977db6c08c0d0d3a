#!/usr/bin/env bash
# Validates fusedact on a GPU machine in one command, without network: builds it for the
# visible GPU against the installed torch, runs every CUDA test, runs compute-sanitizer
# (memcheck and racecheck) over scripts/op_sweep.py, and runs the benchmark at large sizes.
# Writes <date>-<gpu>.md (the summary and the bench table) and <date>-<gpu>.json (the bench's
# figures) into OUT_DIR (default benchmarks/results/), with each step's log beside them in
# <date>-<gpu>-logs/. A failing step is reported and the next one still runs; the exit status
# says whether all passed.
#
#     scripts/gpu_check.sh [OUT_DIR]
#
# Environment: PYTHON (default python3, with torch, pytest, cmake and ninja), MAX_JOBS,
# BENCH_SIZES (default 64M), BENCH_DTYPES (default float32,bfloat16), SKIP (space-separated
# steps to leave out: build tests memcheck racecheck bench), FUSEDACT_COMMIT (the commit to name
# in the summary where the tree has no .git).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PYTHON=${PYTHON:-python3}
out=${1:-benchmarks/results}
mkdir -p "$out"
out=$(cd "$out" && pwd)

gpu=$("$PYTHON" -c 'import torch; print(torch.cuda.get_device_name(0))' 2>/dev/null) || {
    echo "gpu_check: no CUDA device visible to torch ($PYTHON)" >&2
    exit 2
}
arch=$("$PYTHON" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability(0))')
slug=$(echo "$gpu" | tr '[:upper:]' '[:lower:]' | sed -E 's/^nvidia //; s/[^a-z0-9]+/-/g; s/^-|-$//g')
stem="$out/$(date -u +%Y-%m-%d)-$slug"
logs="$stem-logs"
mkdir -p "$logs"
build=build/gpu-check
package="$build/python"
export PYTHONPATH="$root/$package${PYTHONPATH:+:$PYTHONPATH}"
jobs=${MAX_JOBS:-$(nproc)}

declare -a names results seconds
run_step() {  # run_step NAME COMMAND...: runs it with its output in $logs/NAME.log
    local name=$1 start=$SECONDS status
    shift
    if [[ " ${SKIP:-} " == *" $name "* ]]; then
        names+=("$name") results+=("skipped") seconds+=(0)
        return
    fi
    echo "== $name: $*"
    "$@" >"$logs/$name.log" 2>&1
    status=$?
    names+=("$name") seconds+=($((SECONDS - start)))
    if [ $status -eq 0 ]; then results+=("ok"); else results+=("FAILED ($status)"); fi
    echo "   ${results[-1]} in $((SECONDS - start)) s; last lines of $logs/$name.log:"
    tail -n 5 "$logs/$name.log" | sed 's/^/   | /'
}

build_step() {
    local torch_root
    torch_root=$("$PYTHON" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTORCH_ROOT="$torch_root" \
        -DPython3_EXECUTABLE="$(command -v "$PYTHON")" -DFUSEDACT_BUILD_PYTHON=ON -DFUSEDACT_WITH_CUDA=ON \
        -DTORCH_CUDA_ARCH_LIST="$arch" -DFUSEDACT_BUILD_TESTS=OFF &&
        cmake --build "$build" --parallel "$jobs" &&
        rm -rf "$package/fusedact" && mkdir -p "$package/fusedact" &&
        cp python/fusedact/*.py "$package/fusedact/" &&
        cmake --install "$build" --prefix "$package/fusedact" >/dev/null &&
        "$PYTHON" -m fusedact info
}

tests_step() {
    local parallel=()
    "$PYTHON" -c 'import xdist' 2>/dev/null && parallel=(-n 8 --dist loadgroup)
    # The property-based tests run on the CPU and need hypothesis, which a GPU image may lack.
    local ignore=()
    "$PYTHON" -c 'import hypothesis' 2>/dev/null || ignore=(--ignore=tests/python/test_properties.py)
    "$PYTHON" -m pytest tests/python -m cuda -q -p no:cacheprovider "${parallel[@]}" "${ignore[@]}" \
        --junitxml="$logs/tests.xml"
}

sanitizer_step() {  # sanitizer_step TOOL
    # Without torch's caching allocator every tensor is its own allocation, so an access past
    # its end is outside any allocation and memcheck sees it.
    PYTORCH_NO_CUDA_MEMORY_CACHING=1 compute-sanitizer --tool "$1" --error-exitcode 1 \
        "$PYTHON" scripts/op_sweep.py --device cuda --quick
}

bench_step() {
    "$PYTHON" -m fusedact bench --device cuda --sizes "${BENCH_SIZES:-64M}" \
        --dtypes "${BENCH_DTYPES:-float32,bfloat16}" --json "$stem.json"
    # The chart beside the table, where matplotlib is installed.
    if "$PYTHON" -c "import matplotlib" 2>/dev/null; then
        "$PYTHON" -m fusedact plot-bench "$stem.json"
    fi
}

run_step build build_step
run_step tests tests_step
run_step memcheck sanitizer_step memcheck
run_step racecheck sanitizer_step racecheck
run_step bench bench_step

torch_version=$("$PYTHON" -c 'import torch; print(torch.__version__)')
{
    echo "# fusedact on $gpu ($(date -u +%Y-%m-%d))"
    echo
    echo "torch $torch_version, CUDA $("$PYTHON" -c 'import torch; print(torch.version.cuda)'), sm_${arch/./},"
    echo "driver $(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)."
    echo "Command: \`scripts/gpu_check.sh\` (commit ${FUSEDACT_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)})."
    echo
    echo "| step | result | seconds |"
    echo "|---|---|---|"
    for i in "${!names[@]}"; do echo "| ${names[$i]} | ${results[$i]} | ${seconds[$i]} |"; done
    echo
    if [ -s "$logs/bench.log" ]; then
        echo "## python -m fusedact bench --device cuda --sizes ${BENCH_SIZES:-64M} --dtypes ${BENCH_DTYPES:-float32,bfloat16}"
        echo
        echo '```'
        cat "$logs/bench.log"
        echo '```'
    fi
} >"$stem.md"

echo
echo "gpu_check: $gpu (sm_${arch/./}), torch $torch_version -> $stem.md"
failed=0
for i in "${!names[@]}"; do
    printf '  %-10s %-12s %4s s\n' "${names[$i]}" "${results[$i]}" "${seconds[$i]}"
    [[ ${results[$i]} == FAILED* ]] && failed=1
done
exit $failed
