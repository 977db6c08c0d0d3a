"""The channel-parameter ops (prelu, swish with a tensor beta), driven by reference.CHANNEL_PARAM:
the parameter's gradient against torch's over ranks, layouts and dtypes; gradcheck and
gradgradcheck in both arguments; a deterministic parameter gradient for any thread count;
clear errors; and the nn modules that own the parameter."""

import pytest
import torch

import fusedact
from reference import CHANNEL_PARAM, FLOAT_DTYPES, assert_same, extreme_input, grad_of, random_input

each_case = pytest.mark.parametrize("case", CHANNEL_PARAM, ids=str)

# name -> input of that shape and layout (the channel dim is 1)
INPUTS = {
    "1d": lambda dtype, device: random_input((37,), dtype, device),
    "2d": lambda dtype, device: random_input((9, 6), dtype, device),
    "3d": lambda dtype, device: random_input((3, 5, 11), dtype, device),
    "4d": lambda dtype, device: random_input((2, 4, 7, 9), dtype, device),
    "channels_last": lambda dtype, device: random_input((2, 4, 7, 9), dtype, device).contiguous(
        memory_format=torch.channels_last
    ),
    "transposed": lambda dtype, device: random_input((6, 9), dtype, device).t(),
    "wide_channels": lambda dtype, device: random_input((2, 5000, 3), dtype, device),  # a tile spans channels
    "long_rows": lambda dtype, device: random_input((3, 2, 9000), dtype, device),  # a channel spans tiles
    "extremes": lambda dtype, device: extreme_input(dtype, device).reshape(1, 1, -1).expand(2, 1, -1),
}


def _grads(fn, x, param, grad):
    x, param = x.detach().clone().requires_grad_(), param.detach().clone().requires_grad_()
    out = fn(x, param)
    return (out, *torch.autograd.grad(out, (x, param), grad))


@each_case
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("shape", list(INPUTS))
def test_param_grad_matches_torch(case, dtype, shape, target):
    x = INPUTS[shape](dtype, target)
    param = case.param(x)
    grad = random_input(x.shape, dtype, target, seed=1)
    out, grad_x, grad_param = _grads(case.fused, x, param, grad)
    ref_out, ref_grad_x, ref_grad_param = _grads(case.torch, x, param, grad)
    assert_same(out, ref_out)
    assert_same(grad_x, ref_grad_x)
    assert grad_param.shape == param.shape
    # A sum of many terms: compared at the precision of the larger terms.
    finite = x.double().nan_to_num(nan=0.0, posinf=0.0, neginf=0.0)
    scale = (grad.double().abs() * finite.abs()).sum().item() / max(1, param.numel())
    atol = {torch.float16: 2e-3, torch.bfloat16: 1.6e-2}.get(dtype, 1e-6) * max(scale, 1.0)
    assert_same(grad_param, ref_grad_param, rtol=1e-2 if dtype in (torch.float16, torch.bfloat16) else 1e-5, atol=atol)


@each_case
def test_param_gradcheck_and_gradgradcheck(case, device):
    for shape in ((7, 3), (2, 3, 4), (5,)):
        x = random_input(shape, torch.float64, device, seed=6, scale=2.0)
        x = torch.where(x.abs() < 0.05, x + 0.1, x).requires_grad_()  # away from kinks
        param = case.param(x).requires_grad_()
        assert torch.autograd.gradcheck(case.fused, (x, param))
        assert torch.autograd.gradgradcheck(case.fused, (x, param))


@each_case
def test_param_grad_deterministic_across_runs_and_threads(case):
    x = random_input((8, 3, 150, 71), torch.float32, "cpu")  # many tiles, split across threads
    param = case.param(x)
    grad = random_input(x.shape, torch.float32, "cpu", seed=1)
    threads = torch.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3, 1):
            torch.set_num_threads(n)
            results.append(_grads(case.fused, x, param, grad)[2])
    finally:
        torch.set_num_threads(threads)
    for r in results[1:]:
        assert torch.equal(r, results[0])


