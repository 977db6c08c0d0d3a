"""python -m fusedact bench: every operator, forward and backward, fusedact against torch in the
same process.

Each measurement interleaves fusedact and torch (same inputs, same thread count), repeats, and
quotes the median. Backward is timed through autograd for both (grad of the output with respect
to the inputs, graph retained), so both pay the same autograd overhead. GB/s counts the bytes an
op must move at the least: every input read once and every output written once. On CUDA the
time comes from CUDA events after warm-up, cycling through enough input sets to defeat the L2
cache, and is also quoted as a fraction of the device's measured copy bandwidth.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from . import functional as FF

DEFAULT_SIZES = (1 << 16, 1 << 20, 1 << 22, 1 << 24)
ROW = 1024  # inputs are [numel / ROW, ROW]: ROW channels for prelu, ROW-wide rows for row ops


@dataclass(frozen=True)
class BenchOp:
    """One benchmarked operator: fusedact's call, torch's call, and how to make its inputs."""

    name: str
    fused: Callable
    torch: Callable
    make_inputs: Callable  # (numel, dtype, device) -> tuple of tensors, the first one the input
    compile_baseline: bool = False  # also time torch.compile of the torch composition
    grad_inputs: Sequence[int] = (0,)  # which inputs the backward differentiates

    def inputs(self, numel, dtype, device, seed=0):
        torch.manual_seed(seed)
        return self.make_inputs(numel, dtype, device)


def _x(numel, dtype, device):
    return (torch.randn(numel // ROW, ROW, device=device) * 3).to(dtype)


def _x_and_channels(numel, dtype, device):
    x = _x(numel, dtype, device)
    return x, torch.linspace(-0.5, 1.5, ROW, device=device).to(dtype)


def _pointwise(name, fused, reference):
    return BenchOp(name, fused, reference, lambda n, d, dev: (_x(n, d, dev),))


OPS: list[BenchOp] = [
    _pointwise("sigmoid", FF.sigmoid, torch.sigmoid),
    _pointwise("tanh", FF.tanh, torch.tanh),
    _pointwise("relu", FF.relu, F.relu),
    _pointwise("leaky_relu", FF.leaky_relu, F.leaky_relu),
    BenchOp("prelu", FF.prelu, F.prelu, _x_and_channels, grad_inputs=(0, 1)),
    _pointwise("elu", FF.elu, F.elu),
    _pointwise("selu", FF.selu, F.selu),
    _pointwise("gelu", FF.gelu, F.gelu),
    _pointwise("gelu_tanh", lambda x: FF.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh")),
    _pointwise("quick_gelu", FF.quick_gelu, lambda x: x * torch.sigmoid(1.702 * x)),
    _pointwise("silu", FF.silu, F.silu),
    _pointwise("swish", lambda x: FF.swish(x, 1.5), lambda x: x * torch.sigmoid(1.5 * x)),
    _pointwise("mish", FF.mish, F.mish),
    _pointwise("softplus", FF.softplus, F.softplus),
]


@dataclass
class Result:
    op: str
    dtype: str
    numel: int
    pass_: str
    fusedact_ms: float
    torch_ms: float
    gbps: float
    compile_ms: float | None = None
    copy_fraction: float | None = None  # of the device's measured copy bandwidth (CUDA)
    extra: dict = field(default_factory=dict)

    @property
    def speedup(self):
        return self.torch_ms / self.fusedact_ms

    def as_dict(self):
        d = {
            "op": self.op,
            "dtype": self.dtype,
            "numel": self.numel,
            "pass": self.pass_,
            "fusedact_ms": self.fusedact_ms,
            "torch_ms": self.torch_ms,
            "speedup": self.speedup,
            "gbps": self.gbps,
        }
        if self.compile_ms is not None:
            d["compile_ms"] = self.compile_ms
        if self.copy_fraction is not None:
            d["copy_bandwidth_fraction"] = self.copy_fraction
        return d


# ---- timing -------------------------------------------------------------------------------


class Timer:
    """Seconds per call of fn(inputs) on one device, median over `repeats` measurements."""

    def __init__(self, device: str, min_seconds: float = 0.02):
        self.device = device
        self.min_seconds = min_seconds

    def calls_for(self, fn, input_sets):
        """How many calls make one measurement last min_seconds (after a warm-up)."""
        fn(input_sets[0])
        self.sync()
        n, elapsed = 1, 0.0
        while True:
            elapsed = self.run(fn, input_sets, n)
            if elapsed >= self.min_seconds or n >= 1 << 16:
                return n
            n = max(n * 2, int(n * self.min_seconds / max(elapsed, 1e-7) * 1.2))

    def run(self, fn, input_sets, n):
        """Seconds for n calls, cycling through the input sets."""
        if self.device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for i in range(n):
                fn(input_sets[i % len(input_sets)])
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3
        begin = time.perf_counter()
        for i in range(n):
            fn(input_sets[i % len(input_sets)])
        return time.perf_counter() - begin

    def sync(self):
        if self.device == "cuda":
            torch.cuda.synchronize()

    def compare(self, fns, input_sets, repeats):
        """Median seconds per call of each fn, measured interleaved."""
        calls = [self.calls_for(fn, input_sets) for fn in fns]
        samples = [[] for _ in fns]
        for _ in range(repeats):
            for fn, n, out in zip(fns, calls, samples, strict=True):
                out.append(self.run(fn, input_sets, n) / n)
        return [statistics.median(s) for s in samples]


def copy_bandwidth(device: str) -> float:
    """The device's copy bandwidth in GB/s (bytes read plus bytes written), measured."""
    src = torch.empty(1 << 28, dtype=torch.uint8, device=device).random_()
    dst = torch.empty_like(src)
    seconds = Timer(device).compare([lambda _: dst.copy_(src)], [None], repeats=5)[0]
    return 2 * src.numel() / seconds / 1e9


