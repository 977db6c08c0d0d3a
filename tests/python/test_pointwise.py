"""The pointwise operators against torch.nn.functional, driven by reference.POINTWISE:
values and gradients on random and extreme inputs for every dtype, on every CPU instruction
set and on CUDA; layouts; in-place forms; determinism, and the same bits from every SIMD
instruction set; gradcheck and gradgradcheck; errors."""

import inspect
import math
import re

import pytest
import torch
import torch.nn.functional as F

import fusedact
import fusedact.functional
from reference import (
    FLOAT_DTYPES,
    POINTWISE,
    assert_same,
    extreme_input,
    grad_of,
    random_input,
)

each_case = pytest.mark.parametrize("case", POINTWISE, ids=str)
each_inplace_case = pytest.mark.parametrize("case", [c for c in POINTWISE if c.inplace], ids=str)


@each_case
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_forward_matches_torch(case, dtype, target):
    x = random_input((33, 65), dtype, target)
    assert_same(case.fused(x), case.reference(x))
    x = extreme_input(dtype, target)
    assert_same(case.fused(x), case.reference(x))


@each_case
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_backward_matches_torch(case, dtype, target):
    for x in (random_input((33, 65), dtype, target), extreme_input(dtype, target)):
        grad = random_input(x.shape, dtype, target, seed=1)
        assert_same(grad_of(case.fused, x, grad), case.reference_grad(x, grad))


@each_case
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_every_tail_length(case, dtype, target):
    """Lengths 1-70: a partial vector of every length (half a vector among them, which 16-bit
    types load on their own path) for every vector width."""
    for length in range(1, 71):
        x = random_input((length,), dtype, target, seed=length)
        grad = random_input(x.shape, dtype, target, seed=length + 100)
        assert_same(case.fused(x), case.reference(x))
        assert_same(grad_of(case.fused, x, grad), case.reference_grad(x, grad))


# layout -> (shape of a fresh base tensor, the view of it the op receives)
LAYOUTS = {
    "contiguous": ((4, 6, 5, 7), lambda t: t),
    "transposed": ((4, 6, 5, 7), lambda t: t.transpose(1, 3)),
    "channels_last": ((4, 6, 5, 7), lambda t: t.contiguous(memory_format=torch.channels_last)),
    "sliced": ((4, 6, 5, 7), lambda t: t[:, ::2, 1:, :]),
    "expanded": ((1, 6, 1, 7), lambda t: t.expand(4, 6, 5, 7)),
    "zero_dim": ((4, 6), lambda t: t[1, 2]),
    "empty": ((4, 0, 3), lambda t: t),
    "one_element": ((1, 1), lambda t: t),
    "odd_1d": ((1023,), lambda t: t),
}


KEEPS_LAYOUT_WHERE_TORCH_DOES_NOT = {"logsigmoid"}


@each_case
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_layouts_values_and_strides(case, layout, device):
    shape, view = LAYOUTS[layout]
    base = random_input(shape, torch.float32, device, seed=2)
    x = view(base)
    actual, expected = case.fused(x), case.reference(x)
    assert_same(actual, expected)
    # torch's logsigmoid alone returns a contiguous result whatever the input's layout; fusedact's
    # keeps the input's memory format, as torch's other element-wise ops do (empty_like).
    layout_of = torch.empty_like(x) if case.op in KEEPS_LAYOUT_WHERE_TORCH_DOES_NOT else expected
    assert actual.stride() == layout_of.stride(), "output memory format differs from torch's"

    # Gradients, with grad_output in yet another layout (reversed strides).
    reverse = tuple(reversed(range(x.dim())))
    grad = random_input(tuple(reversed(x.shape)), torch.float32, device, seed=5).permute(reverse)
    leaf, ref_leaf = base.clone().requires_grad_(), base.clone().requires_grad_()
    (g,) = torch.autograd.grad(case.fused(view(leaf)), leaf, grad)
    (g_ref,) = torch.autograd.grad(case.reference(view(ref_leaf)), ref_leaf, grad)
    assert_same(g, g_ref)


