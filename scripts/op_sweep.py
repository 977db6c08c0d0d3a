"""Calls every fusedact op forward and backward on the shapes and layouts that reach each kernel
path: odd sizes (a vector's tail, a block's tail), views that start one element past an
aligned address, the split GLU form along the last and a middle dim, softmax rows of 1 to
128256 along the last dim and short rows along dim 0, channel-parameter ops with one and with
many channels; rrelu's random slopes on the same sizes. Results are compared with torch
(reference.py's tables, its tolerances), so a kernel that reads or writes out of bounds shows
up as a wrong value or, under compute-sanitizer (scripts/gpu_check.sh runs it with memcheck
and racecheck), as a report.

    python scripts/op_sweep.py [--device cuda|cpu] [--quick]

On the CPU it is a smoke test of the script (use --quick): torch's CPU kernels have artifacts in
the float32 tails of gelu_tanh and in 16-bit dtypes, which the test suite lists case by case.

Prints each mismatch and goes on (so that every kernel runs under the sanitizer); exits
non-zero if there was one.
"""

import argparse
import contextlib
import itertools
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "python"))

import fusedact  # noqa: E402
import fusedact.functional as FF  # noqa: E402
from reference import (  # noqa: E402
    GLU,
    POINTWISE,
    SOFTMAX_OPS,
    assert_gate_grad_close,
    assert_same,
    grad_of,
    random_input,
    softmax_grad_reference,
    softmax_reference,
)

FAILURES = []


@contextlib.contextmanager
def check(label):
    """Records a mismatch and goes on, so that every kernel still runs (under a sanitizer)."""
    try:
        yield
    except AssertionError as error:
        FAILURES.append(label)
        print(f"MISMATCH {label}: {str(error).strip().splitlines()[0]}")


DTYPES = [torch.float32, torch.bfloat16, torch.float16, torch.float64]
# torch's CPU kernels have 16-bit artifacts that the test suite lists (reference.py); on the CPU
# this sweep is a smoke test of itself and runs the wide dtypes only.
CPU_DTYPES = [torch.float32, torch.float64]


def _misaligned(shape, dtype, device):
    """A tensor of `shape` whose data starts one element past the start of its storage."""
    numel = 1
    for size in shape:
        numel *= size
    return random_input((numel + 1,), dtype, device)[1:].view(shape)


def _inputs(dtype, device, quick):
    sizes = [1, 7, 33, 1000, 4099] + ([] if quick else [1 << 20 | 3])
    for n in sizes:
        yield f"n={n}", random_input((n,), dtype, device)
        yield f"n={n} misaligned", _misaligned((n,), dtype, device)
    yield "[37, 53] transposed", random_input((53, 37), dtype, device).t()
    yield "[4, 6, 9] stepped", random_input((4, 6, 18), dtype, device)[..., ::2]


def sweep_pointwise(device, quick):
    count = 0
    for case in POINTWISE:
        for dtype in DTYPES if device == "cuda" else CPU_DTYPES:
            for label, x in _inputs(dtype, device, quick):
                if case.param is not None and x.dim() < 2:
                    x = x.reshape(1, -1) if x.numel() > 1 else x
                grad = random_input(x.shape, dtype, device, seed=1)
                with check(f"{case} {dtype} {label}"):
                    assert_same(case.fused(x), case.reference(x))
                    assert_same(grad_of(case.fused, x, grad), case.reference_grad(x, grad))
                count += 1
    return count


def sweep_rrelu(device, quick):
    """rrelu in training (the random-slope kernel): forward and backward apply the slopes that
    -rrelu(-1) shows for the same seed, and (on CUDA) the CPU's."""
    count = 0
    seed = torch.tensor(2024, device=device)
    for dtype in DTYPES if device == "cuda" else CPU_DTYPES:
        opmath = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
        for label, x in _inputs(dtype, device, quick):
            grad = random_input(x.shape, dtype, device, seed=1)
            with check(f"rrelu training {dtype} {label}"):
                slopes = -torch.ops.fusedact.rrelu(-torch.ones(x.shape, dtype=opmath, device=device), seed, 0.1, 0.3)
                xo = x.to(opmath)
                out = torch.ops.fusedact.rrelu(x, seed, 0.1, 0.3)
                assert_same(out, torch.where(xo <= 0, xo * slopes, xo).to(dtype), rtol=0, atol=0)
                got = torch.ops.fusedact.rrelu_backward(grad, out, seed, 0.1, 0.3)
                assert_same(got, torch.where(xo <= 0, grad.to(opmath) * slopes, grad.to(opmath)).to(dtype))
                if device == "cuda":
                    cpu_seed = seed.cpu()
                    assert_same(out.cpu(), torch.ops.fusedact.rrelu(x.cpu(), cpu_seed, 0.1, 0.3), rtol=0, atol=0)
            count += 1
    return count


