"""Pictures: every activation and its derivative as fusedact's kernels and autograd compute
them, with torch's reference drawn over it (``python -m fusedact plot``), and a chart of a
benchmark's speedups (``python -m fusedact plot-bench results.json``).

matplotlib is the ``plot`` extra: ``pip install matplotlib``.
"""

import json
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as TF

from . import functional as F

__all__ = ["CURVES", "Curve", "plot_curves", "plot_bench"]


@dataclass(frozen=True)
class Curve:
    """One activation: ``fused(x)`` with fusedact's op, ``reference(x)`` with torch's, over
    ``span`` (a range that shows its shape). For a GLU op, the gate's curve: up = 1."""

    name: str
    fused: Callable
    reference: Callable
    span: tuple[float, float] = (-4.0, 4.0)


def _gate(glu: Callable, **kwargs) -> Callable:
    """x -> glu(x, ones): a GLU op's gate curve."""
    return lambda x: glu(x, torch.ones_like(x), **kwargs)


def _clamped_swiglu_reference(x):
    g = x.clamp(max=7.0)
    return (torch.ones_like(x).clamp(-7.0, 7.0) + 1) * g * torch.sigmoid(1.702 * g)


_PRELU_WEIGHT = torch.tensor([0.25], dtype=torch.float64)

