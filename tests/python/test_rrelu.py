"""rrelu against torch.nn.functional.rrelu. In evaluation its slope is fixed and fusedact must
give torch's numbers. In training the slopes are random: fusedact draws them from a
counter-based generator keyed by one draw of torch's (not torch's own stream), so the tests
check what torch promises of them (each uniform in [lower, upper), independent, reproducible
under torch.manual_seed) and that forward and backward apply the same ones, with backward
checked by torch's own rrelu_with_noise_backward given those slopes as its noise."""

import math

import pytest
import torch
import torch.nn.functional as F

import fusedact
import fusedact.functional as FF
from conftest import CPU_ISAS, HAS_CUDA
from reference import FLOAT_DTYPES, assert_same, extreme_input, grad_of, random_input

BOUNDS = [(1 / 8, 1 / 3), (0.1, 0.9), (0.0, 0.5), (0.25, 0.25)]
ops = torch.ops.fusedact


def _opmath(dtype):
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def _input(dtype, device, n=1000):
    """Both signs, the extremes and zeros of both signs."""
    return torch.cat([random_input((n,), dtype, device), extreme_input(dtype, device)])


def _slopes(x, seed, lower, upper):
    """The slope each element of x gets from this seed, in the compute type: minus rrelu of -1."""
    ones = torch.ones(x.shape, dtype=_opmath(x.dtype), device=x.device)
    return -ops.rrelu(-ones, seed, lower, upper)


def _assert_within(r, lower, upper, dtype):
    """lower <= r <= upper, the bounds rounded to dtype (the one rounding of lower + (upper -
    lower) u may reach upper, as torch's uniform_ may)."""
    lo, hi = torch.tensor([lower, upper], dtype=dtype).tolist()
    assert r.min() >= lo and r.max() <= hi, (r.min().item(), r.max().item())


def _seed(device, value=1234):
    return torch.tensor(value, dtype=torch.int64, device=device)


# ---- evaluation: torch's numbers ----------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("bounds", BOUNDS, ids=str)
def test_evaluation_matches_torch(target, dtype, bounds):
    x = _input(dtype, target)
    grad = random_input(x.shape, dtype, target, seed=1)
    fused = lambda t: FF.rrelu(t, *bounds)  # noqa: E731
    reference = lambda t: F.rrelu(t, *bounds, training=False)  # noqa: E731
    assert_same(fused(x), reference(x))
    assert_same(grad_of(fused, x, grad), grad_of(reference, x, grad))
    inplace = x.clone()
    assert FF.rrelu(inplace, *bounds, inplace=True) is inplace
    assert_same(inplace, reference(x))


def test_module_matches_torch_in_evaluation_and_converts():
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.RReLU(0.1, 0.4)).eval()
    x = random_input((5, 8), torch.float32, "cpu")
    expected = model(x)
    fusedact.convert(model)
    assert type(model[1]) is fusedact.nn.RReLU and (model[1].lower, model[1].upper) == (0.1, 0.4)
    assert_same(model(x), expected)
    assert repr(model[1]) == repr(torch.nn.RReLU(0.1, 0.4))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
def test_torch_opinfo_samples(dtype, device):
    """torch's own samples of nn.functional.rrelu: torch's values in evaluation; in training,
    torch's values where x > 0 and a slope within the bounds elsewhere."""
    from torch.testing._internal.common_methods_invocations import op_db

    (opinfo,) = [o for o in op_db if o.name == "nn.functional.rrelu" and o.variant_test_name == ""]
    count = 0
    for sample in opinfo.sample_inputs(device, dtype):
        x, kwargs = sample.input, sample.kwargs
        actual = FF.rrelu(x.clone(), **kwargs)
        if not kwargs.get("training", False):
            assert_same(actual, opinfo.op(x.clone(), **kwargs))
        else:
            lower, upper = kwargs.get("lower", 1 / 8), kwargs.get("upper", 1 / 3)
            negative = x <= 0
            assert torch.equal(actual[~negative], x[~negative])
            ratio = (actual[negative & (x != 0)] / x[negative & (x != 0)]).float()
            if ratio.numel():
                tolerance = 2**-7 if dtype == torch.bfloat16 else 1e-6
                assert ratio.min() >= lower - tolerance and ratio.max() <= upper + tolerance
        count += 1
    assert count > 0