def sweep_glu(device, quick):
    count = 0
    rows = [1, 3, 257] if quick else [1, 3, 257, 4097]
    for case in GLU:
        for dtype in DTYPES if device == "cuda" else CPU_DTYPES:
            for tokens in rows:
                for hidden in (1, 7, 64, 1001):
                    x = random_input((tokens, 2 * hidden), dtype, device)
                    for label, view in (("split", x), ("split misaligned", _misaligned(x.shape, dtype, device))):
                        gate, up = case.halves(view)  # torch's glu gates with the second half
                        with check(f"{case} {dtype} [{tokens}, {2 * hidden}] {label}"):
                            assert_gate_grad_close(case.fused(view, dim=-1), case.reference_split(view), up)
                            grad = random_input(gate.shape, dtype, device, seed=2)
                            leaf = view.detach().clone().requires_grad_()
                            (got,) = torch.autograd.grad(case.fused(leaf, dim=-1), leaf, grad)
                            expected_gate, expected_up = case.reference_grads(gate, up, grad)
                            got_gate, got_up = case.halves(got)
                            assert_same(got_up, expected_up)
                            signed = case.exact_zero_gate_grad(gate, up, grad)
                            scale = grad.double() * up.double()
                            assert_gate_grad_close(got_gate, expected_gate, scale, signed)
                        count += 1
                # the split along a middle dim and the pair form
                x = random_input((3, 2 * tokens, 5), dtype, device)
                gate, up = case.halves(x, 1)
                with check(f"{case} {dtype} [3, {2 * tokens}, 5] dim=1 and pair"):
                    assert_gate_grad_close(case.fused(x, dim=1), case.reference_split(x, 1), up)
                    assert_gate_grad_close(case.fused(gate, up), case.reference_pair(gate, up), up)
                count += 2
    return count


def sweep_softmax(device, quick):
    count = 0
    lengths = [1, 8, 33, 1024, 1025, 32768, 128256]
    for name in SOFTMAX_OPS:
        fused = getattr(FF, name)
        for dtype in DTYPES if device == "cuda" else CPU_DTYPES:
            shapes = [((max(1, 4096 // n), n), -1) for n in lengths] + [((32768, 8), 0), ((5, 7, 3), 1)]
            for shape, dim in shapes:
                for x in (random_input(shape, dtype, device), _misaligned(shape, dtype, device)):
                    with check(f"{name} {dtype} {list(shape)} dim={dim}"):
                        # Against float64: torch's float32 CPU kernel along a non-last dim sums a
                        # long column in float, 3.6e-5 off for 32768 rows (fusedact: 5e-6).
                        y = fused(x, dim)
                        assert_same(y, softmax_reference(name, x.double(), dim).to(dtype))
                        # The gradient: torch's backward of the same output, in float64.
                        grad = random_input(shape, dtype, device, seed=3)
                        got = grad_of(lambda t, dim=dim, fused=fused: fused(t, dim), x, grad)
                        expected, tolerances = softmax_grad_reference(name, grad, y, dim)
                        assert_same(got, expected, **tolerances)
                    count += 1
    return count


FFN_ACTIVATIONS = {
    "silu": torch.nn.functional.silu,
    "gelu": torch.nn.functional.gelu,
    "gelu_tanh": lambda t: torch.nn.functional.gelu(t, approximate="tanh"),
    "relu": torch.nn.functional.relu,
    "quick_gelu": lambda t: t * torch.sigmoid(1.702 * t),
}


def sweep_gated_ffn(device, quick):
    count = 0
    for dtype, (tokens, dim, hidden), activation in itertools.product(
        (torch.float32, torch.bfloat16), ((1, 8, 8), (37, 64, 176), (128, 256, 688)), FFN_ACTIVATIONS
    ):
        if quick and activation != "silu" and tokens != 37:
            continue
        x = random_input((tokens, dim), dtype, device, scale=1.0)
        w = [
            random_input(shape, dtype, device, seed=s, scale=0.05)
            for s, shape in enumerate([(hidden, dim), (hidden, dim), (dim, hidden)])
        ]
        leaves = [t.detach().clone().requires_grad_() for t in (x, *w)]
        out = FF.gated_ffn(*leaves, activation=activation)
        out.sum().backward()
        ref_leaves = [t.detach().float().requires_grad_() for t in (x, *w)]
        gate, up = ref_leaves[0] @ ref_leaves[1].T, ref_leaves[0] @ ref_leaves[2].T
        ref = (FFN_ACTIVATIONS[activation](gate) * up) @ ref_leaves[3].T
        ref.sum().backward()
        # Normwise: bfloat16 GEMMs round their products, and a weight's gradient sums over tokens.
        bound = 1e-2 if dtype == torch.bfloat16 else 1e-5
        for name, got, want in [("out", out, ref)] + [
            (f"grad {k}", a.grad, b.grad) for k, (a, b) in enumerate(zip(leaves, ref_leaves, strict=True))
        ]:
            with check(f"gated_ffn {activation} {dtype} [{tokens}, {dim}, {hidden}] {name}"):
                error = (got.float() - want).norm() / want.norm().clamp(min=1e-30)
                assert error < bound, f"normwise error {error:.2g}"
        count += 1
    return count


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="fewer and smaller shapes")
    args = parser.parse_args()
    print(f"fusedact {fusedact.__version__} on {args.device}")
    for name, sweep in (
        ("pointwise", sweep_pointwise),
        ("rrelu", sweep_rrelu),
        ("glu", sweep_glu),
        ("softmax", sweep_softmax),
        ("gated_ffn", sweep_gated_ffn),
    ):
        count = sweep(args.device, args.quick)
        if args.device == "cuda":
            torch.cuda.synchronize()
        print(f"{name}: {count} cases")
    print(f"{len(FAILURES)} mismatches" if FAILURES else "every case matches torch")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