# ---- one op ---------------------------------------------------------------------------------


def _forward(fn):
    def call(inputs):
        with torch.no_grad():
            return fn(*inputs)

    return call


def _backward(op: BenchOp, fn, inputs_requiring_grad):
    """A call running fn's backward: the graph of fn(inputs) is built once per input set and
    retained, so only autograd's backward pass is timed."""
    graphs = {}

    def call(inputs):
        key = id(inputs)
        if key not in graphs:
            leaves = [t.detach().requires_grad_(i in op.grad_inputs) for i, t in enumerate(inputs)]
            out = fn(*leaves)
            graphs[key] = (out, [leaves[i] for i in op.grad_inputs], torch.randn_like(out))
        out, wrt, grad = graphs[key]
        return torch.autograd.grad(out, wrt, grad, retain_graph=True)

    return call


def _bytes(op: BenchOp, inputs, pass_):
    with torch.no_grad():
        out = op.fused(*inputs)
    read = sum(t.numel() * t.element_size() for t in inputs)
    if pass_ == "forward":
        return read + out.numel() * out.element_size()
    # grad_output and the inputs read, a gradient written per differentiated input.
    written = sum(inputs[i].numel() * inputs[i].element_size() for i in op.grad_inputs)
    return out.numel() * out.element_size() + read + written