# ---- training: random slopes ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("bounds", [(1 / 8, 1 / 3), (0.0, 1.0), (0.3, 0.7)], ids=str)
def test_slopes_are_uniform_and_independent(dtype, bounds):
    lower, upper = bounds
    n = 1 << 16
    r = _slopes(torch.empty(n, dtype=dtype), _seed("cpu"), lower, upper).double()
    _assert_within(r, lower, upper, dtype)
    mean, std = (lower + upper) / 2, (upper - lower) / math.sqrt(12)
    assert abs(r.mean() - mean) < 5 * std / math.sqrt(n)
    assert abs(r.std() - std) < 0.02 * std
    bins = 32
    counts = torch.histc(r, bins, lower, upper)
    expected = n / bins
    assert ((counts - expected).abs() < 5 * math.sqrt(expected)).all(), counts
    u = (r - mean) / std
    for lag in (1, 3, 4, 5, 1024):  # within and across the generator's blocks of 4
        assert abs((u[:-lag] * u[lag:]).mean()) < 5 / math.sqrt(n), lag


def test_slopes_follow_torch_manual_seed():
    x = -torch.ones(4096)
    torch.manual_seed(0)
    first, second = FF.rrelu(x, training=True), FF.rrelu(x, training=True)
    torch.manual_seed(0)
    assert torch.equal(FF.rrelu(x, training=True), first)
    assert not torch.equal(first, second)
    assert (first != second).float().mean() > 0.99


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_training_forward_and_backward_apply_the_same_slopes(target, dtype):
    lower, upper = 0.1, 0.3
    x = _input(dtype, target).requires_grad_()
    grad = random_input(x.shape, dtype, target, seed=1)
    seed = _seed(target)
    out = ops.rrelu(x, seed, lower, upper)
    (grad_input,) = torch.autograd.grad(out, x, grad)

    r = _slopes(x, seed, lower, upper)
    _assert_within(r, lower, upper, r.dtype)
    xo = x.detach().to(r.dtype)
    assert_same(out, torch.where(xo <= 0, xo * r, xo).to(dtype), rtol=0, atol=0)
    noise = torch.where(xo <= 0, r, torch.ones_like(r))  # torch's: the slope, 1 where x > 0 or NaN
    if dtype == r.dtype:
        expected = torch.ops.aten.rrelu_with_noise_backward(grad, x.detach(), noise, lower, upper, True, False)
    else:  # torch's 16-bit noise is rounded to the dtype; fusedact's product rounds once
        expected = (grad.to(r.dtype) * noise).to(dtype)
    assert_same(grad_input, expected, rtol=0, atol=0)


def test_slopes_do_not_depend_on_layout_threads_or_instruction_set():
    x = random_input((64, 3, 40, 40), torch.float32, "cpu")
    seed = _seed("cpu")
    expected = ops.rrelu(x, seed, 0.1, 0.3)
    channels_last = x.contiguous(memory_format=torch.channels_last)
    assert torch.equal(ops.rrelu(channels_last, seed, 0.1, 0.3), expected)
    assert torch.equal(ops.rrelu(x.transpose(0, 3).contiguous().transpose(0, 3), seed, 0.1, 0.3), expected)
    before = fusedact.build_info()["cpu_isa"]
    try:
        for isa in CPU_ISAS:
            fusedact.set_cpu_isa(isa)
            assert torch.equal(ops.rrelu(x, seed, 0.1, 0.3), expected), isa
    finally:
        fusedact.set_cpu_isa(before)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert torch.equal(ops.rrelu(x, seed, 0.1, 0.3), expected)
    finally:
        torch.set_num_threads(threads)


