"""The GLU ops (swiglu, geglu, reglu), driven by reference.GLU, in both forms: op(gate, up) and
op(x, dim) with the gate in x's first half. Values and both gradients against torch's
act(gate) * up (in float32 for 16-bit inputs, rounded once), for every dtype, dim and layout,
on every CPU instruction set and on CUDA; extremes; gradcheck and gradgradcheck; opcheck;
errors; modules."""

import math

import pytest
import torch

import fusedact
from reference import FLOAT_DTYPES, GLU, assert_gate_grad_close, assert_same, extreme_values, random_input

each_case = pytest.mark.parametrize("case", GLU, ids=str)


def _grads(fn, inputs, grad):
    leaves = [t.detach().clone().requires_grad_() for t in inputs]
    out = fn(*leaves)
    return (out, *torch.autograd.grad(out, leaves, grad))


def _reference_grads(case, inputs, grad, split_dim=None):
    """The reference values and gradients (GluCase.reference_pair, reference_grads), and where
    the gate's gradient has a meant sign on zero (GluCase.exact_zero_gate_grad)."""
    if split_dim is None:
        return (
            case.reference_pair(*inputs),
            *case.reference_grads(*inputs, grad),
            case.exact_zero_gate_grad(*inputs, grad),
        )
    x = inputs[0]
    gate, up = case.halves(x, split_dim)
    signed = case.join(case.exact_zero_gate_grad(gate, up, grad), torch.ones_like(up, dtype=torch.bool), split_dim)
    return case.reference_split(x, split_dim), case.join(*case.reference_grads(gate, up, grad), split_dim), signed


def _extreme_pair(dtype, device):
    """Every extreme value as the gate against every extreme value as up."""
    values = torch.tensor(extreme_values(dtype), dtype=torch.float64)
    gate, up = torch.meshgrid(values, values, indexing="ij")
    return gate.to(dtype=dtype, device=device), up.to(dtype=dtype, device=device)


@each_case
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_pair_form_matches_reference(case, dtype, target):
    pairs = [
        (random_input((33, 65), dtype, target), random_input((33, 65), dtype, target, seed=1)),
        _extreme_pair(dtype, target),
    ]
    for gate, up in pairs:
        grad = random_input(gate.shape, dtype, target, seed=2)
        out, grad_gate, grad_up = _grads(case.fused, (gate, up), grad)
        ref_out, ref_grad_gate, ref_grad_up, signed = _reference_grads(case, (gate, up), grad)
        assert_same(out, ref_out)
        assert_gate_grad_close(grad_gate, ref_grad_gate, grad.double() * up.double(), signed)
        assert_same(grad_up, ref_grad_up)


@each_case
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("dim", [-1, 0, 1])
def test_split_form_matches_reference(case, dtype, dim, target):
    x = random_input((6, 10, 8), dtype, target)
    grad_shape = list(x.shape)
    grad_shape[dim] //= 2
    grad = random_input(grad_shape, dtype, target, seed=2)
    out, grad_x = _grads(lambda t: case.fused(t, dim=dim), (x,), grad)
    ref_out, ref_grad_x, signed = _reference_grads(case, (x,), grad, split_dim=dim)
    assert_same(out, ref_out)
    assert grad_x.shape == x.shape  # one buffer holds both halves' gradients
    assert_gate_grad_close(grad_x, ref_grad_x, _gate_scale(case, grad, x, dim), signed)


def _gate_scale(case, grad, x, dim):
    """|grad * up| over the gate half of x's gradient, 1 over the up half."""
    up = case.halves(x, dim)[1]
    return case.join(grad.double() * up.double(), torch.ones_like(up, dtype=torch.float64), dim)


# layout -> the input the split form receives (split along dim 1 of a 4-D tensor)
LAYOUTS = {
    "contiguous": lambda t: t,
    "channels_last": lambda t: t.contiguous(memory_format=torch.channels_last),
    "transposed": lambda t: t.transpose(2, 3),
    "sliced": lambda t: t[:, :, ::2],
}


@each_case
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dim", [1, -1])
def test_split_form_layouts(case, layout, dim, device):
    x = LAYOUTS[layout](random_input((3, 8, 6, 4), torch.float32, device))
    actual = case.fused(x, dim=dim)
    expected = case.reference_split(x, dim)  # torch's composition, for its output layout
    assert_same(actual, expected)
    assert actual.stride() == expected.stride()
    grad = random_input(actual.shape, torch.float32, device, seed=3)
    leaf = x.detach().clone().requires_grad_()
    (g,) = torch.autograd.grad(case.fused(leaf, dim=dim), leaf, grad)
    _, ref_grad_x, signed = _reference_grads(case, (x,), grad, split_dim=dim)
    assert_gate_grad_close(g, ref_grad_x, _gate_scale(case, grad, x, dim), signed)