#: Every activation drawn, in the README's order.
CURVES: list[Curve] = [
    Curve("sigmoid", F.sigmoid, torch.sigmoid, (-6, 6)),
    Curve("tanh", F.tanh, torch.tanh),
    Curve("relu", F.relu, TF.relu, (-3, 3)),
    Curve("leaky_relu(0.1)", lambda x: F.leaky_relu(x, 0.1), lambda x: TF.leaky_relu(x, 0.1), (-3, 3)),
    Curve("prelu(0.25)", lambda x: F.prelu(x, _PRELU_WEIGHT), lambda x: TF.prelu(x, _PRELU_WEIGHT), (-3, 3)),
    Curve("rrelu (eval)", F.rrelu, TF.rrelu, (-3, 3)),
    Curve("elu", F.elu, TF.elu),
    Curve("selu", F.selu, TF.selu),
    Curve("celu(0.5)", lambda x: F.celu(x, 0.5), lambda x: TF.celu(x, 0.5)),
    Curve("gelu", F.gelu, TF.gelu),
    Curve("gelu(tanh)", lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    Curve("quick_gelu", F.quick_gelu, lambda x: x * torch.sigmoid(1.702 * x)),
    Curve("silu", F.silu, TF.silu),
    Curve("swish(2)", lambda x: F.swish(x, 2.0), lambda x: x * torch.sigmoid(2.0 * x)),
    Curve("mish", F.mish, TF.mish),
    Curve("softplus", F.softplus, TF.softplus),
    Curve("hardtanh", F.hardtanh, TF.hardtanh, (-3, 3)),
    Curve("relu6", F.relu6, TF.relu6, (-2, 8)),
    Curve("hardsigmoid", F.hardsigmoid, TF.hardsigmoid, (-5, 5)),
    Curve("hardswish", F.hardswish, TF.hardswish, (-5, 5)),
    Curve("logsigmoid", F.logsigmoid, TF.logsigmoid, (-6, 6)),
    Curve("softsign", F.softsign, TF.softsign, (-6, 6)),
    Curve("tanhshrink", F.tanhshrink, TF.tanhshrink),
    Curve("softshrink", F.softshrink, TF.softshrink, (-2, 2)),
    Curve("hardshrink", F.hardshrink, TF.hardshrink, (-2, 2)),
    Curve("threshold(1, -1)", lambda x: F.threshold(x, 1.0, -1.0), lambda x: TF.threshold(x, 1.0, -1.0), (-3, 3)),
    Curve("relu_squared", F.relu_squared, lambda x: torch.square(TF.relu(x)), (-2, 2)),
    Curve("swiglu gate", _gate(F.swiglu), TF.silu),
    Curve("geglu gate", _gate(F.geglu), TF.gelu),
    Curve("reglu gate", _gate(F.reglu), TF.relu, (-3, 3)),
    Curve("relu_squared_glu gate", _gate(F.relu_squared_glu), lambda x: torch.square(TF.relu(x)), (-2, 2)),
    Curve("quick_gelu_glu gate", _gate(F.quick_gelu_glu), lambda x: x * torch.sigmoid(1.702 * x)),
    Curve("glu gate", lambda x: F.glu(torch.stack([torch.ones_like(x), x], -1)).squeeze(-1), torch.sigmoid, (-6, 6)),
    Curve("clamped_swiglu gate", _gate(F.clamped_swiglu), _clamped_swiglu_reference, (-4, 10)),
]


def _matplotlib():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit(
            "fusedact plot: matplotlib is not installed; pip install matplotlib (the 'plot' extra)"
        ) from None
    return plt


def values(curve: Curve, points: int = 801) -> dict[str, torch.Tensor]:
    """x, and the function and its derivative by fusedact (f, df) and by torch (ref, dref),
    in float64."""
    x = torch.linspace(*curve.span, points, dtype=torch.float64)
    out = {"x": x}
    for key, fn in (("f", curve.fused), ("ref", curve.reference)):
        leaf = x.clone().requires_grad_()
        y = fn(leaf)
        (grad,) = torch.autograd.grad(y.sum(), leaf)
        out[key], out[f"d{key}"] = y.detach(), grad
    return out


def _draw(ax, curve: Curve) -> None:
    v = values(curve)
    x = v["x"].numpy()
    ax.axhline(0, color="0.85", lw=0.6)
    ax.axvline(0, color="0.85", lw=0.6)
    ax.plot(x, v["f"].numpy(), color="C0", lw=2.2, label="fusedact")
    ax.plot(x, v["df"].numpy(), color="C1", lw=2.2, label="fusedact derivative")
    ax.plot(x, v["ref"].numpy(), color="k", lw=0.9, ls="--", label="torch")
    ax.plot(x, v["dref"].numpy(), color="0.35", lw=0.9, ls=":", label="torch derivative")
    ax.set_title(curve.name, fontsize=10)
    ax.tick_params(labelsize=7)


def plot_curves(names: list[str] | None = None, out: str = ".", fmt: str = "png", grid: bool = True) -> list[Path]:
    """One figure per activation (``<name>.<fmt>``) and, with ``grid``, the overview of all
    (``activations.<fmt>``) in the folder ``out``; returns the files written."""
    plt = _matplotlib()
    curves = [c for c in CURVES if names is None or c.name.split()[0].split("(")[0] in names]
    if not curves:
        raise SystemExit(f"fusedact plot: no op among {names}; known: {', '.join(c.name for c in CURVES)}")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for curve in curves:
        fig, ax = plt.subplots(figsize=(4.5, 3.4))
        _draw(ax, curve)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = folder / f"{re.sub(r'[^A-Za-z0-9]+', '_', curve.name).strip('_')}.{fmt}"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    if grid:
        columns = 6
        rows = -(-len(curves) // columns)
        fig, axes = plt.subplots(rows, columns, figsize=(columns * 2.6, rows * 2.1), squeeze=False)
        for ax, curve in zip(axes.flat, curves, strict=False):
            _draw(ax, curve)
        for ax in list(axes.flat)[len(curves) :]:
            ax.axis("off")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower right", ncol=2, fontsize=9, frameon=False)
        fig.suptitle("fusedact's activations and derivatives (solid), torch's (dashed, dotted)", fontsize=12)
        fig.tight_layout(rect=(0, 0.02, 1, 0.97))
        path = folder / f"activations.{fmt}"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written


def plot_bench(results: str | dict, out: str) -> Path:
    """A chart of a benchmark's speedups (the JSON of ``python -m fusedact bench --json``, or
    its dict): per op its forward and backward, one bar per dtype (the median over sizes),
    with the 1.0x line."""
    plt = _matplotlib()
    info = json.loads(Path(results).read_text()) if isinstance(results, str | Path) else results
    speedups: dict[tuple[str, str, str], list[float]] = {}
    for r in info["results"]:
        if r["pass"] in ("forward", "backward"):
            speedups.setdefault((r["op"], r["pass"], r["dtype"]), []).append(r["speedup"])
    ops = list(dict.fromkeys(op for op, _, _ in speedups))
    dtypes = list(dict.fromkeys(dtype for _, _, dtype in speedups))
    groups = [(op, p) for op in ops for p in ("forward", "backward") if any((op, p, d) in speedups for d in dtypes)]
    width = 0.8 / len(dtypes)
    fig, ax = plt.subplots(figsize=(max(8, 0.42 * len(groups)), 4.5))
    for i, dtype in enumerate(dtypes):
        heights = [statistics.median(speedups.get((op, p, dtype), [float("nan")])) for op, p in groups]
        ax.bar([g + (i - (len(dtypes) - 1) / 2) * width for g in range(len(groups))], heights, width, label=dtype)
    ax.axhline(1.0, color="k", lw=1)
    ax.set_xticks(range(len(groups)), [f"{op} {'fwd' if p == 'forward' else 'bwd'}" for op, p in groups])
    ax.tick_params(axis="x", labelrotation=90, labelsize=7)
    ax.set_ylabel("speedup over torch (x)")
    ax.set_title(
        f"fusedact vs torch {info.get('torch', '')}, {info.get('device', '')}, {info.get('threads', '?')} threads "
        "(median over sizes)",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(out)
    fig.savefig(path)
    plt.close(fig)
    return path