@each_case
def test_deterministic_across_runs_and_threads(case):
    x = random_input((1 << 17) + 7, torch.float32, "cpu")  # above the grain size: threads split it
    grad = random_input(x.shape, torch.float32, "cpu", seed=1)
    threads = torch.get_num_threads()
    outputs = []
    try:
        for n in (1, 2, 3, 1):
            torch.set_num_threads(n)
            leaf = x.clone().requires_grad_()
            y = case.fused(leaf)
            (g,) = torch.autograd.grad(y, leaf, grad)
            outputs.append((y.detach(), g))
    finally:
        torch.set_num_threads(threads)
    for y, g in outputs[1:]:
        assert torch.equal(y, outputs[0][0]) and torch.equal(g, outputs[0][1])


# The instruction sets with fused multiply-add run the same formulas lane for lane; the portable
# one rounds a*b+c twice and calls the scalar libm, so it only matches torch within tolerance.
FMA_ISAS = [isa for isa in fusedact.build_info()["cpu_isas"] if isa != "default"]


@each_case
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.skipif(len(FMA_ISAS) < 2, reason="fewer than two SIMD instruction sets on this CPU")
def test_identical_across_simd_instruction_sets(case, dtype):
    x = torch.cat([random_input((4099,), dtype, "cpu"), extreme_input(dtype, "cpu").flatten()])
    grad = random_input(x.shape, dtype, "cpu", seed=1)
    before = fusedact.build_info()["cpu_isa"]
    results = {}
    try:
        for isa in FMA_ISAS:
            fusedact.set_cpu_isa(isa)
            leaf = x.clone().requires_grad_()
            y = case.fused(leaf)
            results[isa] = (y.detach(), *torch.autograd.grad(y, leaf, grad))
    finally:
        fusedact.set_cpu_isa(before)
    first = results[FMA_ISAS[0]]
    for isa in FMA_ISAS[1:]:
        for actual, expected in zip(results[isa], first, strict=True):
            torch.testing.assert_close(actual, expected, rtol=0, atol=0, equal_nan=True, msg=f"{isa} vs {FMA_ISAS[0]}")


@each_case
def test_gradcheck_and_gradgradcheck(case, device):
    x = random_input((7, 5), torch.float64, device, seed=6, scale=2.0)
    x = torch.where(x.abs() < 0.05, x + 0.1, x).requires_grad_()  # away from kinks
    assert torch.autograd.gradcheck(case.fused, (x,))
    assert torch.autograd.gradgradcheck(case.fused, (x,))
    # The gradient is itself differentiable wherever torch's is (zero for piecewise-linear ops).
    (g,) = torch.autograd.grad(case.fused(x).sum(), x, create_graph=True)
    (g_ref,) = torch.autograd.grad(case.torch(x).sum(), x, create_graph=True)
    assert g.requires_grad == g_ref.requires_grad


@each_inplace_case
def test_inplace(case, device):
    x = random_input((9, 11), torch.float32, device)

    y = x.clone()
    version = y._version
    out = case.fused(y, inplace=True)
    assert out is y and y._version > version
    assert_same(y, case.reference(x))

    # Through autograd on a non-leaf, as torch allows; gradients match torch's.
    leaf, ref_leaf = x.clone().requires_grad_(), x.clone().requires_grad_()
    grad = random_input(x.shape, torch.float32, device, seed=1)
    (g,) = torch.autograd.grad(case.fused(leaf * 1, inplace=True), leaf, grad)
    (g_ref,) = torch.autograd.grad(case.reference(ref_leaf * 1, inplace=True), ref_leaf, grad)
    assert_same(g, g_ref)

    # Double backward through the in-place form.
    x64 = random_input((5, 4), torch.float64, device, seed=6).requires_grad_()
    assert torch.autograd.gradgradcheck(lambda t: case.fused(t * 1, inplace=True), (x64,))

    # The errors torch raises.
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        case.fused(x.clone().requires_grad_(), inplace=True)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        case.fused(x[:1].expand(4, 11), inplace=True)


NO_DOUBLE_BACKWARD_IN_TORCH = {"hardsigmoid"}


