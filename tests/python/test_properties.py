"""Property-based tests (hypothesis): random shapes of 0 to 5 dims, layouts (transposed,
stepped, expanded, offset), dtypes and values mixed with extremes, for every operator
forward and backward against torch; and the same bits from every SIMD instruction set and
thread count. The default profile (conftest.py) runs a fixed number of examples from a fixed
seed; a long run: pytest tests/python/test_properties.py --hypothesis-profile=long."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import fusedact
from reference import (
    FLOAT_DTYPES,
    GLU,
    POINTWISE,
    SOFTMAX_OPS,
    assert_gate_grad_close,
    assert_same,
    extreme_values,
    grad_of,
    softmax_reference,
    torch_softmax_backward,
)

LAYOUTS = ["contiguous", "transposed", "stepped", "expanded", "offset"]
SIMD_ISAS = [isa for isa in fusedact.build_info()["cpu_isas"] if isa != "default"]


@st.composite
def tensors(draw, shape=None, dtype=None, min_dims=0):
    """A tensor of a drawn shape, dtype and layout, N(0, 3^2) values with extremes mixed in."""
    dtype = dtype or draw(st.sampled_from(FLOAT_DTYPES))
    if shape is None:
        shape = st.lists(st.integers(0, 5), min_size=min_dims, max_size=5)
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    shape = list(shape)
    layout = draw(st.sampled_from(LAYOUTS))
    seed = draw(st.integers(0, 2**31 - 1))
    extremes = draw(st.floats(0, 0.5))

    def values(n):
        g = torch.Generator().manual_seed(seed)
        v = torch.randn(n, generator=g, dtype=torch.float64) * 3
        special = torch.tensor(extreme_values(dtype), dtype=torch.float64)
        pick = torch.randint(len(special), (n,), generator=g)
        return torch.where(torch.rand(n, generator=g, dtype=torch.float64) < extremes, special[pick], v)

    numel = math.prod(shape)
    if layout == "transposed" and len(shape) >= 2:
        x = values(numel).reshape(shape[::-1]).permute(*reversed(range(len(shape))))
    elif layout == "stepped" and shape:
        x = values(numel * 2).reshape(*shape[:-1], shape[-1] * 2)[..., ::2]
    elif layout == "expanded" and shape:
        small = [1 if draw(st.booleans()) else s for s in shape]
        x = values(math.prod(small)).reshape(small).expand(shape)
    elif layout == "offset":
        x = values(numel + 3)[3:].reshape(shape)
    else:
        x = values(numel).reshape(shape)
    return x.to(dtype)  # keeps the layout (to() preserves strides where it can)


def _grad(x, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(x.shape, generator=g, dtype=torch.float64)).to(x.dtype)


# ---- against torch ---------------------------------------------------------------------------


@given(case=st.sampled_from(POINTWISE), x=tensors())
def test_pointwise_forward_and_backward_match_torch(case, x):
    assert_same(case.fused(x), case.reference(x))
    grad = _grad(x)
    assert_same(grad_of(case.fused, x, grad), case.reference_grad(x, grad))


@given(data=st.data(), case=st.sampled_from(GLU))
def test_glu_pair_and_split_match_torch(data, case):
    gate = data.draw(tensors(), label="gate")
    up = data.draw(tensors(shape=gate.shape, dtype=gate.dtype), label="up")
    grad = _grad(gate)
    leaves = [gate.clone().requires_grad_(), up.clone().requires_grad_()]
    out = case.fused(*leaves)
    grad_gate, grad_up = torch.autograd.grad(out, leaves, grad)
    expected_grad_gate, expected_grad_up = case.reference_grads(gate, up, grad)
    slope = case.gate_slope(gate)
    # gelu's left tail in float32 is accurate to 3e-8 (fusedact's; torch's to 4e-7), the tanh
    # form's to about 1e-5 (x (1 + tanh(u)) / 2 with tanh(u) near -1 cancels, in torch's kernels
    # and fusedact's alike): where the activation and its derivative are below that, either may
    # be 0 or a few ulp, and a product with an infinite or a zero up NaN, an infinity or a zero
    # of either sign. Not compared there.
    tail = torch.zeros_like(gate, dtype=torch.bool)
    noise = {"gelu": 3e-8, "gelu_tanh": 1e-5}.get(case.act)
    if noise is not None:
        value = case.act_case().torch(gate.double())
        tail = (gate < 0) & (value.abs() < noise) & (slope.abs() < noise) & ((up == 0) | up.isinf())
    expected_out = torch.where(tail, out.detach(), case.reference_pair(gate, up))
    assert_gate_grad_close(out, expected_out, up)
    assert_same(grad_up, expected_grad_up)
    # Where the gate's gradient is a zero in float64 too, its sign is meant: float64's sign,
    # which torch's float32 gelu backward loses below about -6 (it cancels to +0.0).
    # Not where the activation's derivative underflows in gate's dtype: there the sign is lost.
    exact = case.reference_grads(gate.double(), up.double(), grad.double())[0]
    kept = (slope == 0) | (slope.to(gate.dtype) != 0)
    signed = (exact == 0) & (expected_grad_gate == 0) & kept & ~tail
    expected_grad_gate = torch.where(signed, exact.to(gate.dtype), expected_grad_gate)
    if case.act == "gelu":
        # In the left tail the same cancellation leaves torch 0 for a derivative of -1e-6 to
        # -1e-10: times an infinite up, NaN where float64 (and fusedact) have an infinity.
        cancelled = expected_grad_gate.isnan() & ~exact.isnan() & (gate < 0) & (slope.to(gate.dtype) != 0)
        expected_grad_gate = torch.where(cancelled, exact.to(gate.dtype), expected_grad_gate)
    expected_grad_gate = torch.where(tail, grad_gate.detach(), expected_grad_gate)
    assert_gate_grad_close(grad_gate, expected_grad_gate, grad.double() * up.double(), signed)

    if gate.dim() > 0:
        dim = data.draw(st.integers(-gate.dim(), gate.dim() - 1), label="dim")
        x = torch.cat([gate, up], dim)
        split = case.fused(x, dim=dim)
        assert_gate_grad_close(split, torch.where(tail, split, case.reference_split(x, dim)), up)


@given(data=st.data(), name=st.sampled_from(SOFTMAX_OPS))
def test_softmax_forward_and_backward_match_torch(data, name):
    x = data.draw(tensors(), label="x")
    dim = data.draw(st.integers(-max(x.dim(), 1), max(x.dim(), 1) - 1), label="dim")
    y = getattr(fusedact.functional, name)(x, dim)
    assert_same(y, softmax_reference(name, x, dim))
    grad = _grad(x)
    expected = torch_softmax_backward(name, grad, y, dim)
    assert_same(getattr(torch.ops.fusedact, f"{name}_backward")(grad, y, dim), expected)


# ---- the same bits everywhere ---------------------------------------------------------------


def _bits(t):
    """t's bits, NaNs made one NaN, for comparisons that see the sign of zero."""
    t = torch.where(t.isnan(), torch.full_like(t, math.nan), t)
    return t.contiguous().view({2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()])


