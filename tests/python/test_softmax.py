"""softmax, log_softmax and softmin against torch's: values for every dtype, dim, row length (a warp's,
a block's, strided rows) and layout, on every CPU instruction set and on CUDA; rows of
extremes; gradients (through autograd, and the backward op against torch's on the same
output); gradcheck and gradgradcheck; opcheck; dtype=, the implicit dim, autocast; errors."""

import math
import warnings

import pytest
import torch
import torch.nn.functional as F

import fusedact
import fusedact.functional as FF
from reference import (
    FLOAT_DTYPES,
    SOFTMAX_OPS,
    assert_same,
    extreme_values,
    random_input,
    softmax_reference,
    torch_softmax_backward,
)

each_op = pytest.mark.parametrize("name", SOFTMAX_OPS)

# (shape, dim): rows along the last dim short and long (past a warp's 1024), along other dims
SHAPES = [
    ((33, 65), -1),
    ((33, 65), 0),
    ((5, 8), -1),  # rows of one vector (or half of one)
    ((3, 16), -1),
    ((20, 8), -1),  # short rows a vector's width at a time: whole groups and a partial one
    ((37, 16), -1),
    ((70, 3), -1),
    ((45, 24), -1),
    ((33, 32), -1),  # the longest short rows
    ((31, 31), -1),  # 31 rows of 31: a partial group of 31 (16-bit types on AVX-512)
    ((9, 8), 0),  # groups of rows side by side that fill half a vector
    ((4, 16), 0),
    ((4, 3000), 1),
    ((3, 5, 7), 1),
    ((2, 1025, 3), 1),
    ((7,), 0),
    ((), 0),
    ((1, 1), -1),
    ((4, 0, 3), 1),
    ((0, 5), -1),
]


def _fused(name):
    return getattr(FF, name)


def _torch(name):
    return getattr(F, name)


@each_op
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("shape,dim", SHAPES, ids=str)
def test_matches_torch(name, dtype, shape, dim, target):
    x = random_input(shape, dtype, target)
    y = _fused(name)(x, dim)
    assert_same(y, softmax_reference(name, x, dim))
    assert y.is_contiguous()

    # The gradient: torch's backward applied to the same output, and (where the output's
    # rounding does not dominate) torch's autograd end to end.
    grad = random_input(shape, dtype, target, seed=1)
    leaf = x.clone().requires_grad_()
    (grad_x,) = torch.autograd.grad(_fused(name)(leaf, dim), leaf, grad)
    assert_same(grad_x, torch_softmax_backward(name, grad, y, dim))
    if dtype in (torch.float32, torch.float64):
        ref_leaf = x.clone().requires_grad_()
        (ref_grad_x,) = torch.autograd.grad(_torch(name)(ref_leaf, dim), ref_leaf, grad)
        assert_same(grad_x, ref_grad_x)


@each_op
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_rows_of_extremes(name, dtype, target):
    values = extreme_values(dtype)
    rows = [
        values,  # everything at once: +inf and NaN make the row NaN
        [v for v in values if not math.isnan(v) and v != math.inf],  # -inf beside finite values
        [-math.inf] * 5,
        [math.inf, 1.0],
        [-math.inf, 0.0, -math.inf],
        [1e4, -1e4, 0.0],
        [torch.finfo(dtype).max, -torch.finfo(dtype).max],
        [0.0, -0.0, torch.finfo(dtype).tiny / 2],
    ]
    for row in rows:
        for dim, x in [(-1, torch.tensor(row)[None, :]), (0, torch.tensor(row)[:, None].expand(-1, 3))]:
            x = x.to(dtype=dtype, device=target)
            y = _fused(name)(x, dim)
            assert_same(y, softmax_reference(name, x, dim))
            grad = torch.ones_like(x)
            assert_same(
                getattr(torch.ops.fusedact, f"{name}_backward")(grad, y, dim),
                torch_softmax_backward(name, grad, y, dim),
            )


LAYOUTS = {
    "transposed": lambda t: t.transpose(1, 3),
    "channels_last": lambda t: t.contiguous(memory_format=torch.channels_last),
    "sliced": lambda t: t[:, ::2, 1:],
    "expanded": lambda t: t[:1].expand(4, -1, -1, -1),
}