@each_inplace_case
@pytest.mark.parametrize(
    "view", [lambda t: t[1], lambda t: t[:, 2:], lambda t: t.t()[::2]], ids=["row", "block", "step"]
)
def test_inplace_on_a_view_keeps_the_gradient_of_the_rest_of_its_base(case, view, device):
    x = random_input((3, 4), torch.float64, device)
    grad = random_input((3, 4), torch.float64, device, seed=1)
    grads = []
    for fn in (case.fused, case.reference):
        leaf = x.clone().requires_grad_()
        base = leaf * 2
        fn(view(base), inplace=True)
        # torch's hardsigmoid has no double backward: its second derivative, 0 (it is piecewise
        # linear), is what the zeros below stand for.
        double = fn is case.fused or case.op not in NO_DOUBLE_BACKWARD_IN_TORCH
        (g,) = torch.autograd.grad(base, leaf, grad, create_graph=double)
        (gg,) = torch.autograd.grad(g, leaf, grad) if g.requires_grad else (torch.zeros_like(x),)
        grads.append((g.detach(), gg))
    (g, gg), (g_ref, gg_ref) = grads
    assert_same(g, g_ref)
    assert_same(gg, gg_ref, signed_zeros=torch.zeros_like(x, dtype=torch.bool))  # zeros of either sign


@each_inplace_case
def test_inplace_under_inference_mode_as_torch(case):
    # On a normal tensor in inference mode the version counter moves, so a tensor saved for
    # backward and then changed is caught, as torch catches it.
    leaf = random_input((4, 5), torch.float32, "cpu").requires_grad_()
    y = leaf * 1
    saved_by_mul = y * y
    version = y._version
    with torch.inference_mode():
        case.fused(y, inplace=True)
    assert y._version > version
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        saved_by_mul.sum().backward()

    # An inference tensor: modified in inference mode; outside it, refused before any change.
    with torch.inference_mode():
        t = random_input((4, 5), torch.float32, "cpu")
        expected = case.reference(t.clone())
        case.fused(t, inplace=True)
        assert_same(t, expected)
    before = t.clone()
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor outside InferenceMode"):
        case.fused(t, inplace=True)
    assert torch.equal(t, before)


BAD_DTYPE_INPUTS = [
    torch.arange(6),
    torch.ones(3, dtype=torch.bool),
    torch.ones(3, dtype=torch.complex64),
    torch.ones(3).to(torch.float8_e4m3fn),  # floating, but no kernel is built for it
    torch.ones(3).to(torch.float8_e5m2),
]

# The ops whose torch twins also take integer (and bool) tensors: test_integer_input_as_torch.
TAKES_INTEGERS = {"relu", "relu6", "hardtanh", "threshold"}


@pytest.mark.parametrize("bad", BAD_DTYPE_INPUTS, ids=lambda t: str(t.dtype))
@each_case
def test_non_floating_input_is_a_clear_error(case, bad):
    if case.op in TAKES_INTEGERS and not bad.is_floating_point() and not bad.is_complex():
        return  # torch's answer, checked by test_integer_input_as_torch
    with pytest.raises(RuntimeError, match=rf"fusedact\.{case.name}: expected input to be a floating-point tensor"):
        case.fused(bad)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool], ids=str)
@pytest.mark.parametrize("case", [c for c in POINTWISE if c.op in TAKES_INTEGERS], ids=str)
def test_integer_input_as_torch(case, dtype, device):
    """torch's result, dtype and errors (a bool input; limits an unsigned type cannot hold),
    out of place, in place and on the meta device (torch.compile's tracing)."""
    x = torch.arange(-9, 10, device=device).to(dtype)
    try:
        expected = getattr(F, case.op)(x, **case.kwargs)
    except RuntimeError as error:
        with pytest.raises(RuntimeError, match=re.escape(str(error).splitlines()[0])):
            case.fused(x)
        return
    actual = case.fused(x)
    assert actual.dtype == dtype and torch.equal(actual, expected)
    if case.inplace:
        y = x.clone()
        assert case.fused(y, inplace=True) is y and torch.equal(y, expected)
    assert case.fused(x.to("meta")).dtype == dtype


@each_case
def test_backward_op_checks_its_arguments(case):
    op = case.backward_op()
    with pytest.raises(RuntimeError, match=rf"fusedact\.{case.name}_backward: grad_output has shape \[3\] but"):
        op(torch.ones(3), torch.ones(4), *case.args(torch.ones(4)), **case.kwargs)
    with pytest.raises(RuntimeError, match=rf"fusedact\.{case.name}_backward: grad_output is Double"):
        op(torch.ones(3, dtype=torch.float64), torch.ones(3), *case.args(torch.ones(3)), **case.kwargs)