@each_case
def test_param_errors_name_the_op_and_the_problem(case):
    name, op = case.param_name, case.name
    x = torch.randn(2, 4, 5)
    with pytest.raises(RuntimeError, match=rf"fusedact\.{op}: {name} has 3 elements but input has 4 channels"):
        case.fused(x, torch.ones(3))
    with pytest.raises(RuntimeError, match=rf"fusedact\.{op}: {name} has 4 elements but a 1-D input has a single"):
        case.fused(torch.randn(4), torch.ones(4))
    with pytest.raises(RuntimeError, match=rf"fusedact\.{op}: {name} must be a scalar or a 1-D tensor, got 2"):
        case.fused(x, torch.ones(2, 2))
    with pytest.raises(RuntimeError, match=rf"fusedact\.{op}: {name} is Double but input is Float"):
        case.fused(x, torch.ones(4, dtype=torch.float64))
    with pytest.raises(RuntimeError, match=rf"fusedact\.{op}: {name} is on meta but input is on cpu"):
        case.fused(x, torch.ones(4, device="meta"))
    with pytest.raises(RuntimeError, match=rf"fusedact\.{op}: expected {name} to be a floating-point tensor"):
        case.fused(x, torch.ones(4, dtype=torch.int64))


@pytest.mark.parametrize("num_parameters", [1, 6])
def test_prelu_module_is_drop_in(num_parameters):
    fused, ref = fusedact.nn.PReLU(num_parameters, init=0.1), torch.nn.PReLU(num_parameters, init=0.1)
    assert repr(fused) == repr(ref)
    assert fused.state_dict().keys() == ref.state_dict().keys() == {"weight"}
    fused.load_state_dict(ref.state_dict())
    x = random_input((5, 6, 3), torch.float32, "cpu")
    fused(x).square().sum().backward()
    ref(x).square().sum().backward()
    assert_same(fused.weight.grad, ref.weight.grad, rtol=1e-5, atol=1e-5)


def test_convert_keeps_the_prelu_weight():
    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.PReLU(6, init=0.3))
    with torch.no_grad():
        model[1].weight.uniform_(-1, 1)
    weight = model[1].weight.detach().clone()
    fusedact.convert(model)
    assert type(model[1]) is fusedact.nn.PReLU and torch.equal(model[1].weight, weight)


def test_swish_module_constant_and_learnable():
    x = random_input((4, 3, 5), torch.float32, "cpu")
    constant = fusedact.nn.Swish(beta=0.5)
    assert repr(constant) == "Swish(beta=0.5)" and not list(constant.parameters())
    assert_same(constant(x), x * torch.sigmoid(0.5 * x))

    learnable = fusedact.nn.Swish(beta=0.5, learnable=True)
    assert repr(learnable) == "Swish(beta=tensor of 1, learnable=True)"
    assert set(learnable.state_dict()) == {"beta"}
    learnable(x).sum().backward()
    beta = torch.tensor(0.5, requires_grad=True)
    (x * torch.sigmoid(beta * x)).sum().backward()
    assert_same(learnable.beta.grad, beta.grad.reshape(1), rtol=1e-5, atol=1e-5)

    per_channel = fusedact.nn.Swish(beta=torch.tensor([0.5, 1.0, 2.0]), learnable=True)
    per_channel(x).sum().backward()
    assert per_channel.beta.grad.shape == (3,)


def test_swish_accepts_a_float_or_a_tensor_under_torchscript():
    x = random_input((3, 4), torch.float32, "cpu")
    for module in (fusedact.nn.Swish(beta=0.7), fusedact.nn.Swish(beta=0.7, learnable=True)):
        scripted = torch.jit.script(module)
        assert_same(scripted(x), module(x))


@each_case
def test_autocast_runs_in_lower_precision_as_torch_prelu(case, device):
    """torch's autocast runs prelu in float16 / bfloat16 (its lower-precision list, CPU and
    CUDA); so do both channel-parameter ops: the input and the float32 parameter (a module's)
    are cast, the parameter's gradient comes back in float32."""
    half = torch.bfloat16 if device == "cpu" else torch.float16
    x = random_input((4, 6, 5), torch.float32, device)
    param = case.param(x)
    for inputs in (x, x.to(half)):
        leaf = param.detach().clone().requires_grad_()
        with torch.autocast(device, dtype=half):
            out = case.fused(inputs, leaf)
            if case.op == "prelu":
                assert torch.nn.functional.prelu(inputs, param).dtype == half
        assert out.dtype == half
        assert_same(out, case.torch(inputs.to(half), param.to(half)))
        grad = torch.randn_like(out)
        (param_grad,) = torch.autograd.grad(out, leaf, grad)
        assert param_grad.dtype == torch.float32
        # The sum over the half-precision products, in float64 (torch's own sums in 16 bits).
        exact = grad_of(
            lambda p, inputs=inputs: case.torch(inputs.to(half).double(), p), param.to(half).double(), grad.double()
        )
        assert_same(param_grad.to(half), exact.to(half))
