"""The one table the operator tests run from, and the inputs and comparisons they share.

Each row names a fusedact op, how to call it (fusedact.functional), and its reference:
torch.nn.functional's own function, called the same way. A new op is a new row. Rows of the
channel-parameter ops (prelu, swish with a tensor beta) also say how to make the parameter
for an input.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

import fusedact.functional as FF

FLOAT_DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]

# torch.testing.assert_close's defaults: dtype -> (rtol, atol).
DEFAULT_TOLERANCES = {
    torch.float16: (1e-3, 1e-5),
    torch.bfloat16: (1.6e-2, 1e-5),
    torch.float32: (1.3e-6, 1e-5),
    torch.float64: (1e-7, 1e-7),
}


def _opmath(t: torch.Tensor) -> torch.Tensor:
    """16-bit tensors in float32, as fusedact computes them; others as they are."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def in_opmath(fn: Callable) -> Callable:
    """fn computed in float32 for float16 / bfloat16 inputs and rounded once, as fusedact
    computes; the reference for ops that torch has no single function for."""

    def wrapped(x, *args, **kwargs):
        if x.dtype in (torch.float16, torch.bfloat16):
            return fn(x.float(), *(a.float() for a in args), **kwargs).to(x.dtype)
        return fn(x, *args, **kwargs)

    return wrapped


@dataclass(frozen=True)
class Case:
    """One parametrization of one pointwise operator."""

    id: str
    op: str  # name under torch.ops.fusedact and fusedact.functional
    kwargs: dict = field(default_factory=dict)
    inplace: bool = False  # has an inplace=True form (torch.ops.fusedact.<op>_)
    # The reference, called as fn(x, **kwargs, **extra); torch.nn.functional.<op> if None.
    torch_fn: Callable | None = None
    # Where torch's own result comes from one of its code paths and disagrees with its other
    # paths, the test expects torch's float64 answer instead: {(device type, dtype):
    # where(x, result) -> bool mask}, result being torch's answer there. Each entry says why.
    torch_artifacts: dict = field(default_factory=dict)
    # The same for torch's backward: {(device type, dtype): fn(case, x, grad) -> the gradient
    # to expect}, for where torch's backward kernel disagrees with its other paths.
    grad_artifacts: dict = field(default_factory=dict)
    # For a channel-parameter op: param(x) makes the tensor parameter for input x, passed
    # after x (prelu's weight, swish's beta).
    param: Callable | None = None
    param_name: str = ""
    # The name under torch.ops.fusedact, where it differs from fusedact.functional's.
    registered: str = ""

    def args(self, x, param=None):
        """The positional arguments after x: the parameter, given or made for x."""
        if self.param is None:
            return ()
        return (self.param(x) if param is None else param,)

    def fused(self, x, param=None, **extra):
        return getattr(FF, self.op)(x, *self.args(x, param), **self.kwargs, **extra)

    def torch(self, x, param=None, **extra):
        """torch's result, as it is."""
        fn = self.torch_fn or getattr(F, self.op)
        return fn(x, *self.args(x, param), **self.kwargs, **extra)

    def reference(self, x, **extra):
        """What the forward is compared to: torch's result, with the documented artifacts
        of torch's forward replaced by its float64 answer (torch_result)."""
        return torch_result(self, x, lambda t: self.torch(t, **extra))

    def reference_grad(self, x, grad):
        """What the gradient is compared to: torch's, with the documented artifacts of torch's
        backward replaced (grad_artifacts)."""
        override = self.grad_artifacts.get((x.device.type, x.dtype))
        return override(self, x, grad) if override else grad_of(self.torch, x, grad)

    @property
    def name(self):
        """The operator's name under torch.ops.fusedact, as its errors spell it."""
        return self.registered or self.op

    def fused_op(self):
        return getattr(torch.ops.fusedact, self.name).default

    def backward_op(self):
        return getattr(torch.ops.fusedact, f"{self.name}_backward").default

    def __str__(self):
        return self.id