@each_op
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dim", [1, -1])
def test_layouts(name, layout, dim, device):
    x = LAYOUTS[layout](random_input((4, 6, 5, 7), torch.float32, device))
    y, expected = _fused(name)(x, dim), _torch(name)(x, dim)
    assert_same(y, expected)
    assert y.stride() == expected.stride()
    grad = random_input(tuple(reversed(y.shape)), torch.float32, device, seed=2).permute(3, 2, 1, 0)
    leaf, ref_leaf = x.detach().clone().requires_grad_(), x.detach().clone().requires_grad_()
    (g,) = torch.autograd.grad(_fused(name)(leaf, dim), leaf, grad)
    (g_ref,) = torch.autograd.grad(_torch(name)(ref_leaf, dim), ref_leaf, grad)
    assert_same(g, g_ref)


@each_op
def test_gradcheck_and_gradgradcheck(name, device):
    for shape, dim in [((5, 7), -1), ((5, 7), 0), ((2, 3, 4), 1)]:
        x = random_input(shape, torch.float64, device, scale=1.0).requires_grad_()
        assert torch.autograd.gradcheck(lambda t, dim=dim: _fused(name)(t, dim), (x,))
        assert torch.autograd.gradgradcheck(lambda t, dim=dim: _fused(name)(t, dim), (x,))


@each_op
def test_opcheck(name, device):
    op = getattr(torch.ops.fusedact, name).default
    backward = getattr(torch.ops.fusedact, f"{name}_backward").default
    for requires_grad in (False, True):
        for shape, dim in [((5, 7), -1), ((2, 3, 4), 1), ((6,), 0), ((), 0)]:
            x = random_input(shape, torch.float32, device).requires_grad_(requires_grad)
            torch.library.opcheck(op, (x, dim))
            y = _fused(name)(x.detach(), dim).requires_grad_(requires_grad)
            grad = random_input(shape, torch.float32, device, seed=1).requires_grad_(requires_grad)
            torch.library.opcheck(backward, (grad, y, dim))


@each_op
def test_deterministic_across_runs_and_threads(name):
    x = random_input((64, 4099), torch.float32, "cpu")
    grad = random_input(x.shape, torch.float32, "cpu", seed=1)
    threads = torch.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3, 1):
            torch.set_num_threads(n)
            for dim in (0, 1):
                leaf = x.clone().requires_grad_()
                y = _fused(name)(leaf, dim)
                results.append((dim, y.detach(), torch.autograd.grad(y, leaf, grad)[0]))
    finally:
        torch.set_num_threads(threads)
    for dim, y, g in results[2:]:
        first = results[dim]
        assert torch.equal(y, first[1]) and torch.equal(g, first[2])


