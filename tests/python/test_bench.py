"""python -m fusedact bench: the command runs, and its table and JSON hold every case asked for
with consistent figures. (Speed itself is reported by the command, never asserted.)"""

import json
import subprocess
import sys

import pytest

ARGS = ["--device", "cpu", "--sizes", "64K,1M", "--repeats", "1", "--min-time", "0.001"]


def bench(*args):
    return subprocess.run(
        [sys.executable, "-m", "fusedact", "bench", *ARGS, *args], capture_output=True, text=True, timeout=600
    )


def test_bench_table_and_json(tmp_path):
    out, chart = tmp_path / "bench.json", tmp_path / "bench.svg"
    run = bench("--ops", "relu,prelu,softmax", "--dtypes", "float32,bfloat16", "--json", str(out), "--plot", str(chart))
    assert run.returncode == 0, run.stderr
    assert "<svg" in chart.read_text() and f"wrote {chart}" in run.stdout
    doc = json.loads(out.read_text())
    assert {"device", "torch", "threads", "cpu_isa", "results"} <= doc.keys()
    cases = [(r["op"], r["dtype"], r["numel"], r["pass"]) for r in doc["results"]]
    expected = {
        (op, dtype, numel, pass_)
        for op in ("relu", "prelu", "softmax")
        for dtype in ("float32", "bfloat16")
        for numel in (1 << 16, 1 << 20)
        for pass_ in ("forward", "backward")
    }
    assert sorted(cases) == sorted(expected)
    for r in doc["results"]:
        assert {"op", "dtype", "numel", "pass", "fusedact_ms", "torch_ms", "speedup", "gbps"} <= r.keys()
        assert r["fusedact_ms"] > 0 and r["torch_ms"] > 0 and r["gbps"] > 0
        assert r["speedup"] == pytest.approx(r["torch_ms"] / r["fusedact_ms"])  # one repeat: one ratio
        assert 1 <= r["repeats"] <= 4 and r["speedup_ci95"][0] <= r["speedup"] <= r["speedup_ci95"][1]
        assert r["copy_bandwidth_fraction"] == pytest.approx(r["gbps"] / doc["copy_bandwidth_gbps"])
    header = next(line for line in run.stdout.splitlines() if line.startswith("op "))
    assert all(column in header for column in ("fusedact ms", "torch ms", "speedup", "GB/s", "% copy bw"))
    # The summary takes each size range apart: two pointwise ops and one row op, two dtypes.
    summary = {line.split(":")[0]: line for line in run.stdout.splitlines() if "median speedup" in line}
    assert summary.keys() == {
        f"{kind} {pass_} {size}"
        for kind in ("pointwise", "row")
        for pass_ in ("forward", "backward")
        for size in ("<=64K", ">=1M")
    }
    assert summary["pointwise forward <=64K"].endswith(", 4 cases")
    assert summary["row backward >=1M"].endswith(", 2 cases")


def test_ops_of_one_shape_run_once_whatever_the_sizes(tmp_path):
    out = tmp_path / "bench.json"
    run = bench("--ops", "softmax_8x128256,softmax_dim0", "--dtypes", "float32", "--json", str(out))
    assert run.returncode == 0, run.stderr
    cases = sorted((r["op"], r["numel"], r["pass"]) for r in json.loads(out.read_text())["results"])
    assert cases == sorted(
        [("softmax_8x128256", 8 * 128256, p) for p in ("forward", "backward")]
        + [("softmax_dim0", n, p) for n in (1 << 16, 1 << 20) for p in ("forward", "backward")]
    )


def test_speedup_pairs_the_samples_of_one_repeat():
    from fusedact.bench import Timing

    # The machine was twice as slow during the second and third repeats, for both libraries.
    timing = Timing([[1.0, 2.0, 2.0, 1.0, 1.0], [1.2, 2.4, 2.4, 1.2, 1.2]])
    assert timing.median(0) == 1.0 and timing.median(1) == 1.2
    assert timing.ratio(1, 0) == pytest.approx(1.2)
    # A slow spell that began in the third repeat between the two measurements: the medians
    # compare a fast torch with a slow fusedact (1.2 / 3.0); the pairs compare like with like.
    timing = Timing([[1.0, 1.0, 3.0, 3.0, 3.0], [1.2, 1.2, 1.2, 3.6, 3.6]])
    assert timing.median(1) / timing.median(0) == pytest.approx(0.4)
    assert timing.ratio(1, 0) == pytest.approx(1.2)


def test_speedup_confidence_interval_from_order_statistics():
    from fusedact.bench import Timing

    # Eleven ratios 1.0 ... 2.0: the 95% interval of their median runs from the 2nd to the 10th.
    timing = Timing([[1.0] * 11, [1.0 + k / 10 for k in range(11)]])
    assert timing.ratio(1, 0) == pytest.approx(1.5)
    assert timing.ratio_interval(1, 0) == pytest.approx((1.1, 1.9))


def test_bench_unknown_op_is_a_clear_error():
    run = bench("--ops", "relu,nosuchop")
    assert run.returncode != 0
    assert "unknown ops ['nosuchop']" in run.stderr


def test_bench_models_table_and_json(tmp_path):
    """--models: a converted and an unconverted model, training step and inference, paired."""
    pytest.importorskip("timm")
    out = tmp_path / "models.json"
    args = ["--models", "mobilenetv3_small_100", "--batch", "2", "--image-size", "64", "--json", str(out)]
    run = bench(*args)
    assert run.returncode == 0, run.stderr
    rows = [line for line in run.stdout.splitlines() if line.startswith("| mobilenetv3_small_100 |")]
    assert [row.split("|")[2].strip() for row in rows] == ["training", "inference"]
    doc = json.loads(out.read_text())
    assert doc["batch"] == 2 and [r["mode"] for r in doc["results"]] == ["training", "inference"]
    for r in doc["results"]:
        assert r["converted_ms"] > 0 and r["unconverted_ms"] > 0
        assert r["speedup_ci95"][0] <= r["speedup"] <= r["speedup_ci95"][1]