def onednn_gelu(x, result):
    """torch's float32 / bfloat16 CPU gelu runs oneDNN's gelu_erf (float16 too, on CPUs with
    AVX512-FP16), which returns NaN at +inf, overflows to inf above half the float32 maximum (it
    forms 2x), and (on some CPUs) gives +0.0 where the negative result underflows; torch's
    float64 and CUDA paths give +inf, the input itself (x * Phi(x) with Phi = 1) and -0.0. And
    its left tail (below)."""
    positive_zero = (result == 0) & ~result.signbit()
    oneDNN = (x == math.inf) | (x > torch.finfo(torch.float32).max / 2) | (x.signbit() & positive_zero)
    return oneDNN | _gelu_left_tail(x)


def _gelu_left_tail(x):
    """Below -4.5, torch's float32 gelu, x (1 + erf(x / sqrt 2)) / 2, keeps erf's absolute error
    near -1 (up to 4e-7, most of gelu's value there) and rounds to 0 from about -5.5, where the
    result is still a normal float; fusedact's normal CDF is within 3e-9 there and 0 below -6."""
    return (x >= -6) & (x < -4.5)


_ONEDNN_GELU = {("cpu", dtype): onednn_gelu for dtype in (torch.float32, torch.bfloat16, torch.float16)}


def _scalar_path_at_nan(case, x, grad):
    """torch's CPU elu_backward and hardswish_backward select with one set of comparisons in their
    vector loop and another in their scalar tail and on CUDA (elu: x > 0 against x <= 0), so a
    NaN input gets a NaN gradient or another answer depending on where it sits in the tensor.
    fusedact follows torch's formula as its scalar and CUDA kernels write it; expected at NaN
    inputs: torch's answer for that element alone, which takes the scalar path."""
    expected = grad_of(case.torch, x, grad)
    for i in x.isnan().flatten().nonzero().flatten().tolist():
        expected.view(-1)[i] = grad_of(case.torch, x.reshape(-1)[i : i + 1], grad.reshape(-1)[i : i + 1])[0]
    return expected


_ELU_NAN_GRAD = {("cpu", dtype): _scalar_path_at_nan for dtype in FLOAT_DTYPES}


def _sigmoid_grad_in_float(case, x, grad):
    """torch's CPU sigmoid_backward for float16 does Vectorized<Half> arithmetic, rounding after
    every operation; its CUDA kernel (and fusedact) compute in float32 and round once. Expected:
    torch's own sigmoid_backward run in float32 on the same float16 output, rounded once."""
    y = torch.sigmoid(x)
    return torch.ops.aten.sigmoid_backward(grad.float(), y.float()).to(x.dtype)


def _gelu_grad_in_float(case, x, grad):
    """Likewise torch's CPU gelu_backward for float16 on CPUs with AVX512-FP16 (native float16
    arithmetic). Expected: torch's gelu_backward in float32 on the same values, rounded once, as
    it computes on other CPUs; and in [-14, -4.5), where its Phi(x) cancels (_gelu_left_tail)
    and a result that rounds to zero may take the wrong sign, the float64 answer (below -14 the
    derivative underflows float32, in torch and fusedact alike)."""
    in_float = torch.ops.aten.gelu_backward(grad.float(), x.float()).double()
    exact = torch.ops.aten.gelu_backward(grad.double(), x.double())
    return torch.where((x >= -14) & (x < -4.5), exact, in_float).to(x.dtype)


@in_opmath
def _swish(x, beta=1.0):
    return x * torch.sigmoid(_per_channel(beta, x) * x)


def _per_channel(param, x):
    """A tensor parameter viewed to broadcast against x as prelu's weight does: one value to
    every element (the output keeps x's shape), one per channel along dim 1."""
    if not isinstance(param, torch.Tensor):
        return param
    if param.numel() == 1:
        return param.reshape(())
    return param.reshape([1, -1] + [1] * (x.dim() - 2))