@each_op
def test_dtype_argument_and_implicit_dim(name):
    x = random_input((3, 4, 5), torch.bfloat16, "cpu")
    assert_same(_fused(name)(x, 1, dtype=torch.float64), _torch(name)(x, 1, dtype=torch.float64))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = _fused(name)(x)
    assert any("Implicit dimension choice" in str(w.message) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same(y, _torch(name)(x))


@each_op
def test_autocast_as_torch(name, device):
    x = random_input((4, 9), torch.float32, device)
    half = torch.bfloat16 if device == "cpu" else torch.float16
    for inputs in (x, x.to(half)):
        with torch.autocast(device, dtype=half):
            y, expected_dtype = _fused(name)(inputs, -1), _torch(name)(inputs, -1).dtype
        assert y.dtype == expected_dtype  # float32 for float16 on CUDA, unchanged on the CPU
        assert_same(y, softmax_reference(name, inputs.to(expected_dtype), -1))
        for dtype in (half, torch.float32, torch.float64):  # an explicit dtype is left alone
            with torch.autocast(device, dtype=half):
                y, expected_dtype = _fused(name)(inputs, -1, dtype=dtype), _torch(name)(inputs, -1, dtype=dtype).dtype
            assert y.dtype == expected_dtype == dtype
            assert_same(y, softmax_reference(name, inputs.to(dtype), -1))


@each_op
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_half_to_float(name, dtype, device):
    """half_to_float (torch's _softmax flag, CUDA autocast's form): a 16-bit input into a float32
    result, and the gradient back in the input's dtype; opcheck covers the flag."""
    op = getattr(torch.ops.fusedact, name)
    for shape in ((5, 33), (7, 64)):  # on CUDA: rows of 64 are held in registers
        x = random_input(shape, dtype, device)
        leaf = x.detach().requires_grad_()
        y = op(leaf, -1, True)
        assert y.dtype == torch.float32
        assert_same(y, softmax_reference(name, x.float(), -1))
        grad = random_input(shape, torch.float32, device, seed=1)
        (got,) = torch.autograd.grad(y, leaf, grad)
        ref_leaf = x.detach().requires_grad_()
        (expected,) = torch.autograd.grad(_torch(name)(ref_leaf.float(), -1), ref_leaf, grad)
        assert got.dtype == dtype
        assert_same(got, expected)
    torch.library.opcheck(op, (x, -1, True))
    with pytest.raises(RuntimeError, match=rf"fusedact\.{name}: half_to_float takes a float16 or bfloat16 input"):
        op(x.float(), -1, True)


@each_op
def test_clear_errors(name):
    for bad in (torch.arange(6), torch.ones(6).to(torch.float8_e4m3fn)):
        with pytest.raises(RuntimeError, match=rf"fusedact\.{name}: expected input to be a floating-point tensor"):
            _fused(name)(bad, 0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        _fused(name)(torch.ones(3, 4), 2)
    with pytest.raises(RuntimeError, match=rf"fusedact\.{name}_backward: grad_output has shape \[3\] but"):
        getattr(torch.ops.fusedact, f"{name}_backward")(torch.ones(3), torch.ones(4), 0)


@each_op
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
def test_torch_opinfo_samples(name, dtype, device):
    from torch.testing._internal.common_methods_invocations import op_db

    opinfo_name = "nn.functional.softmin" if name == "softmin" else name
    count = 0
    for opinfo in [o for o in op_db if o.name == opinfo_name]:  # with and without dtype=
        for sample in opinfo.sample_inputs(device, dtype):
            x = sample.input
            if name == "log_softmax" and device == "cpu" and dtype == torch.bfloat16 and "dtype" not in sample.kwargs:
                expected = opinfo.op(x.float(), *sample.args, **sample.kwargs).to(dtype)  # as _reference says
            else:
                expected = opinfo.op(x.clone(), *sample.args, **sample.kwargs)
            actual = _fused(name)(x.clone(), *sample.args, **sample.kwargs)
            assert_same(actual, expected)
            count += 1
    assert count > 0


def test_nn_modules():
    x = random_input((3, 4), torch.float32, "cpu")
    for fused, ref in [
        (fusedact.nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
        (fusedact.nn.LogSoftmax(dim=0), torch.nn.LogSoftmax(dim=0)),
    ]:
        assert repr(fused) == repr(ref)
        assert_same(fused(x), ref(x))


SIMD_ISAS = [isa for isa in fusedact.build_info()["cpu_isas"] if isa != "default"]


@each_op
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.skipif(len(SIMD_ISAS) < 2, reason="fewer than two SIMD instruction sets on this CPU")
def test_identical_across_simd_instruction_sets(name, dtype):
    """A contiguous row is summed in an order that does not depend on the vector width."""
    before = fusedact.build_info()["cpu_isa"]
    try:
        for length in [*range(1, 70), 127, 128, 129, 255, 256, 1000, 4099]:
            x = random_input((3, length), dtype, "cpu", seed=length)
            grad = random_input(x.shape, dtype, "cpu", seed=length + 1)
            results = []
            for isa in SIMD_ISAS:
                fusedact.set_cpu_isa(isa)
                y = _fused(name)(x, -1)
                results.append((y, getattr(torch.ops.fusedact, f"{name}_backward")(grad, y, -1)))
            for isa, result in zip(SIMD_ISAS[1:], results[1:], strict=True):
                for actual, expected in zip(result, results[0], strict=True):
                    torch.testing.assert_close(actual, expected, rtol=0, atol=0, msg=f"{isa}, rows of {length}")
    finally:
        fusedact.set_cpu_isa(before)


# Softmax2d is softmax over dim -3.


def test_softmin_and_softmax2d_modules():
    x = random_input((2, 3, 4, 5), torch.float32, "cpu")
    for fused, ref in [
        (fusedact.nn.Softmin(dim=1), torch.nn.Softmin(dim=1)),
        (fusedact.nn.Softmax2d(), torch.nn.Softmax2d()),
    ]:
        assert repr(fused) == repr(ref) and isinstance(fused, type(ref))
        assert_same(fused(x), ref(x))
        assert_same(fused(x[0]), ref(x[0]))  # 3-D: channels first
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D instead"):
        fusedact.nn.Softmax2d()(x[0, 0])
