"""The pictures: every plotted curve and derivative against torch's (the figure draws both,
so they must coincide), the figures and the overview grid written, the bench chart from a
run's JSON, and the message without matplotlib."""

import builtins
import json

import pytest
import torch

from fusedact import plot
from fusedact.__main__ import main

matplotlib = pytest.importorskip("matplotlib")  # the plot extra, installed by scripts/setup.sh


@pytest.mark.parametrize("curve", plot.CURVES, ids=lambda c: c.name)
def test_plotted_curve_and_derivative_match_torch(curve):
    v = plot.values(curve)
    torch.testing.assert_close(v["f"], v["ref"])
    torch.testing.assert_close(v["df"], v["dref"])
    assert v["f"].std() > 0  # a range that shows the function's shape, not a flat piece


def test_plot_command_writes_each_figure_and_the_grid(tmp_path, capsys):
    assert main(["plot", "--ops", "gelu,relu,swiglu", "--out", str(tmp_path), "--format", "svg"]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["activations.svg", "gelu.svg", "gelu_tanh.svg", "relu.svg", "swiglu_gate.svg"]
    assert "<svg" in (tmp_path / "gelu.svg").read_text()
    assert f"wrote {tmp_path / 'activations.svg'}" in capsys.readouterr().out


def test_bench_chart_from_a_saved_json(tmp_path):
    info = {
        "torch": torch.__version__,
        "device": "cpu",
        "threads": 2,
        "results": [
            {"op": op, "pass": p, "dtype": d, "speedup": s}
            for op, s in (("gelu", 1.3), ("silu", 0.9))
            for p in ("forward", "backward", "forward+backward")
            for d in ("float32", "bfloat16")
        ],
    }
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps(info))
    assert main(["plot-bench", str(saved)]) == 0
    chart = tmp_path / "results.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_it_says_how_to_install(monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(SystemExit, match="pip install matplotlib"):
        plot.plot_curves(["relu"], "/nonexistent")