def _param_like(x, count, low, high):
    dtype = x.dtype if x.is_floating_point() else torch.float32
    return torch.linspace(low, high, count, dtype=torch.float64).to(dtype=dtype, device=x.device)


def channels(x):
    """How many parameters a per-channel op takes for x: dim 1's size, 1 below 2-D."""
    return x.shape[1] if x.dim() >= 2 else 1


def _prelu_weights(x):
    return _param_like(x, channels(x), -0.4, 1.3)  # slopes of both signs


def _prelu_weight(x):
    return _param_like(x, 1, 0.25, 0.25)


def _swish_betas(x):
    return _param_like(x, channels(x), -1.0, 2.0)


def _swish_beta(x):
    return _param_like(x, 1, 1.5, 1.5)


def _in_float32(fn):
    """torch's 16-bit CPU kernels of the clamping ops (hardtanh, relu6, softshrink, hardshrink)
    differ from its float32 and CUDA ones: the backward passes the gradient through at NaN,
    softshrink's forward gives -0.0 inside [-lambd, 0). Expected: torch's float32 answer,
    rounded once, as its CUDA kernels give."""
    return in_opmath(fn)


def _softshrink(x, lambd=0.5):
    """torch's CPU softshrink gives x * 0 inside [-lambd, lambd] in its scalar tail (-0.0 for a
    negative x) but +0.0 in its vector loop, as its CUDA kernel does. Expected: torch's answer
    plus +0.0, which turns only those -0.0 into +0.0."""
    return F.softshrink(x, lambd) + 0.0


@in_opmath
def _quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


POINTWISE = [
    Case("sigmoid", "sigmoid", grad_artifacts={("cpu", torch.float16): _sigmoid_grad_in_float}),
    Case("tanh", "tanh"),
    Case("relu", "relu", inplace=True),
    Case("leaky_relu", "leaky_relu", inplace=True),
    Case("leaky_relu_0.2", "leaky_relu", {"negative_slope": 0.2}, inplace=True),
    Case("leaky_relu_neg", "leaky_relu", {"negative_slope": -0.3}),
    Case("elu", "elu", inplace=True, grad_artifacts=_ELU_NAN_GRAD),
    Case("elu_0.5", "elu", {"alpha": 0.5}, inplace=True, grad_artifacts=_ELU_NAN_GRAD),
    Case("selu", "selu", inplace=True, grad_artifacts=_ELU_NAN_GRAD),
    Case("gelu", "gelu", torch_artifacts=_ONEDNN_GELU, grad_artifacts={("cpu", torch.float16): _gelu_grad_in_float}),
    Case("gelu_tanh", "gelu", {"approximate": "tanh"}),
    Case("quick_gelu", "quick_gelu", torch_fn=_quick_gelu),
    Case("silu", "silu", inplace=True),
    Case("swish", "swish", torch_fn=_swish),
    Case("swish_0.5", "swish", {"beta": 0.5}, torch_fn=_swish),
    Case("mish", "mish", inplace=True),
    Case("prelu", "prelu", param=_prelu_weights, param_name="weight"),
    Case("prelu_one_weight", "prelu", param=_prelu_weight, param_name="weight"),
    Case("swish_betas", "swish", param=_swish_betas, param_name="beta", registered="swish_tensor", torch_fn=_swish),
    Case("swish_one_beta", "swish", param=_swish_beta, param_name="beta", registered="swish_tensor", torch_fn=_swish),
    Case("softplus", "softplus"),
    Case("softplus_0.5_10", "softplus", {"beta": 0.5, "threshold": 10.0}),
    Case("hardtanh", "hardtanh", inplace=True, torch_fn=_in_float32(F.hardtanh)),
    Case(
        "hardtanh_-2_1.5", "hardtanh", {"min_val": -2.0, "max_val": 1.5}, inplace=True, torch_fn=_in_float32(F.hardtanh)
    ),
    Case("relu6", "relu6", inplace=True, torch_fn=_in_float32(F.relu6)),
    Case("hardsigmoid", "hardsigmoid", inplace=True),
    Case("hardswish", "hardswish", inplace=True, grad_artifacts=_ELU_NAN_GRAD),
    Case("celu", "celu", inplace=True, grad_artifacts=_ELU_NAN_GRAD),
    Case("celu_0.7", "celu", {"alpha": 0.7}, inplace=True, grad_artifacts=_ELU_NAN_GRAD),
    Case("logsigmoid", "logsigmoid"),
    Case("softsign", "softsign", torch_fn=in_opmath(F.softsign)),
    Case("tanhshrink", "tanhshrink", torch_fn=in_opmath(F.tanhshrink)),
    Case("softshrink", "softshrink", torch_fn=_in_float32(_softshrink)),
    Case("softshrink_1.5", "softshrink", {"lambd": 1.5}, torch_fn=_in_float32(_softshrink)),
    Case("hardshrink", "hardshrink", torch_fn=_in_float32(F.hardshrink)),
    Case("hardshrink_1.5", "hardshrink", {"lambd": 1.5}, torch_fn=_in_float32(F.hardshrink)),
    Case("threshold", "threshold", {"threshold": 0.5, "value": -2.0}, inplace=True),
    Case("relu_squared", "relu_squared", torch_fn=in_opmath(lambda x: torch.square(F.relu(x)))),
]