@each_case
def test_gradcheck_and_gradgradcheck(case, device):
    x = random_input((4, 6), torch.float64, device, seed=6, scale=2.0)
    x = torch.where(x.abs() < 0.05, x + 0.1, x).requires_grad_()  # away from kinks
    up = random_input((4, 6), torch.float64, device, seed=7).requires_grad_()
    for fn, inputs in [(case.fused, (x, up)), (lambda t: case.fused(t, dim=0), (x,)), (case.fused, (x,))]:
        assert torch.autograd.gradcheck(fn, inputs)
        assert torch.autograd.gradgradcheck(fn, inputs)


@each_case
def test_opcheck(case, device):
    ops = torch.ops.fusedact
    for requires_grad in (False, True):
        for shape, dim in [((4, 6), -1), ((2, 4, 3), 1), ((6,), 0)]:
            x = random_input(shape, torch.float32, device).requires_grad_(requires_grad)
            half = list(shape)
            half[dim] //= 2
            gate = random_input(half, torch.float32, device, seed=1).requires_grad_(requires_grad)
            up = random_input(half, torch.float32, device, seed=2).requires_grad_(requires_grad)
            grad = random_input(half, torch.float32, device, seed=3)
            torch.library.opcheck(getattr(ops, case.op).default, (gate, up), case.kwargs)
            torch.library.opcheck(getattr(ops, f"{case.op}_backward").default, (grad, gate, up), case.kwargs)
            torch.library.opcheck(getattr(ops, f"{case.op}_split").default, (x, dim), case.kwargs)
            torch.library.opcheck(getattr(ops, f"{case.op}_split_backward").default, (grad, x, dim), case.kwargs)


@each_case
def test_clear_errors(case):
    op = case.op
    with pytest.raises(RuntimeError, match=rf"fusedact\.{op}_split: dim -1 has odd size 7; the split form"):
        case.fused(torch.randn(3, 7))
    with pytest.raises(RuntimeError, match=rf"fusedact\.{op}_split: the split form needs an input with a dim"):
        case.fused(torch.tensor(1.0))
    with pytest.raises(IndexError, match="Dimension out of range"):
        case.fused(torch.randn(3, 8), dim=2)
    with pytest.raises(RuntimeError, match=rf"fusedact\.{op}: gate has shape \[3, 4\] but up has shape \[3, 5\]"):
        case.fused(torch.randn(3, 4), torch.randn(3, 5))
    with pytest.raises(RuntimeError, match=rf"fusedact\.{op}: gate is Float but up is Double"):
        case.fused(torch.randn(3, 4), torch.randn(3, 4, dtype=torch.float64))
    with pytest.raises(RuntimeError, match=rf"fusedact\.{op}: gate is on cpu but up is on meta"):
        case.fused(torch.randn(3, 4), torch.randn(3, 4, device="meta"))
    with pytest.raises(RuntimeError, match=rf"fusedact\.{op}_split: expected input to be a floating-point tensor"):
        case.fused(torch.arange(8))


def test_nn_modules():
    x = random_input((5, 8), torch.float32, "cpu")
    gate, up = x.chunk(2, -1)
    for module, case in [
        (fusedact.nn.SwiGLU(), GLU[0]),
        (fusedact.nn.GEGLU(approximate="tanh"), GLU[2]),
        (fusedact.nn.ReGLU(), GLU[3]),
        (fusedact.nn.ReLUSquaredGLU(), GLU[4]),
        (fusedact.nn.QuickGELUGLU(), GLU[5]),
    ]:
        assert_same(module(x), case.reference_split(x), rtol=1e-5, atol=1e-5)
        assert_same(module(gate, up), module(x))
    assert repr(fusedact.nn.SwiGLU(dim=1)) == "SwiGLU(dim=1)"
    assert repr(fusedact.nn.GEGLU(approximate="tanh")) == "GEGLU(dim=-1, approximate='tanh')"


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("dim", [-1, 0, 1])
def test_glu_is_torch_glu(dtype, dim, target):
    """fusedact.glu and nn.GLU against torch's own glu (its gate the second half), values and
    gradient (for 16-bit inputs torch's in float32, rounded once), and the module's repr."""
    x = random_input((6, 10, 8), dtype, target)
    grad_shape = list(x.shape)
    grad_shape[dim] //= 2
    grad = random_input(grad_shape, dtype, target, seed=2)
    out, grad_x = _grads(lambda t: fusedact.functional.glu(t, dim), (x,), grad)
    compute = torch.float64 if dtype == torch.float64 else torch.float32
    ref_out, ref_grad_x = _grads(lambda t: torch.nn.functional.glu(t, dim), (x.to(compute),), grad.to(compute))
    assert_same(out, ref_out.to(dtype))
    assert_same(grad_x, ref_grad_x.to(dtype))
    module, reference = fusedact.nn.GLU(dim), torch.nn.GLU(dim)
    assert isinstance(module, torch.nn.GLU) and repr(module) == repr(reference)
    assert_same(module(x), out)


def test_torch_compile_fullgraph():
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), fusedact.nn.SwiGLU(), torch.nn.Linear(8, 4))
    x = random_input((3, 8), torch.float32, "cpu")
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    assert_same(compiled(x), model(x), rtol=1e-5, atol=1e-5)
    compiled(x).sum().backward()
    assert all(p.grad is not None and math.isfinite(p.grad.sum().item()) for p in model.parameters())