def bench_op(op: BenchOp, dtype, numel, device, timer: Timer, repeats: int, copy_gbps: float | None):
    # Enough input sets to cycle through more memory than a GPU's L2 cache holds.
    nbytes = numel * torch.finfo(dtype).bits // 8
    sets = max(1, min(8, (256 << 20) // max(nbytes, 1))) if device == "cuda" else 1
    input_sets = [op.inputs(numel, dtype, device, seed=s) for s in range(sets)]
    results = []
    for pass_ in ("forward", "backward"):
        fns = [op.fused, op.torch]
        if op.compile_baseline:
            fns.append(torch.compile(op.torch, dynamic=False))
        calls = [_forward(fn) if pass_ == "forward" else _backward(op, fn, op.grad_inputs) for fn in fns]
        seconds = timer.compare(calls, input_sets, repeats)
        moved = _bytes(op, input_sets[0], pass_)
        gbps = moved / seconds[0] / 1e9
        results.append(
            Result(
                op.name,
                str(dtype).removeprefix("torch."),
                numel,
                pass_,
                seconds[0] * 1e3,
                seconds[1] * 1e3,
                gbps,
                compile_ms=seconds[2] * 1e3 if op.compile_baseline else None,
                copy_fraction=gbps / copy_gbps if copy_gbps else None,
            )
        )
    return results


# ---- the command ----------------------------------------------------------------------------


def _size_name(n):
    return f"{n >> 20}M" if n >= 1 << 20 else f"{n >> 10}K"


def format_table(results: list[Result]) -> str:
    cuda = any(r.copy_fraction is not None for r in results)
    compiled = any(r.compile_ms is not None for r in results)
    header = ["op", "dtype", "size", "pass", "fusedact ms", "torch ms", "speedup", "GB/s"]
    header += ["compile ms", "vs compile"] if compiled else []
    header += ["% copy bw"] if cuda else []
    rows = [header]
    for r in results:
        row = [
            r.op,
            r.dtype,
            _size_name(r.numel),
            r.pass_,
            f"{r.fusedact_ms:.3f}",
            f"{r.torch_ms:.3f}",
            f"{r.speedup:.2f}x",
            f"{r.gbps:.1f}",
        ]
        if compiled:
            row += [f"{r.compile_ms:.3f}", f"{r.compile_ms / r.fusedact_ms:.2f}x"] if r.compile_ms else ["", ""]
        if cuda:
            row += [f"{100 * r.copy_fraction:.0f}%"]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i < 4 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summarize(results: list[Result], min_numel: int = 1 << 20) -> str:
    """Median and lowest speedup per pass over the sizes of at least min_numel elements."""
    lines = []
    for pass_ in ("forward", "backward"):
        speedups = sorted(
            (r.speedup, r.op, r.dtype, r.numel) for r in results if r.pass_ == pass_ and r.numel >= min_numel
        )
        if speedups:
            low = speedups[0]
            lines.append(
                f"{pass_}: median speedup {statistics.median(s[0] for s in speedups):.2f}x, lowest {low[0]:.2f}x "
                f"({low[1]} {low[2]} {_size_name(low[3])}), over {len(speedups)} cases of >= {_size_name(min_numel)}"
            )
    return "\n".join(lines)


def run(
    device: str,
    ops: Sequence[str] | None,
    dtypes: Sequence[str] | None,
    sizes: Sequence[int],
    repeats: int,
    min_seconds: float,
    progress=sys.stderr,
) -> tuple[dict, list[Result]]:
    """Benchmarks the selected ops; returns the JSON document and the results."""
    selected = [op for op in OPS if not ops or op.name in ops]
    unknown = set(ops or ()) - {op.name for op in OPS}
    if unknown:
        raise SystemExit(f"fusedact bench: unknown ops {sorted(unknown)}; known: {[op.name for op in OPS]}")
    dtype_names = dtypes or (["float32", "bfloat16"] if device == "cpu" else ["float32", "bfloat16", "float16"])
    dtype_list = [getattr(torch, name) for name in dtype_names]
    copy_gbps = copy_bandwidth(device) if device == "cuda" else None
    timer = Timer(device, min_seconds)
    results = []
    cases = [(op, dt, n) for op in selected for dt in dtype_list for n in sizes]
    for i, (op, dtype, numel) in enumerate(cases, 1):
        print(
            f"\r[{i}/{len(cases)}] {op.name} {dtype} {_size_name(numel)}".ljust(60), end="", file=progress, flush=True
        )
        results += bench_op(op, dtype, numel, device, timer, repeats, copy_gbps)
    print("\r" + " " * 60 + "\r", end="", file=progress, flush=True)
    info = {
        "device": torch.cuda.get_device_name() if device == "cuda" else _cpu_name(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "copy_bandwidth_gbps": copy_gbps,
        "results": [r.as_dict() for r in results],
    }
    return info, results


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return "cpu: " + line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu"