@each_case
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU here")
@pytest.mark.xdist_group("past_2_31")  # one at a time under pytest-xdist (--dist loadgroup): ~13 GB each
def test_cuda_misaligned_and_huge(case):
    base = random_input(1 << 12, torch.float16, "cuda")
    for offset in (1, 3, 7):  # pointers off the 16-byte grid take the scalar path
        x = base[offset:]
        assert_same(case.fused(x), case.reference(x))
    # More than 2^31 elements: 64-bit indexing in the contiguous kernel, 32-bit splits in the strided one.
    n = (1 << 31) + 129
    x = torch.empty(n, dtype=torch.bfloat16, device="cuda").uniform_(-4, 4)
    y = case.fused(x)
    tail = slice(n - 4096, n)
    assert_same(y[tail], case.reference(x[tail]))
    assert_same(y[:4096], case.reference(x[:4096]))
    del y
    x2 = x.view(-1)[: (n // 2) * 2].view(-1, 2).t()  # strided, > 2^31 elements
    y2 = case.fused(x2)
    assert_same(y2[:, -4096:], case.reference(x2[:, -4096:]))


# PyTorch's own sample inputs (OpInfo) for the ops it has, through our functions with the
# same call: {fusedact.functional name: OpInfo name}.
OPINFO_NAMES = {
    "prelu": "nn.functional.prelu",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "relu": "nn.functional.relu",
    "leaky_relu": "nn.functional.leaky_relu",
    "elu": "nn.functional.elu",
    "selu": "nn.functional.selu",
    "gelu": "nn.functional.gelu",
    "silu": "nn.functional.silu",
    "mish": "nn.functional.mish",
    "softplus": "nn.functional.softplus",
    "hardtanh": "nn.functional.hardtanh",
    "relu6": "nn.functional.relu6",
    "hardsigmoid": "nn.functional.hardsigmoid",
    "hardswish": "nn.functional.hardswish",
    "celu": "nn.functional.celu",
    "logsigmoid": "nn.functional.logsigmoid",
    "softsign": "nn.functional.softsign",
    "tanhshrink": "nn.functional.tanhshrink",
    "softshrink": "nn.functional.softshrink",
    "hardshrink": "nn.functional.hardshrink",
    "threshold": "nn.functional.threshold",
}


COMPOSITES_IN_TORCH = {"softsign", "tanhshrink"}


@pytest.mark.parametrize("name", list(OPINFO_NAMES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
def test_torch_opinfo_samples(name, dtype, device):
    from torch.testing._internal.common_methods_invocations import op_db

    (opinfo,) = [o for o in op_db if o.name == OPINFO_NAMES[name] and o.variant_test_name == ""]
    fused = getattr(fusedact.functional, name)
    count = 0
    for sample in opinfo.sample_inputs(device, dtype):
        if name in COMPOSITES_IN_TORCH and dtype != torch.float64:
            # torch composes these of 16-bit ops, rounding each step; expected: rounded once.
            expected = opinfo.op(sample.input.float(), *sample.args, **sample.kwargs).to(dtype)
        else:
            expected = opinfo.op(sample.input.clone(), *sample.args, **sample.kwargs)
        actual = fused(sample.input.clone(), *sample.args, **sample.kwargs)
        assert_same(actual, expected)
        count += 1
    assert count > 0


# Each float parameter, with the other parameters of its op where they have no default. torch
# converts each to the input's compute type or to its dtype (hardtanh's bounds, the shrinks'
# lambd, threshold's value), refusing a value beyond that type's range; hardtanh's bounds in the
# wrong order are a ValueError, softshrink's lambd outside [0, the dtype's largest] an error.
FLOAT_PARAMETERS = [
    ("leaky_relu", "negative_slope"),
    ("elu", "alpha"),
    ("softplus", "beta"),
    ("softplus", "threshold"),
    ("hardtanh", "min_val"),
    ("hardtanh", "max_val"),
    ("celu", "alpha"),
    ("softshrink", "lambd"),
    ("hardshrink", "lambd"),
    ("threshold", "threshold"),
    ("threshold", "value"),
]
OTHER_PARAMETERS = {"threshold": {"threshold": 0.5, "value": -2.0}}


@pytest.mark.parametrize(("op", "param"), FLOAT_PARAMETERS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("value", [1e300, -1e39, 1e5, math.inf, -math.inf, math.nan])
def test_float_parameter_beyond_its_type_as_torch(op, param, dtype, value):
    x = torch.tensor([-0.0, 0.0, -1.0, 2.0, -100.0, 0.25, 3.0], dtype=dtype)
    kwargs = {**OTHER_PARAMETERS.get(op, {}), param: value}
    fused = getattr(fusedact.functional, op)
    try:
        expected = getattr(torch.nn.functional, op)(x, **kwargs)
    except (RuntimeError, ValueError) as error:
        with pytest.raises(type(error), match=rf"fusedact\.{op}"):
            fused(x, **kwargs)
        if "inplace" in inspect.signature(fused).parameters:
            with pytest.raises(type(error), match=rf"fusedact\.{op}"):
                fused(x.clone(), **kwargs, inplace=True)
        return
    if op == "softshrink":
        expected = expected + 0.0  # +0.0 in the dead band, as torch's vector loop (reference._softshrink)
    assert_same(fused(x, **kwargs), expected)


@pytest.mark.parametrize("alpha", [math.nan, math.inf, -math.inf, -0.5])
def test_elu_of_signed_zeros_whatever_alpha(alpha, target):
    x = torch.tensor([0.0, -0.0, 1.0, -1.0], device=target)
    assert_same(fusedact.functional.elu(x, alpha), torch.nn.functional.elu(x, alpha))
    assert_same(fusedact.functional.selu(x), torch.nn.functional.selu(x))


def test_gelu_left_tail_at_least_as_accurate_as_torch(target):
    """float32 gelu below -4.5 is x Phi(x) with Phi(x) < 3.4e-6: 1 + erf(x / sqrt 2) keeps erf's
    absolute error near -1 there (torch's is 4e-7, most of gelu's value). Every region's largest
    error against float64, forward and backward, is at most torch's own, in absolute terms or in
    units of the result's last place (above 1, where gelu is near x, both round a little
    differently), and geglu, which multiplies it by up, stays close to float64 where up is large."""

    def ulps(got, expected):
        """|got - expected| in units of float32's last place at expected."""
        magnitude = expected.abs().float().clamp_min(torch.finfo(torch.float32).tiny)
        ulp = torch.nextafter(magnitude, torch.full_like(magnitude, math.inf)) - magnitude
        return (got.double() - expected).abs() / ulp.double()

    x = torch.linspace(-10, 10, 400_001, dtype=torch.float32, device=target)
    exact = torch.nn.functional.gelu(x.double())
    leaf = x.double().requires_grad_()
    (exact_grad,) = torch.autograd.grad(torch.nn.functional.gelu(leaf), leaf, torch.ones_like(leaf))
    ours, theirs = grad_of(fusedact.functional.gelu, x, torch.ones_like(x)), grad_of(F.gelu, x, torch.ones_like(x))
    for low, high in [(-10, -5.7), (-5.7, -4.5), (-4.5, -3), (-3, -1), (-1, 1), (1, 10)]:
        where = (x >= low) & (x < high)
        for name, got, torch_got, expected in [
            ("forward", fusedact.functional.gelu(x), F.gelu(x), exact),
            ("backward", ours, theirs, exact_grad),
        ]:
            error = (got[where].double() - expected[where]).abs().max().item()
            torch_error = (torch_got[where].double() - expected[where]).abs().max().item()
            # Not worse than torch's, where either is above 2e-7 (under 4 ulp of 1/2).
            ulp_error = ulps(got[where], expected[where]).max().item()
            torch_ulp_error = ulps(torch_got[where], expected[where]).max().item()
            assert error <= max(torch_error, 2e-7) or ulp_error <= torch_ulp_error, (
                name, low, high, error, torch_error, ulp_error, torch_ulp_error)  # fmt: skip
    tail = x[(x >= -5.9) & (x < -4.5)]
    up = torch.full_like(tail, 1e6)
    error = (fusedact.functional.geglu(tail, up).double() - exact[(x >= -5.9) & (x < -4.5)] * 1e6).abs().max()
    assert error < 0.03  # 1e6 * 3e-8; torch's gelu(gate) * up is off by up to 0.43
