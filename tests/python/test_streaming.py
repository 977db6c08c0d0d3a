"""Streaming stores: the CPU kernels write the outputs of ops whose operands outgrow the
last-level cache past the caches. The op tests run again with FUSEDACT_CPU_CACHE_BYTES=0,
which makes every output stream, so that each op's values, gradients, layouts, thread splits
and instruction sets are checked against torch on that path too."""

import os
import subprocess
import sys
from pathlib import Path

import fusedact

HERE = Path(__file__).parent


def run_python(code: str, cache_bytes: str):
    env = {**os.environ, "FUSEDACT_CPU_CACHE_BYTES": cache_bytes}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


def test_cache_size_is_the_largest_cache_sysfs_lists():
    levels = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        size = (index / "size").read_text().strip()
        assert size.endswith("K")
        levels[int((index / "level").read_text())] = int(size[:-1]) << 10
    expected = levels[max(levels)] if levels else 32 << 20
    assert fusedact.build_info()["cpu_cache_bytes"] == expected


def test_cache_size_override_and_error():
    run = run_python("import fusedact; print(fusedact.build_info()['cpu_cache_bytes'])", "12345")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "12345"
    run = run_python("import fusedact; fusedact.build_info()", "lots")
    assert run.returncode != 0
    assert "FUSEDACT_CPU_CACHE_BYTES must be a number of bytes, got 'lots'" in run.stderr


def test_ops_match_torch_with_every_output_streamed():
    files = ["test_pointwise.py", "test_channel_param.py", "test_glu.py", "test_softmax.py"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files, "-k",
         "matches_torch or identical or deterministic or layouts"],
        cwd=HERE, env={**os.environ, "FUSEDACT_CPU_CACHE_BYTES": "0"}, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert " passed" in run.stdout.splitlines()[-1]
