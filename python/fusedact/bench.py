"""python -m fusedact bench: every operator, forward and backward, fusedact against torch in the
same process.

Each measurement interleaves fusedact and torch (same inputs, same thread count) and repeats.
Times are the median over the repeats; a speedup is the median over the repeats of the ratio
of the two times measured side by side, so that a slow spell of the machine (another tenant,
a frequency change) weighs on both sides of a ratio rather than on one library's median. A
case is repeated until that median is known to +-5% (95% confidence), within a budget.
Backward is timed through autograd for both (grad of the output with respect to the inputs,
graph retained), so both pay the same autograd overhead. GB/s counts the bytes an op must move
at the least: every input read once and every output written once, and is also quoted as a
fraction of the copy bandwidth measured in the same run (on the CPU with the same threads,
from memory). On CUDA the time comes from CUDA events after warm-up, cycling through enough
input sets to defeat the L2 cache. The GLU ops and
swiglu_ffn are also timed against torch.compile of the torch composition; swiglu_ffn runs at
one LLaMA shape (7B's on CUDA) and reports the bytes it keeps for backward. softmax also runs
on rows of 8, 32768 and 128256, along dim 0 and on 8 rows of 128256; prelu with one weight
and on a [64, 256, 56, 56] activation.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

import fusedact

from . import functional as FF

DEFAULT_SIZES = (1 << 16, 1 << 20, 1 << 22, 1 << 24)
ROW = 1024  # inputs are [numel / ROW, ROW]: ROW channels for prelu, ROW-wide rows for row ops

# swiglu_ffn's shape: tokens, dim, hidden. On CUDA LLaMA-7B's (4096 -> 11008) for 16384 tokens;
# on the CPU a quarter of its width at LLaMA's hidden / dim ratio, for 2048 tokens.
FFN_SHAPES = {"cuda": (16384, 4096, 11008), "cpu": (2048, 1024, 2816)}


@dataclass(frozen=True)
class BenchOp:
    """One benchmarked operator: fusedact's call, torch's call, and how to make its inputs."""

    name: str
    fused: Callable
    torch: Callable
    make_inputs: Callable  # (numel, dtype, device) -> tuple of tensors, the first one the input
    kind: str = "pointwise"  # pointwise | row | glu | block: how the summary groups it
    compile_baseline: bool = False  # also time torch.compile of the torch composition
    grad_inputs: Sequence[int] = (0,)  # which inputs the backward differentiates
    fixed_shape: bool = False  # make_inputs ignores numel: one shape whatever the sizes asked

    @property
    def block(self) -> bool:
        """A block with weights (the inputs after the first): one shape whatever the sizes
        asked; timed forward, backward and both; its saved bytes reported."""
        return self.kind == "block"

    @property
    def passes(self):
        return ("forward", "backward", "forward+backward") if self.block else ("forward", "backward")

    def inputs(self, numel, dtype, device, seed=0):
        torch.manual_seed(seed)
        return self.make_inputs(numel, dtype, device)


def _x(numel, dtype, device):
    return (torch.randn(numel // ROW, ROW, device=device) * 3).to(dtype)


def _one_input(numel, dtype, device):
    return (_x(numel, dtype, device),)


def _x_and_channels(numel, dtype, device):
    return _x(numel, dtype, device), torch.linspace(-0.5, 1.5, ROW, device=device).to(dtype)


def _ffn_inputs(numel, dtype, device):
    def weight(rows, cols):
        return ((torch.rand(rows, cols, device=device) * 2 - 1) / cols**0.5).to(dtype)

    tokens, dim, hidden = FFN_SHAPES["cuda" if torch.device(device).type == "cuda" else "cpu"]
    x = torch.randn(tokens, dim, device=device).to(dtype)
    return x, weight(hidden, dim), weight(hidden, dim), weight(dim, hidden)


def _rows_of(length):
    """[numel / length, length]: rows of `length` along the last dim."""

    def make(numel, dtype, device):
        return ((torch.randn(max(1, numel // length), length, device=device) * 3).to(dtype),)

    return make


def _shape(*shape, channels=None):
    """One input of a fixed shape; with `channels`, also a prelu weight of that many values."""

    def make(numel, dtype, device):
        x = (torch.randn(*shape, device=device) * 3).to(dtype)
        if channels is None:
            return (x,)
        return x, torch.linspace(-0.5, 1.5, channels, device=device).to(dtype)

    return make


def _x_and_one_weight(numel, dtype, device):
    return _x(numel, dtype, device), torch.full((1,), 0.25, device=device).to(dtype)


def _row_ops(name, fused, reference):
    """softmax / log_softmax: rows of 1024, 8, 32768 and 128256 along the last dim; columns of
    8 reduced along dim 0 ([numel / 8, 8]); 8 rows of 128256 (LLaMA-3's vocabulary)."""
    ops = [BenchOp(name, lambda x: fused(x, -1), lambda x: reference(x, -1), _one_input, kind="row")]
    for length in (8, 32768, 128256):
        ops.append(
            BenchOp(f"{name}_rows{length}", lambda x: fused(x, -1), lambda x: reference(x, -1), _rows_of(length), "row")
        )
    ops.append(BenchOp(f"{name}_dim0", lambda x: fused(x, 0), lambda x: reference(x, 0), _rows_of(8), "row"))
    ops.append(
        BenchOp(f"{name}_8x128256", lambda x: fused(x, -1), lambda x: reference(x, -1), _shape(8, 128256), "row",
                fixed_shape=True)
    )  # fmt: skip
    return ops


def _ffn_eager(x, w_gate, w_up, w_down):
    return F.linear(F.silu(F.linear(x, w_gate)) * F.linear(x, w_up), w_down)


def _pointwise(name, fused, reference):
    return BenchOp(name, fused, reference, _one_input)


def _clamped_swiglu_eager(x, limit=7.0, alpha=1.702):
    """gpt-oss's SwiGLU as transformers writes it, on the halves of x."""
    gate, up = x.chunk(2, -1)
    gate, up = gate.clamp(max=limit), up.clamp(-limit, limit)
    return (up + 1) * (gate * torch.sigmoid(gate * alpha))


def _glu(name, fused, act):
    """A GLU in its split form over [numel / ROW, ROW] (the gate: the first ROW / 2 columns)."""

    def reference(x):
        gate, up = x.chunk(2, -1)
        return act(gate) * up

    return BenchOp(name, fused, reference, _one_input, kind="glu", compile_baseline=True)


OPS: list[BenchOp] = [
    _pointwise("sigmoid", FF.sigmoid, torch.sigmoid),
    _pointwise("tanh", FF.tanh, torch.tanh),
    _pointwise("relu", FF.relu, F.relu),
    _pointwise("leaky_relu", FF.leaky_relu, F.leaky_relu),
    _pointwise("rrelu", lambda x: FF.rrelu(x, training=True), lambda x: F.rrelu(x, training=True)),
    BenchOp("prelu", FF.prelu, F.prelu, _x_and_channels, grad_inputs=(0, 1)),
    BenchOp("prelu_one", FF.prelu, F.prelu, _x_and_one_weight, grad_inputs=(0, 1)),
    # A ResNet layer's activations, [64, 256, 56, 56]: per channel and one weight (nn.PReLU()).
    BenchOp("prelu_nchw", FF.prelu, F.prelu, _shape(64, 256, 56, 56, channels=256), grad_inputs=(0, 1),
            fixed_shape=True),
    BenchOp("prelu_nchw_one", FF.prelu, F.prelu, _shape(64, 256, 56, 56, channels=1), grad_inputs=(0, 1),
            fixed_shape=True),
    _pointwise("elu", FF.elu, F.elu),
    _pointwise("selu", FF.selu, F.selu),
    _pointwise("gelu", FF.gelu, F.gelu),
    _pointwise("gelu_tanh", lambda x: FF.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh")),
    _pointwise("quick_gelu", FF.quick_gelu, lambda x: x * torch.sigmoid(1.702 * x)),
    _pointwise("silu", FF.silu, F.silu),
    _pointwise("swish", lambda x: FF.swish(x, 1.5), lambda x: x * torch.sigmoid(1.5 * x)),
    _pointwise("mish", FF.mish, F.mish),
    _pointwise("softplus", FF.softplus, F.softplus),
    _pointwise("hardtanh", FF.hardtanh, F.hardtanh),
    _pointwise("relu6", FF.relu6, F.relu6),
    _pointwise("hardsigmoid", FF.hardsigmoid, F.hardsigmoid),
    _pointwise("hardswish", FF.hardswish, F.hardswish),
    _pointwise("celu", FF.celu, F.celu),
    _pointwise("logsigmoid", FF.logsigmoid, F.logsigmoid),
    _pointwise("softsign", FF.softsign, F.softsign),
    _pointwise("tanhshrink", FF.tanhshrink, F.tanhshrink),
    _pointwise("softshrink", FF.softshrink, F.softshrink),
    _pointwise("hardshrink", FF.hardshrink, F.hardshrink),
    _pointwise("threshold", lambda x: FF.threshold(x, 0.5, -2.0), lambda x: F.threshold(x, 0.5, -2.0)),
    _pointwise("relu_squared", FF.relu_squared, lambda x: torch.square(F.relu(x))),
    *_row_ops("softmax", FF.softmax, F.softmax),
    *_row_ops("log_softmax", FF.log_softmax, F.log_softmax),
    BenchOp("softmin", lambda x: FF.softmin(x, -1), lambda x: F.softmin(x, -1), _one_input, kind="row"),
    _glu("swiglu", FF.swiglu, F.silu),
    _glu("geglu", FF.geglu, F.gelu),
    _glu("reglu", FF.reglu, F.relu),
    _glu("relu_squared_glu", FF.relu_squared_glu, lambda x: torch.square(F.relu(x))),
    _glu("quick_gelu_glu", FF.quick_gelu_glu, lambda x: x * torch.sigmoid(1.702 * x)),
    BenchOp("glu", FF.glu, F.glu, _one_input, kind="glu"),
    BenchOp("clamped_swiglu", FF.clamped_swiglu, _clamped_swiglu_eager, _one_input, kind="glu", compile_baseline=True),
    BenchOp("swiglu_ffn", FF.swiglu_ffn, _ffn_eager, _ffn_inputs, kind="block", compile_baseline=True,
            grad_inputs=(0, 1, 2, 3)),
]  # fmt: skip


@dataclass
class Result:
    op: str
    dtype: str
    numel: int
    pass_: str
    fusedact_ms: float
    torch_ms: float
    gbps: float | None  # None for blocks, whose time is in their GEMMs
    speedup: float  # torch's time over fusedact's, paired per repeat
    compile_ms: float | None = None
    compile_speedup: float | None = None  # torch.compile's time over fusedact's, paired per repeat
    copy_fraction: float | None = None  # of the device's measured copy bandwidth (CUDA)
    extra: dict = field(default_factory=dict)

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
            d["compile_speedup"] = self.compile_speedup
        if self.copy_fraction is not None:
            d["copy_bandwidth_fraction"] = self.copy_fraction
        return {**d, **self.extra}


# ---- memory ----------------------------------------------------------------------------


def saved_tensor_bytes(fn: Callable, *args, exclude: Sequence[torch.Tensor] = ()) -> int:
    """Bytes of the distinct storages autograd saves for backward while fn(*args) runs (as
    torch.autograd.graph.saved_tensors_hooks sees them), leaving out the storages of
    `exclude` (the weights)."""
    excluded = {t.untyped_storage().data_ptr() for t in exclude}
    storages = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in excluded:
            storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(*args)
    return sum(storages.values())


# ---- timing -------------------------------------------------------------------------------


@dataclass
class Timing:
    """Seconds per call of each of several functions, one sample per repeat, the samples of one
    repeat measured back to back."""

    samples: list[list[float]]  # [function][repeat]

    def median(self, i: int) -> float:
        return statistics.median(self.samples[i])

    def ratios(self, i: int, j: int) -> list[float]:
        return [a / b for a, b in zip(self.samples[i], self.samples[j], strict=True)]

    def ratio(self, i: int, j: int) -> float:
        """How many times slower function i was than function j: the median over the repeats of
        their ratio within a repeat."""
        return statistics.median(self.ratios(i, j))

    def ratio_interval(self, i: int, j: int) -> tuple[float, float]:
        """A 95% confidence interval of ratio(i, j), from the order statistics of the ratios
        (distribution-free: the k-th smallest and largest, k = (n - 1.96 sqrt(n)) / 2)."""
        ratios = sorted(self.ratios(i, j))
        k = max(0, int((len(ratios) - 1.96 * len(ratios) ** 0.5) / 2) - 1)
        return ratios[k], ratios[-1 - k]


class Timer:
    """Seconds per call of fn(inputs) on one device, interleaved with others and repeated."""

    def __init__(self, device: str, min_seconds: float = 0.02):
        self.device = device
        self.min_seconds = min_seconds

    def calls_for(self, fn, input_sets):
        """How many calls make one measurement last min_seconds (after a warm-up)."""
        fn(input_sets[0])
        self.sync()
        n = 1
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

    def compare(self, fns, input_sets, repeats, max_repeats=None, precision=0.05) -> Timing:
        """Seconds per call of each fn, measured interleaved, in turn forward and reverse order
        (so that none always runs right after the same other one). At least `repeats` times,
        and on up to max_repeats while the 95% confidence interval of the second fn's time over
        the first's is wider than +-precision of it."""
        calls = [self.calls_for(fn, input_sets) for fn in fns]
        timing = Timing([[] for _ in fns])
        repeat = 0
        while repeat < repeats or (repeat < (max_repeats or repeats) and not self._settled(timing, precision)):
            order = range(len(fns)) if repeat % 2 == 0 else reversed(range(len(fns)))
            for i in order:
                timing.samples[i].append(self.run(fns[i], input_sets, calls[i]) / calls[i])
            repeat += 1
        return timing

    @staticmethod
    def _settled(timing: Timing, precision: float) -> bool:
        if len(timing.samples) < 2:
            return True
        low, high = timing.ratio_interval(1, 0)
        return (high - low) / 2 <= precision * timing.ratio(1, 0)


def copy_bandwidth(device: str) -> float:
    """The device's copy bandwidth in GB/s (bytes read plus bytes written), measured: 256 MiB on
    a GPU; on the CPU, with the same threads, four times the last-level cache (at least 64 MiB),
    so that the copy runs from memory."""
    nbytes = 1 << 28 if device == "cuda" else max(4 * fusedact.build_info()["cpu_cache_bytes"], 1 << 26)
    src = torch.empty(nbytes, dtype=torch.uint8, device=device).random_()
    dst = torch.empty_like(src)
    seconds = Timer(device).compare([lambda _: dst.copy_(src)], [None], repeats=5).median(0)
    return 2 * src.numel() / seconds / 1e9


# ---- one op ---------------------------------------------------------------------------------


def _leaves(op: BenchOp, inputs):
    """Fresh leaves of the inputs, the differentiated ones requiring grad."""
    return [t.detach().requires_grad_(i in op.grad_inputs) for i, t in enumerate(inputs)]


def _forward(op: BenchOp, fn):
    def call(inputs):
        with torch.no_grad():
            return fn(*inputs)

    return call


def _backward(op: BenchOp, fn):
    """fn's backward: the graph of fn(inputs) is built once per input set and retained, so only
    autograd's backward pass is timed."""
    graphs = {}

    def call(inputs):
        if id(inputs) not in graphs:
            leaves = _leaves(op, inputs)
            out = fn(*leaves)
            graphs[id(inputs)] = (out, [leaves[i] for i in op.grad_inputs], torch.randn_like(out))
        out, wrt, grad = graphs[id(inputs)]
        return torch.autograd.grad(out, wrt, grad, retain_graph=True)

    return call


def _forward_backward(op: BenchOp, fn):
    """fn and its backward, as a training step runs them."""
    prepared = {}

    def call(inputs):
        if id(inputs) not in prepared:
            leaves = _leaves(op, inputs)
            with torch.no_grad():
                grad = torch.randn_like(fn(*inputs))
            prepared[id(inputs)] = (leaves, [leaves[i] for i in op.grad_inputs], grad)
        leaves, wrt, grad = prepared[id(inputs)]
        return torch.autograd.grad(fn(*leaves), wrt, grad)

    return call


PASSES = {"forward": _forward, "backward": _backward, "forward+backward": _forward_backward}

#: bench --per-call: the fixed cost of a call, on PER_CALL_NUMEL elements with one thread,
#: where the kernel's work is small beside it: the forward without autograd, and a training
#: step (forward recording the graph, then backward).
PER_CALL_NUMEL = 1024
PER_CALL_PASSES = ("forward", "forward+backward")


def _bytes(op: BenchOp, inputs, pass_):
    """The fewest bytes a pass must move: inputs read and outputs written once; backward also
    reads grad_output and writes a gradient per differentiated input."""
    with torch.no_grad():
        out = op.fused(*inputs)
    read = sum(t.numel() * t.element_size() for t in inputs)
    forward = read + out.numel() * out.element_size()
    written = sum(inputs[i].numel() * inputs[i].element_size() for i in op.grad_inputs)
    backward = out.numel() * out.element_size() + read + written
    return {"forward": forward, "backward": backward, "forward+backward": forward + backward}[pass_]


def bench_op(
    op: BenchOp, dtype, numel, device, timer: Timer, repeats: int, copy_gbps: float | None, per_call: bool = False
):
    """The op's passes at one dtype and size: at least `repeats` measurements each, and up to
    four times as many while the speedup is not known to +-5% (95% confidence). per_call: the
    PER_CALL_PASSES, against torch eager only."""
    # Enough input sets to cycle through more memory than a GPU's L2 cache holds.
    nbytes = numel * torch.finfo(dtype).bits // 8
    sets = max(1, min(8, (256 << 20) // max(nbytes, 1))) if device == "cuda" and not op.block else 1
    input_sets = [op.inputs(numel, dtype, device, seed=s) for s in range(sets)]
    compiled = op.compile_baseline and not per_call
    fns = [op.fused, op.torch]
    if compiled:
        # A fresh cache per case: each dtype, size and grad mode is another compilation of the
        # same function, and past dynamo's recompile limit it would silently run eager.
        torch._dynamo.reset()
        fns.append(torch.compile(op.torch, dynamic=False))
    results = []
    for pass_ in PER_CALL_PASSES if per_call else op.passes:
        timing = timer.compare([PASSES[pass_](op, fn) for fn in fns], input_sets, repeats, max_repeats=4 * repeats)
        seconds = [timing.median(i) for i in range(len(fns))]
        gbps = None if op.block else _bytes(op, input_sets[0], pass_) / seconds[0] / 1e9
        results.append(
            Result(
                op.name,
                str(dtype).removeprefix("torch."),
                input_sets[0][0].numel(),
                pass_,
                seconds[0] * 1e3,
                seconds[1] * 1e3,
                gbps,
                speedup=timing.ratio(1, 0),
                compile_ms=seconds[2] * 1e3 if compiled else None,
                compile_speedup=timing.ratio(2, 0) if compiled else None,
                copy_fraction=gbps / copy_gbps if copy_gbps and gbps else None,
                extra={"repeats": len(timing.samples[0]), "speedup_ci95": list(timing.ratio_interval(1, 0))},
            )
        )
    if op.block:
        inputs = [t.detach().requires_grad_() for t in input_sets[0]]
        results[0].extra["saved_bytes"] = saved_tensor_bytes(op.fused, *inputs, exclude=inputs[1:])
        results[0].extra["torch_saved_bytes"] = saved_tensor_bytes(op.torch, *inputs, exclude=inputs[1:])
    return results


def warm_up(device: str, dtypes: Sequence[torch.dtype]):
    """Runs every op of both libraries, forward and backward, once on a small input, whatever
    the ops asked for. Some of torch's CPU kernels are far slower until others have run once
    in the process: Sleef's AVX-512 expm1 and log1p (torch's elu, selu, softplus) load a
    constant with a masked broadcast, which on AMD Zen CPUs takes a microcode assist every
    time while the page holding the constant is not mapped into the process, and only an
    ordinary read maps it (torch's mish does). Timing them from a fresh process would flatter
    fusedact."""
    for op in OPS:
        if op.block:
            continue
        for dtype in dtypes:
            inputs = op.inputs(1 << 16, dtype, device)
            for fn in (op.fused, op.torch):
                for pass_ in ("forward", "backward"):
                    PASSES[pass_](op, fn)(inputs)
    if device == "cuda":
        torch.cuda.synchronize()


# ---- the allocator ------------------------------------------------------------------------


def reuse_freed_memory() -> bool:
    """Makes glibc's malloc keep freed memory for reuse: no mmap for large blocks (M_MMAP_MAX 0),
    no trimming of the heap (M_TRIM_THRESHOLD at its largest). Otherwise every output above
    glibc's mmap threshold (at most 32 MiB) is fresh pages, and both libraries' times at 8M
    float32 elements and more are mostly the kernel zeroing them on first touch. jemalloc and
    tcmalloc, which PyTorch recommends for CPU training, reuse memory likewise. Returns whether
    it could (glibc only)."""
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # malloc.h
    return bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, 2**31 - 1))


# ---- the command ----------------------------------------------------------------------------


def _size_name(n):
    return f"{n >> 20}M" if n >= 1 << 20 else f"{n >> 10}K"


def format_table(results: list[Result]) -> str:
    copy = any(r.copy_fraction is not None for r in results)
    compiled = any(r.compile_ms is not None for r in results)
    header = ["op", "dtype", "size", "pass", "fusedact ms", "torch ms", "speedup", "GB/s"]
    header += ["compile ms", "vs compile"] if compiled else []
    header += ["% copy bw"] if copy else []
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
            "-" if r.gbps is None else f"{r.gbps:.1f}",
        ]
        if compiled:
            row += [f"{r.compile_ms:.3f}", f"{r.compile_speedup:.2f}x"] if r.compile_ms else ["", ""]
        if copy:
            row += [f"{100 * r.copy_fraction:.0f}%" if r.copy_fraction else "-"]
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


#: The size ranges the summary takes apart, so that no range hides behind another: label,
#: and the element counts it holds (lowest included, highest excluded).
SIZE_RANGES = [("<=64K", 0, (1 << 16) + 1), ("64K-1M", (1 << 16) + 1, 1 << 20), (">=1M", 1 << 20, float("inf"))]


def summarize(results: list[Result]) -> str:
    """Per kind of op, pass and size range (SIZE_RANGES): the median and lowest speedup over
    torch; and the bytes the blocks keep for backward."""
    kinds = {op.name: op.kind for op in OPS}
    lines = []
    for kind in ("pointwise", "row", "glu", "block"):
        for pass_ in PASSES:
            for label, low_numel, high_numel in SIZE_RANGES:
                cases = sorted(
                    (r.speedup, r.op, r.dtype, r.numel)
                    for r in results
                    if kinds[r.op] == kind and r.pass_ == pass_ and low_numel <= r.numel < high_numel
                )
                if cases:
                    low = cases[0]
                    lines.append(
                        f"{kind} {pass_} {label}: median speedup {statistics.median(c[0] for c in cases):.2f}x, "
                        f"lowest {low[0]:.2f}x ({low[1]} {low[2]} {_size_name(low[3])}), {len(cases)} cases"
                    )
    for pass_ in PASSES:
        cases = sorted(
            (1e3 * (r.fusedact_ms - r.torch_ms), r.op, r.dtype)
            for r in results
            if r.pass_ == pass_ and r.numel <= PER_CALL_NUMEL
        )
        if cases:
            high = cases[-1]
            lines.append(
                f"per call {pass_} at {_size_name(PER_CALL_NUMEL)}: fusedact minus torch median "
                f"{statistics.median(c[0] for c in cases):+.2f} us, largest {high[0]:+.2f} us ({high[1]} {high[2]}), "
                f"{len(cases)} cases"
            )
    for r in results:
        if "saved_bytes" in r.extra:
            ours, theirs = r.extra["saved_bytes"], r.extra["torch_saved_bytes"]
            lines.append(
                f"{r.op} {r.dtype}: keeps {ours / 2**20:.1f} MiB for backward, the eager composition "
                f"{theirs / 2**20:.1f} MiB ({100 * ours / theirs:.0f}%)"
            )
    return "\n".join(lines)


def run(
    device: str,
    ops: Sequence[str] | None,
    dtypes: Sequence[str] | None,
    sizes: Sequence[int],
    repeats: int,
    min_seconds: float,
    reuse_memory: bool = True,
    progress=sys.stderr,
    per_call: bool = False,
) -> tuple[dict, list[Result]]:
    """Benchmarks the selected ops; returns the JSON document and the results. per_call: the
    fixed cost of a call instead (PER_CALL_PASSES at PER_CALL_NUMEL elements, one thread; ops
    of a fixed shape left out)."""
    selected = [op for op in OPS if (not ops or op.name in ops) and not (per_call and (op.block or op.fixed_shape))]
    if per_call:
        sizes = [PER_CALL_NUMEL]
        torch.set_num_threads(1)
    unknown = set(ops or ()) - {op.name for op in OPS}
    if unknown:
        raise SystemExit(f"fusedact bench: unknown ops {sorted(unknown)}; known: {[op.name for op in OPS]}")
    dtype_names = dtypes or (["float32", "bfloat16"] if device == "cpu" else ["float32", "bfloat16", "float16"])
    dtype_list = [getattr(torch, name) for name in dtype_names]
    copy_gbps = copy_bandwidth(device)
    reused = reuse_freed_memory() if device == "cpu" and reuse_memory else False
    warm_up(device, dtype_list)
    timer = Timer(device, min_seconds)
    results = []
    one_shape = [op.block or op.fixed_shape for op in selected]
    cases = [(op, dt, n) for op, one in zip(selected, one_shape, strict=True) for dt in dtype_list
             for n in (sizes[:1] if one else sizes)]  # fmt: skip
    interrupted = None
    for i, (op, dtype, numel) in enumerate(cases, 1):
        line = f"\r[{i}/{len(cases)}] {op.name} {str(dtype).removeprefix('torch.')} {_size_name(numel)}"
        print(line.ljust(60), end="", file=progress, flush=True)
        try:
            results += bench_op(op, dtype, numel, device, timer, repeats, copy_gbps, per_call)
        except KeyboardInterrupt:  # Ctrl-C: report the cases measured so far
            interrupted = line.strip()
            break
    print("\r" + " " * 60 + "\r", end="", file=progress, flush=True)
    if interrupted:
        print(f"fusedact bench: interrupted at {interrupted}; the cases before it follow", file=progress)
    build = fusedact.build_info()
    info = {
        "device": torch.cuda.get_device_name() if device == "cuda" else _cpu_name(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_isa": build["cpu_isa"],
        "cpu_cache_bytes": build["cpu_cache_bytes"],
        "copy_bandwidth_gbps": copy_gbps,
        "cpu_memory_reused": reused,
        "interrupted_at": interrupted,
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