def _runs(fn, x, grad):
    """fn's output and input gradient with every SIMD instruction set and 1 and 2 threads."""
    before_isa, before_threads = fusedact.build_info()["cpu_isa"], torch.get_num_threads()
    results = []
    try:
        for isa in SIMD_ISAS:
            fusedact.set_cpu_isa(isa)
            for threads in (1, 2):
                torch.set_num_threads(threads)
                leaf = x.clone().requires_grad_()
                out = fn(leaf)
                (g,) = torch.autograd.grad(out, leaf, grad)
                results.append((f"{isa}, {threads} threads", _bits(out.detach()), _bits(g)))
    finally:
        fusedact.set_cpu_isa(before_isa)
        torch.set_num_threads(before_threads)
    return results


def _ops():
    ops = [(case.id, lambda t, c=case: c.fused(t)) for case in POINTWISE]
    ops += [(case.id, lambda t, c=case: c.fused(t, dim=-1)) for case in GLU]
    ops += [(name, lambda t, n=name: getattr(fusedact.functional, n)(t, -1)) for name in SOFTMAX_OPS]
    return ops


@pytest.mark.skipif(not SIMD_ISAS, reason="no SIMD instruction set on this CPU")
@given(
    op=st.sampled_from(_ops()),
    x=tensors(shape=st.tuples(st.integers(1, 300), st.sampled_from([2, 64, 250]))),
)
def test_same_bits_on_every_instruction_set_and_thread_count(op, x):
    name, fn = op
    grad = _grad(fn(x))
    runs = _runs(fn, x, grad)
    for setting, out, g in runs[1:]:
        assert torch.equal(out, runs[0][1]), f"{name}: output differs with {setting} from {runs[0][0]}"
        assert torch.equal(g, runs[0][2]), f"{name}: gradient differs with {setting} from {runs[0][0]}"