def test_inplace_training_matches_out_of_place_also_on_a_view():
    x = random_input((6, 10), torch.float64, "cpu")
    torch.manual_seed(5)
    expected = FF.rrelu(x, training=True)
    y = x.clone()
    torch.manual_seed(5)
    assert FF.rrelu(y, training=True, inplace=True) is y
    assert torch.equal(y, expected)

    base = x.t().clone()  # a transposed view, written through
    view = base.t()
    torch.manual_seed(5)
    FF.rrelu(view, training=True, inplace=True)
    assert torch.equal(view, expected) and torch.equal(base, expected.t())


def test_inplace_training_gradient():
    x = random_input((50,), torch.float64, "cpu")
    leaf = x.clone().requires_grad_()
    torch.manual_seed(2)
    out = FF.rrelu(leaf, training=True)
    (expected,) = torch.autograd.grad(out.sum(), leaf)
    leaf2 = x.clone().requires_grad_()
    y = leaf2 * 1
    torch.manual_seed(2)
    FF.rrelu(y, training=True, inplace=True)
    (grad,) = torch.autograd.grad(y.sum(), leaf2)
    assert torch.equal(y.detach(), out.detach()) and torch.equal(grad, expected)


def test_module_draws_slopes_in_training_and_uses_their_mean_in_evaluation():
    module = fusedact.nn.RReLU(0.2, 0.4)
    x = random_input((64, 64), torch.float32, "cpu").requires_grad_()
    out = module(x)
    neg = x.detach() < 0
    ratio = out.detach()[neg] / x.detach()[neg]
    assert ratio.min() >= 0.2 - 1e-7 and ratio.max() < 0.4 + 1e-7 and ratio.std() > 0.05
    assert torch.equal(out[~neg], x[~neg])
    module.eval()
    assert_same(module(x), F.rrelu(x, 0.2, 0.4, training=False))


def test_gradcheck_and_gradgradcheck():
    x = (random_input((30,), torch.float64, "cpu") + 0.05).requires_grad_()  # away from the kink at 0
    seed = _seed("cpu", 99)
    for s in (seed, None):
        fn = lambda t, s=s: ops.rrelu(t, s, 0.1, 0.3)  # noqa: E731
        assert torch.autograd.gradcheck(fn, (x,))
        assert torch.autograd.gradgradcheck(fn, (x,))


@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
def test_opcheck(training):
    x = random_input((4, 7), torch.float32, "cpu")
    seed = _seed("cpu") if training else None
    out = ops.rrelu(x, seed, 0.1, 0.3)
    grad = random_input(x.shape, torch.float32, "cpu", seed=1)
    torch.library.opcheck(ops.rrelu.default, (x.requires_grad_(), seed, 0.1, 0.3))
    torch.library.opcheck(ops.rrelu_backward.default, (grad, out, seed, 0.1, 0.3))
    torch.library.opcheck(ops.rrelu_.default, (x.detach().clone(), seed, 0.1, 0.3))


def test_torch_compile_fullgraph_draws_as_eager():
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), fusedact.nn.RReLU())
    x = random_input((16, 8), torch.float32, "cpu")
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    with torch._inductor.config.patch(fallback_random=True):  # inductor's own RNG otherwise
        results = []
        for m in (model, compiled):
            torch.manual_seed(7)
            m.zero_grad()
            out = m(x)
            out.square().sum().backward()
            results.append((out.detach(), model[0].weight.grad.clone()))
    (out, grad), (ref_out, ref_grad) = results[1], results[0]
    assert torch.equal(out, ref_out)
    assert_same(grad, ref_grad, rtol=1e-6, atol=1e-6)
    model.eval()
    assert_same(compiled(x), model(x))