CHANNEL_PARAM = [c for c in POINTWISE if c.param is not None]


@dataclass(frozen=True)
class GluCase:
    """One GLU op: act(gate) * up, called as op(gate, up) or op(x, dim=d), the gate the first
    half of x (the second with gate_second, as torch's glu, whose functional form is only
    the split one: its pair form is called through torch.ops)."""

    id: str
    op: str  # name under fusedact.functional and torch.ops.fusedact
    act: str  # the POINTWISE row of its activation ("" with torch_pair)
    kwargs: dict = field(default_factory=dict)
    gate_second: bool = False
    torch_pair: Callable | None = None  # torch's composition (gate, up, **kwargs), when not act(gate) * up

    def fused(self, *args, **extra):
        if self.gate_second and len(args) == 2:
            return getattr(torch.ops.fusedact, self.op)(*args, **self.kwargs, **extra)
        return getattr(FF, self.op)(*args, **self.kwargs, **extra)

    def halves(self, x, dim=-1):
        """(gate, up) of x along dim."""
        first, second = x.chunk(2, dim)
        return (second, first) if self.gate_second else (first, second)

    def join(self, gate_part, up_part, dim=-1):
        """The tensor of x's shape with gate_part where x's gate is and up_part where its up is."""
        return torch.cat((up_part, gate_part) if self.gate_second else (gate_part, up_part), dim)

    def act_case(self):
        """The POINTWISE row of its activation."""
        (act,) = [c for c in POINTWISE if c.id == self.act]
        return act

    def reference_pair(self, gate, up):
        """torch's act(gate) * up, its activation as the POINTWISE row's reference (torch's
        forward artifacts replaced), or torch_pair; in float32 for 16-bit inputs, rounded once."""
        dtype = gate.dtype
        if self.torch_pair is not None:
            return self.torch_pair(_opmath(gate), _opmath(up), **self.kwargs).to(dtype)
        return (self.act_case().reference(_opmath(gate)) * _opmath(up)).to(dtype)

    def reference_split(self, x, dim=-1):
        return self.reference_pair(*self.halves(x, dim))

    def reference_grads(self, gate, up, grad, dtype=None):
        """The gradients of act(gate) * up as autograd takes them: up's is grad * act(gate),
        gate's is torch's backward of act applied to grad * up; in float32 for 16-bit inputs,
        rounded once (to dtype, if given)."""
        dtype = dtype or gate.dtype
        gate, up, grad = _opmath(gate), _opmath(up), _opmath(grad)
        if self.torch_pair is not None:
            leaves = (gate.detach().requires_grad_(), up.detach().requires_grad_())
            grads = torch.autograd.grad(self.torch_pair(*leaves, **self.kwargs), leaves, grad)
            return tuple(g.to(dtype) for g in grads)
        leaf = gate.detach().requires_grad_()
        (grad_gate,) = torch.autograd.grad(self.act_case().torch(leaf), leaf, grad * up)
        return grad_gate.to(dtype), (grad * self.act_case().reference(gate)).to(dtype)

    def gate_slope(self, gate):
        """The derivative of the gate's activation, in float64 (for torch_pair: of its output
        with up = 0)."""
        leaf = gate.double().requires_grad_()
        if self.torch_pair is not None:
            out = self.torch_pair(leaf, torch.zeros_like(leaf), **self.kwargs)
        else:
            out = self.act_case().torch(leaf)
        return torch.autograd.grad(out, leaf, torch.ones_like(leaf))[0]

    def exact_zero_gate_grad(self, gate, up, grad):
        """Where the gate's gradient is exactly zero in float64: there its sign is meant (act's
        derivative is 0, or grad * up is a signed zero). Elsewhere a zero is an underflow, whose
        sign float32 arithmetic does not keep (torch's float32 CPU gelu backward cancels to
        +0.0 below about -6, where the derivative is a tiny negative number)."""
        return self.reference_grads(gate.double(), up.double(), grad.double())[0] == 0

    def __str__(self):
        return self.id


