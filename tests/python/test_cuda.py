"""Every CUDA kernel path, where there is a GPU: more than 2^31 elements (pointwise backward,
both GLU forms, softmax, the channel gradient), misaligned views, grid-stride loops (more
work than resident threads), more channel tiles than blocks, softmax rows from 1 to 128256
and along dim 0, bitwise determinism, a non-default stream, CUDA graph capture and replay.
The autocast cases are in test_channel_param.py and test_softmax.py (their `device`
fixture), the per-thread index math of each kernel in tests/cpp on every machine."""

import pytest
import torch
import torch.nn.functional as F

import fusedact.functional as FF
from reference import (
    CHANNEL_PARAM,
    FLOAT_DTYPES,
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

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU here")]

BIG = (1 << 31) + 4099  # past 32-bit element indices, and not a multiple of any vector width
# The tests of more than 2^31 elements hold up to ~25 GB each: under pytest-xdist
# (--dist loadgroup) they share one worker, so that they run one at a time.
big = pytest.mark.xdist_group("past_2_31")
SOME_POINTWISE = [c for c in POINTWISE if c.id in ("relu", "gelu", "silu", "elu")]


def _resident_threads():
    props = torch.cuda.get_device_properties(0)
    return props.multi_processor_count * props.max_threads_per_multi_processor


def _ends(t, n=4096):
    """The first and last n elements of t's flattened view (where index errors land)."""
    flat = t.reshape(-1)
    return torch.cat([flat[:n], flat[-n:]])


@big
@pytest.mark.parametrize("case", SOME_POINTWISE, ids=str)
def test_backward_past_2_31_elements(case):
    x = torch.empty(BIG, dtype=torch.bfloat16, device="cuda").uniform_(-4, 4)
    grad = torch.empty_like(x).uniform_(-1, 1)
    leaf = x.detach().requires_grad_()
    (got,) = torch.autograd.grad(case.fused(leaf), leaf, grad)
    n = 4096
    for where in (slice(0, n), slice(BIG - n, BIG)):
        expected = case.reference_grad(x[where], grad[where])
        assert_same(got[where], expected)


@big
@pytest.mark.parametrize("case", GLU, ids=str)
def test_glu_past_2_31_elements_both_forms(case):
    half = 4096
    rows = BIG // (2 * half) + 3
    x = torch.empty(rows, 2 * half, dtype=torch.bfloat16, device="cuda").uniform_(-4, 4)
    out = case.fused(x, dim=-1)
    for where in (slice(0, 2), slice(rows - 2, rows)):
        assert_gate_grad_close(out[where], case.reference_split(x[where]), x[where].chunk(2, -1)[1])
    del out
    gate, up = x.chunk(2, -1)
    grad = torch.ones(rows, half, dtype=torch.bfloat16, device="cuda")
    leaf = x.detach().requires_grad_()
    (grad_x,) = torch.autograd.grad(case.fused(leaf, dim=-1), leaf, grad)
    for where in (slice(0, 2), slice(rows - 2, rows)):
        expected_gate, expected_up = case.reference_grads(gate[where], up[where], grad[where])
        got_gate, got_up = grad_x[where].chunk(2, -1)
        assert_same(got_up, expected_up)
        signed = case.exact_zero_gate_grad(gate[where], up[where], grad[where])
        assert_gate_grad_close(got_gate, expected_gate, grad[where].double() * up[where].double(), signed)
    del grad_x, leaf
    pair_out = case.fused(gate[-2:].contiguous(), up[-2:].contiguous())
    assert_gate_grad_close(pair_out, case.reference_pair(gate[-2:], up[-2:]), up[-2:])


@big
@pytest.mark.parametrize("name", SOFTMAX_OPS)
def test_softmax_past_2_31_elements(name):
    length = 128256
    rows = BIG // length + 1
    x = random_input((rows, length), torch.bfloat16, "cuda", scale=2.0)
    leaf = x.detach().requires_grad_()
    y = getattr(FF, name)(leaf, -1)
    for where in (slice(0, 2), slice(rows - 2, rows)):
        assert_same(y[where], softmax_reference(name, x[where].double(), -1).to(torch.bfloat16))
    (grad_x,) = torch.autograd.grad(y, leaf, torch.ones_like(y))
    for where in (slice(0, 2), slice(rows - 2, rows)):
        expected = grad_of(lambda t: getattr(F, name)(t, -1), x[where].double(), torch.ones_like(x[where]).double())
        assert_same(grad_x[where].float(), expected.float(), rtol=2e-2, atol=2e-3)


@big
@pytest.mark.parametrize("case", CHANNEL_PARAM, ids=str)
def test_channel_gradient_past_2_31_elements(case):
    x = torch.empty(2, 8, BIG // 16 + 1, dtype=torch.bfloat16, device="cuda").uniform_(-2, 2)
    param = case.param(x).detach().requires_grad_()
    out = case.fused(x, param)
    (grad_param,) = torch.autograd.grad(out, param, torch.ones_like(out))
    del out
    # float64 sums of the per-element terms, chunked over the channel's elements.
    expected = torch.zeros(param.shape, dtype=torch.float64, device="cuda")
    for chunk in x.split(1 << 22, dim=2):
        leaf = param.detach().double().requires_grad_()
        (g,) = torch.autograd.grad(case.torch(chunk.double(), leaf).sum(), leaf)
        expected += g
    torch.testing.assert_close(grad_param.double(), expected, rtol=2e-2, atol=1e-2 * expected.abs().max().item())


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_misaligned_views_backward_and_glu(dtype):
    """Views one element past an aligned address, for backward and both GLU forms."""
    base = random_input((4 * 1031 + 1,), dtype, "cuda")
    grad_base = random_input((4 * 1031 + 1,), dtype, "cuda", seed=1)
    x, grad = base[1:].view(4, 1031), grad_base[1:].view(4, 1031)
    for case in POINTWISE:
        assert_same(grad_of(case.fused, x, grad), case.reference_grad(x, grad))
    for case in GLU:
        x = base[1:].view(2, 2062)
        gate, up = x.chunk(2, -1)
        assert_gate_grad_close(case.fused(x, dim=-1), case.reference_split(x), up)
        assert_gate_grad_close(case.fused(gate, up), case.reference_pair(gate, up), up)


@pytest.mark.parametrize("case", GLU, ids=str)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("half", [256, 1024, 4100])
def test_split_glu_rows_kernel(case, dtype, half):
    """The rows kernel, vectorized (rows start 16-byte aligned) and not (4100 halves of 16-bit
    rows are not), forward and backward (two outputs into one gradient), along the last dim
    and a middle one."""
    for shape, dim in (((37, 2 * half), -1), ((3, 4, half // 2), 1)):  # dim 1: rows of half elements
        x = random_input(shape, dtype, "cuda")
        gate, up = x.chunk(2, dim)
        grad = random_input(gate.shape, dtype, "cuda", seed=1)
        leaf = x.detach().requires_grad_()
        out = case.fused(leaf, dim=dim)
        assert_gate_grad_close(out, case.reference_split(x, dim), up)
        (grad_x,) = torch.autograd.grad(out, leaf, grad)
        expected_gate, expected_up = case.reference_grads(gate, up, grad)
        got_gate, got_up = grad_x.chunk(2, dim)
        assert_same(got_up, expected_up)
        signed = case.exact_zero_gate_grad(gate, up, grad)  # where a zero's sign is meant
        assert_gate_grad_close(got_gate, expected_gate, grad.double() * up.double(), signed)


@pytest.mark.parametrize("case", CHANNEL_PARAM, ids=str)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_channel_param_rows_kernel(case, dtype):
    """prelu / swish over NCHW (the parameter broadcast along each row of H * W) and
    channels-last (one value per element of a row of C), forward and input gradient."""
    for x in (
        random_input((4, 6, 9, 16), dtype, "cuda"),
        random_input((4, 96, 3, 5), dtype, "cuda").contiguous(memory_format=torch.channels_last),
    ):
        param = case.param(x)
        grad = random_input(x.shape, dtype, "cuda", seed=1)
        assert_same(case.fused(x, param), case.reference(x))
        assert_same(grad_of(lambda t, p=param: case.fused(t, p), x, grad), case.reference_grad(x, grad))


@pytest.mark.parametrize("case", POINTWISE, ids=str)
def test_grid_stride_loops(case):
    """More elements than the GPU runs threads at once, times the elements per thread and
    step: every kernel's grid-stride loop goes round several times (contiguous, rows, strided)."""
    n = _resident_threads() * 8 * 4 * 3 + 5
    x = random_input((n,), torch.bfloat16, "cuda")
    assert_same(case.fused(x), case.reference(x))
    rows = x[: (n // 4096) * 4096].view(-1, 4096)[:, :4000]  # rows sliced out of a wider tensor
    assert_same(case.fused(rows), case.reference(rows))
    strided = x[: (n // 2) * 2].view(-1, 2).t()
    assert_same(case.fused(strided), case.reference(strided))


@pytest.mark.parametrize("case", CHANNEL_PARAM, ids=str)
def test_more_channel_tiles_than_blocks(case):
    x = random_input((64, 256, 56, 56), torch.bfloat16, "cuda")
    param = case.param(x).detach().requires_grad_()
    out = case.fused(x, param)
    assert_same(out, case.reference(x))
    (grad_param,) = torch.autograd.grad(out, param, torch.ones_like(out))
    leaf = param.detach().double().requires_grad_()
    (expected,) = torch.autograd.grad(case.torch(x.double(), leaf).sum(), leaf)
    torch.testing.assert_close(grad_param.double(), expected, rtol=2e-2, atol=1e-2 * expected.abs().max().item())


@pytest.mark.parametrize("name", SOFTMAX_OPS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64], ids=str)
@pytest.mark.parametrize(
    "shape,dim", [((64, 1), -1), ((64, 8), -1), ((33, 64), -1), ((33, 256), -1), ((33, 512), -1), ((16, 1024), -1),
                  ((16, 1025), -1), ((4, 32768), -1), ((2, 128256), -1), ((32768, 8), 0), ((5, 4096, 3), 1)],
    ids=str,
)  # fmt: skip
def test_softmax_rows(name, dtype, shape, dim):
    x = random_input(shape, dtype, "cuda", scale=2.0)
    leaf = x.detach().requires_grad_()
    y = getattr(FF, name)(leaf, dim)
    assert_same(y, softmax_reference(name, x.double(), dim).to(dtype))
    grad = random_input(shape, dtype, "cuda", seed=1)
    (got,) = torch.autograd.grad(y, leaf, grad)
    expected, tolerances = softmax_grad_reference(name, grad, y, dim)
    assert_same(got, expected, **tolerances)


@pytest.mark.parametrize("name", SOFTMAX_OPS)
def test_softmax_misaligned_rows(name):
    """Rows that start off the 16-byte grid leave the registers kernel for the warp kernel."""
    x = random_input((33 * 64 + 1,), torch.float32, "cuda")[1:].view(33, 64)
    leaf = x.detach().requires_grad_()
    y = getattr(FF, name)(leaf, -1)
    assert_same(y, softmax_reference(name, x.double(), -1).float())
    grad = torch.ones_like(y)
    (got,) = torch.autograd.grad(y, leaf, grad)
    expected, tolerances = softmax_grad_reference(name, grad, y, -1)
    assert_same(got, expected, **tolerances)


def _every_op_once(x):
    """Every op's forward and backward on x (two channels' worth of dims): the tensors made."""
    outs = []
    for case in POINTWISE:
        outs.append(case.fused(x))
        outs.append(grad_of(case.fused, x, torch.ones_like(x)))
        if case.param is not None:
            param = case.param(x).detach().requires_grad_()
            out = case.fused(x, param)
            outs += list(torch.autograd.grad(out, param, torch.ones_like(out)))
    for case in GLU:
        outs.append(case.fused(x, dim=-1))
    for name in SOFTMAX_OPS:
        outs.append(getattr(FF, name)(x, -1))
        outs.append(getattr(FF, name)(x, 0))
    return outs


def test_bitwise_deterministic():
    x = random_input((64, 33, 130), torch.float32, "cuda")
    first, second = _every_op_once(x), _every_op_once(x.clone())
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


def test_non_default_stream():
    x = random_input((64, 33, 130), torch.float32, "cuda")
    expected = _every_op_once(x)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        y = x * 1  # made on the side stream, used there at once
        got = _every_op_once(y)
    torch.cuda.current_stream().wait_stream(stream)
    for a, b in zip(got, expected, strict=True):
        assert torch.equal(a, b)


def test_cuda_graph_capture_and_replay():
    static_x = random_input((8, 4, 258), torch.float32, "cuda")
    weight = torch.linspace(-0.5, 1.5, 4, device="cuda")

    def step(x):
        return [
            FF.gelu(x),
            FF.silu(x),
            FF.prelu(x, weight),
            FF.swiglu(x, dim=-1),
            FF.softmax(x, -1),
            FF.log_softmax(x, 1),
            torch.ops.fusedact.gelu_backward(torch.ones_like(x), x),
        ]

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        step(static_x)  # warm-up outside the capture
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_out = step(static_x)
    for seed in (1, 2):
        new_x = random_input(static_x.shape, torch.float32, "cuda", seed=seed)
        static_x.copy_(new_x)
        graph.replay()
        for got, expected in zip(static_out, step(new_x), strict=True):
            assert torch.equal(got, expected)