@pytest.mark.parametrize("requires_grad", [False, True])
def test_inplace_training_under_torch_compile(requires_grad):
    def f(x):
        y = x * 2
        FF.rrelu(y, 0.1, 0.3, training=True, inplace=True)
        return y + 1

    x = random_input((8, 8), torch.float32, "cpu").requires_grad_(requires_grad)
    torch._dynamo.reset()
    compiled = torch.compile(f, fullgraph=True)
    with torch._inductor.config.patch(fallback_random=True):
        torch.manual_seed(11)
        out = compiled(x)
        torch.manual_seed(11)
        expected = f(x)
    assert torch.equal(out, expected)
    if requires_grad:
        assert torch.equal(torch.autograd.grad(out.sum(), x)[0], torch.autograd.grad(expected.sum(), x)[0])


def test_torch_export_and_jit_script_in_evaluation():
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), fusedact.nn.RReLU()).eval()
    x = random_input((4, 8), torch.float32, "cpu")
    expected = F.rrelu(model[0](x), training=False)
    exported = torch.export.export(model, (x,))
    assert "fusedact.rrelu" in str(exported.graph)
    assert_same(exported.module()(x), expected)
    assert_same(torch.jit.script(model)(x), expected)


# ---- errors ---------------------------------------------------------------------------------


def test_errors_name_the_op_and_the_problem():
    x = torch.randn(4)
    with pytest.raises(RuntimeError, match=r"fusedact.rrelu: lower bound \(0.5\) should be less than or equal"):
        FF.rrelu(x, 0.5, 0.2)
    with pytest.raises(RuntimeError, match="fusedact.rrelu: lower and upper must be finite and at least 0"):
        FF.rrelu(x, -0.1, 0.2, training=True)
    with pytest.raises(RuntimeError, match="fusedact.rrelu: lower and upper must be finite"):
        FF.rrelu(x, 0.1, math.inf)
    with pytest.raises(RuntimeError, match="fusedact.rrelu: expected input to be a floating-point tensor"):
        FF.rrelu(torch.ones(4, dtype=torch.int32))
    with pytest.raises(RuntimeError, match="fusedact.rrelu: seed must be an int64 tensor of one element"):
        ops.rrelu(x, torch.tensor(1.0), 0.1, 0.3)
    with pytest.raises(RuntimeError, match="fusedact.rrelu: seed must be an int64 tensor of one element"):
        ops.rrelu(x, torch.tensor([1, 2]), 0.1, 0.3)
    with pytest.raises(RuntimeError, match="fusedact.rrelu_: seed must be"):
        ops.rrelu_(x, torch.tensor([1, 2]), 0.1, 0.3)
    with pytest.raises(RuntimeError, match="fusedact.rrelu_backward: seed is on meta but input is on cpu"):
        ops.rrelu_backward(x, x, torch.tensor(1, device="meta"), 0.1, 0.3)


# ---- CUDA -----------------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="no GPU here")
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_cuda_draws_the_cpus_slopes_bitwise(dtype):
    x = _input(dtype, "cpu", n=100_003)
    out = ops.rrelu(x, _seed("cpu"), 0.1, 0.3)
    assert_same(ops.rrelu(x.cuda(), _seed("cuda"), 0.1, 0.3).cpu(), out, rtol=0, atol=0)
    grad = random_input(x.shape, dtype, "cpu", seed=1)
    expected = ops.rrelu_backward(grad, out, _seed("cpu"), 0.1, 0.3)
    got = ops.rrelu_backward(grad.cuda(), out.cuda(), _seed("cuda"), 0.1, 0.3).cpu()
    assert_same(got, expected, rtol=0, atol=0)


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="no GPU here")
def test_cuda_graph_replays_draw_fresh_slopes():
    x = -torch.ones(1 << 16, device="cuda")
    module = fusedact.nn.RReLU()
    module(x)  # warm-up outside capture
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = module(x)
    graph.replay()
    first = out.clone()
    graph.replay()
    assert not torch.equal(first, out)
    for r in (first, out):
        _assert_within(-r, 1 / 8, 1 / 3, torch.float32)