def _clamped_swiglu(gate, up, limit=7.0, alpha=1.702):
    """gpt-oss's SwiGLU as transformers' GptOssExperts writes it."""
    gate = gate.clamp(min=None, max=limit)
    up = up.clamp(min=-limit, max=limit)
    return (up + 1) * (gate * torch.sigmoid(gate * alpha))


GLU = [
    GluCase("swiglu", "swiglu", "silu"),
    GluCase("geglu", "geglu", "gelu"),
    GluCase("geglu_tanh", "geglu", "gelu_tanh", {"approximate": "tanh"}),
    GluCase("reglu", "reglu", "relu"),
    GluCase("relu_squared_glu", "relu_squared_glu", "relu_squared"),
    GluCase("quick_gelu_glu", "quick_gelu_glu", "quick_gelu"),
    GluCase("glu", "glu", "sigmoid", gate_second=True),
    GluCase("clamped_swiglu", "clamped_swiglu", "", torch_pair=_clamped_swiglu),
    GluCase("clamped_swiglu_3_1", "clamped_swiglu", "", {"limit": 3.0, "alpha": 1.0}, torch_pair=_clamped_swiglu),
]


# ---- inputs ----------------------------------------------------------------------------


def random_input(shape, dtype, device, seed=0, scale=3.0):
    """Draws from N(0, scale^2) in float64, then rounds once to dtype."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=torch.float64) * scale).to(dtype=dtype, device=device)


def extreme_values(dtype):
    """SPEC section 2's extremes: +-1e4, +-max, +-inf, NaN, +-0, subnormals, and the
    smallest normal; plus values where activations saturate."""
    fi = torch.finfo(dtype)
    subnormal = fi.tiny / 4 if dtype != torch.bfloat16 else fi.tiny / 2
    return [
        math.inf,
        -math.inf,
        math.nan,
        0.0,
        -0.0,
        1e4,
        -1e4,
        fi.max,
        -fi.max,
        subnormal,
        -subnormal,
        fi.tiny,
        -fi.tiny,
        1.0,
        -1.0,
        20.0,
        -20.0,
        100.0,
        -100.0,
    ]


def extreme_input(dtype, device):
    return torch.tensor(extreme_values(dtype), dtype=torch.float64).to(dtype=dtype, device=device)


def torch_result(case: Case, x: torch.Tensor, fn: Callable) -> torch.Tensor:
    """fn(x) (torch), with the case's documented artifacts replaced by torch's float64 answer."""
    where = case.torch_artifacts.get((x.device.type, x.dtype))
    if where is None:
        return fn(x)
    exact = fn(x.double()).to(x.dtype)  # first: fn may write into x
    x_before = x.detach().clone()
    result = fn(x)
    return torch.where(where(x_before, result.detach()), exact, result)


def grad_of(fn, x, grad):
    """d(sum(fn(x) * grad))/dx through autograd, for a fresh leaf copy of x."""
    leaf = x.detach().clone().requires_grad_()
    (result,) = torch.autograd.grad(fn(leaf), leaf, grad)
    return result


# ---- comparison ----------------------------------------------------------------------------


def assert_same(actual: torch.Tensor, expected: torch.Tensor, signed_zeros=None, **tolerances):
    """assert_close (default tolerances unless given) plus SPEC section 2's special values:
    NaN where the reference has NaN, the same infinities, and the same sign on zeros (where
    the bool mask signed_zeros holds, if given)."""
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    torch.testing.assert_close(actual, expected, equal_nan=True, **tolerances)
    a, e = actual.detach().cpu().double(), expected.detach().cpu().double()
    zeros = e == 0
    if signed_zeros is not None:
        zeros &= signed_zeros.cpu()
    mismatch = zeros & (a == 0) & (a.signbit() != e.signbit())
    assert not mismatch.any(), f"signed zeros differ at {mismatch.nonzero().flatten().tolist()}"
    inf = e.isinf()
    assert torch.equal(a[inf], e[inf]), f"infinities differ: {a[inf].tolist()} vs {e[inf].tolist()}"


def assert_gate_grad_close(actual, expected, grad_times_up, signed_zeros=None):
    """A product f(gate) * m, f computed within tolerance: its rounding error scales with |m|,
    so it is compared as f is (for |m| at most 1). The gate's gradient is act's backward
    applied to grad * up (m = grad * up); a GLU's output is act(gate) * up (m = up)."""
    scale = grad_times_up.double().abs().nan_to_num(nan=1.0, posinf=1.0).clamp(min=1.0)
    assert actual.dtype == expected.dtype
    rtol, atol = DEFAULT_TOLERANCES[actual.dtype]
    assert_same(actual.double() / scale, expected.double() / scale, signed_zeros, rtol=rtol, atol=atol)


#: The ops along a dim of the softmax family.
SOFTMAX_OPS = ["softmax", "log_softmax", "softmin"]


def torch_softmax_backward(name, grad, output, dim):
    """torch's gradient of softmax / log_softmax / softmin from their output, in output's dtype.
    softmin is softmax of -x, so its gradient is softmax's negated."""
    if name == "softmin":
        return -torch.ops.aten._softmax_backward_data(grad, output, dim, output.dtype)
    return getattr(torch.ops.aten, f"_{name}_backward_data")(grad, output, dim, output.dtype)


def softmax_grad_reference(name, grad, output, dim):
    """The softmax family's gradient from the output, torch's backward in float64 rounded to
    the output's dtype, and the tolerances to compare with: the dtype's rtol, and an atol of
    1e-5 plus the rounding of the row's sum of |grad| (2 ulp of float32, or of float64), which a
    kernel may add in another order."""
    expected = torch_softmax_backward(name, grad.double(), output.detach().double(), dim).to(output.dtype)
    eps = torch.finfo(torch.float64 if output.dtype == torch.float64 else torch.float32).eps
    row_sum = grad.double().abs().sum(dim).max().item()
    return expected, {"rtol": DEFAULT_TOLERANCES[output.dtype][0], "atol": 1e-5 + 2 * eps * row_sum}


def softmax_reference(name, x, dim):
    """torch's result. torch's CPU log_softmax of float16 / bfloat16 rows along the last dim is
    off by up to a few units in the last place (its arithmetic is partly in 16 bits); its CUDA
    kernel, and fusedact, compute in float32 and round once: there, torch's float32 answer
    rounded once."""
    if name == "log_softmax" and x.device.type == "cpu" and x.dtype in (torch.float16, torch.bfloat16):
        return getattr(F, name)(x.float(), dim).to(x.dtype)
    return getattr(F, name)(x, dim)
