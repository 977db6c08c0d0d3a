"""fusedact.functional: one function per operator, with torch.nn.functional's signature.

Each calls the fused operator ``torch.ops.fusedact.<name>`` (the ``inplace=True`` forms call
``<name>_`` and return their input) through its dispatcher entry point, ``_ops.<name>`` (see
_ops.py); results match the torch.nn.functional twin (see the numerics contract in the README).
"""

import warnings

import torch
from torch import Tensor

from . import _ops

__all__ = [
    "celu",
    "clamped_swiglu",
    "elu",
    "gated_ffn",
    "geglu",
    "gelu",
    "glu",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "leaky_relu",
    "log_softmax",
    "logsigmoid",
    "mish",
    "prelu",
    "quick_gelu",
    "quick_gelu_glu",
    "reglu",
    "relu",
    "relu6",
    "relu_squared",
    "relu_squared_glu",
    "rrelu",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softmin",
    "softplus",
    "softshrink",
    "softsign",
    "swiglu",
    "swiglu_ffn",
    "swish",
    "tanh",
    "tanhshrink",
    "threshold",
]


def sigmoid(input: Tensor) -> Tensor:
    r"""sigmoid(x) = 1 / (1 + exp(-x)). As :func:`torch.sigmoid`."""
    return _ops.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    r"""tanh(x). As :func:`torch.tanh`."""
    return _ops.tanh(input)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    r"""relu(x) = max(0, x). As :func:`torch.nn.functional.relu`."""
    if inplace:
        _ops.relu_(input)
        return input
    return _ops.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    r"""x if x > 0 else negative_slope * x. As :func:`torch.nn.functional.leaky_relu`."""
    if inplace:
        _ops.leaky_relu_(input, negative_slope)
        return input
    return _ops.leaky_relu(input, negative_slope)


def rrelu(
    input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False, inplace: bool = False
) -> Tensor:
    r"""x if x > 0 else r * x. As :func:`torch.nn.functional.rrelu`: in training, r is drawn for
    each element uniformly from [lower, upper) (from one draw of torch's generator on the input's
    device, so :func:`torch.manual_seed` governs it; backward recomputes the same slopes rather
    than saving them), else r = (lower + upper) / 2."""
    seed: Tensor | None = None
    if training:  # uniform over the non-negative int64s (TorchScript takes no global here)
        seed = torch.randint(9223372036854775807, [], dtype=torch.int64, device=input.device)
    if inplace:
        _ops.rrelu_(input, seed, lower, upper)
        return input
    return _ops.rrelu(input, seed, lower, upper)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    r"""x if x > 0 else weight * x, weight one value or one per channel (dim 1 of the input).
    As :func:`torch.nn.functional.prelu`."""
    return _ops.prelu(input, weight)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    r"""x if x > 0 else alpha * (exp(x) - 1). As :func:`torch.nn.functional.elu`."""
    if inplace:
        _ops.elu_(input, alpha)
        return input
    return _ops.elu(input, alpha)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    r"""scale * elu(x, alpha) with SELU's constants. As :func:`torch.nn.functional.selu`."""
    if inplace:
        _ops.selu_(input)
        return input
    return _ops.selu(input)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    r"""gelu(x) = x * Phi(x), Phi the standard normal CDF. As :func:`torch.nn.functional.gelu`.

    ``approximate='tanh'`` gives 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    """
    return _ops.gelu(input, approximate=approximate)


def quick_gelu(input: Tensor) -> Tensor:
    r"""x * sigmoid(1.702 x), CLIP's approximation of gelu."""
    return _ops.quick_gelu(input)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    r"""silu(x) = x * sigmoid(x). As :func:`torch.nn.functional.silu`."""
    if inplace:
        _ops.silu_(input)
        return input
    return _ops.silu(input)


def swish(input: Tensor, beta: float | Tensor = 1.0) -> Tensor:
    r"""swish(x) = x * sigmoid(beta x) (silu when beta = 1).

    ``beta`` is a Python number, or a tensor that receives a gradient: one value, or one per
    channel (dim 1 of the input, as :func:`torch.nn.functional.prelu`'s weight).
    """
    if isinstance(beta, Tensor):
        return _ops.swish_tensor(input, beta)
    return _ops.swish(input, beta)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    r"""mish(x) = x * tanh(softplus(x)). As :func:`torch.nn.functional.mish`."""
    if inplace:
        _ops.mish_(input)
        return input
    return _ops.mish(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    r"""log(1 + exp(beta x)) / beta, and x where beta x > threshold.
    As :func:`torch.nn.functional.softplus`."""
    return _ops.softplus(input, beta, threshold)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    r"""min(max(x, min_val), max_val). As :func:`torch.nn.functional.hardtanh`."""
    if inplace:
        _ops.hardtanh_(input, min_val, max_val)
        return input
    return _ops.hardtanh(input, min_val, max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    r"""min(max(x, 0), 6). As :func:`torch.nn.functional.relu6`."""
    if inplace:
        _ops.relu6_(input)
        return input
    return _ops.relu6(input)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    r"""relu6(x + 3) / 6. As :func:`torch.nn.functional.hardsigmoid`."""
    if inplace:
        _ops.hardsigmoid_(input)
        return input
    return _ops.hardsigmoid(input)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    r"""x * relu6(x + 3) / 6. As :func:`torch.nn.functional.hardswish`."""
    if inplace:
        _ops.hardswish_(input)
        return input
    return _ops.hardswish(input)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    r"""max(0, x) + min(0, alpha * (exp(x / alpha) - 1)). As :func:`torch.nn.functional.celu`."""
    if inplace:
        _ops.celu_(input, alpha)
        return input
    return _ops.celu(input, alpha)


def logsigmoid(input: Tensor) -> Tensor:
    r"""log(sigmoid(x)). As :func:`torch.nn.functional.logsigmoid`."""
    return _ops.logsigmoid(input)


def softsign(input: Tensor) -> Tensor:
    r"""x / (1 + abs(x)). As :func:`torch.nn.functional.softsign`."""
    return _ops.softsign(input)


def tanhshrink(input: Tensor) -> Tensor:
    r"""x - tanh(x). As :func:`torch.nn.functional.tanhshrink`."""
    return _ops.tanhshrink(input)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    r"""x - lambd above lambd, x + lambd below -lambd, 0 between. As
    :func:`torch.nn.functional.softshrink`."""
    return _ops.softshrink(input, lambd)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    r"""x outside [-lambd, lambd], 0 inside. As :func:`torch.nn.functional.hardshrink`."""
    return _ops.hardshrink(input, lambd)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    r"""value where x <= threshold, else x. As :func:`torch.nn.functional.threshold`."""
    if inplace:
        _ops.threshold_(input, threshold, value)
        return input
    return _ops.threshold(input, threshold, value)


def relu_squared(input: Tensor) -> Tensor:
    r"""relu(x)^2, the squared ReLU of Primer (So et al. 2021); transformers' ``relu2``
    (``ReLUSquaredActivation``)."""
    return _ops.relu_squared(input)


# GLU variants, act(gate) * up. ``f(gate, up)`` takes the two as tensors of one shape;
# ``f(input, dim=-1)`` splits input in two along dim, the gate being the FIRST half as in
# LLaMA's feed-forward block (torch.nn.functional.glu gates with the second half). Each is
# one fused kernel forward and one backward that writes both gradients (into one buffer for
# the split form).


def swiglu(input: Tensor, other: Tensor | None = None, dim: int = -1) -> Tensor:
    r"""silu(gate) * up: ``swiglu(gate, up)``, or ``swiglu(x, dim=-1)`` with
    gate, up = x.chunk(2, dim). Reference: ``F.silu(gate) * up``."""
    if other is None:
        return _ops.swiglu_split(input, dim)
    return _ops.swiglu(input, other)


def geglu(input: Tensor, other: Tensor | None = None, dim: int = -1, approximate: str = "none") -> Tensor:
    r"""gelu(gate, approximate) * up: ``geglu(gate, up)``, or ``geglu(x, dim=-1)`` with
    gate, up = x.chunk(2, dim). Reference: ``F.gelu(gate, approximate=approximate) * up``."""
    if other is None:
        return _ops.geglu_split(input, dim, approximate=approximate)
    return _ops.geglu(input, other, approximate=approximate)


def reglu(input: Tensor, other: Tensor | None = None, dim: int = -1) -> Tensor:
    r"""relu(gate) * up: ``reglu(gate, up)``, or ``reglu(x, dim=-1)`` with
    gate, up = x.chunk(2, dim). Reference: ``F.relu(gate) * up``."""
    if other is None:
        return _ops.reglu_split(input, dim)
    return _ops.reglu(input, other)


def relu_squared_glu(input: Tensor, other: Tensor | None = None, dim: int = -1) -> Tensor:
    r"""relu(gate)^2 * up: ``relu_squared_glu(gate, up)``, or ``relu_squared_glu(x, dim=-1)``
    with gate, up = x.chunk(2, dim). Reference: ``F.relu(gate) ** 2 * up``."""
    if other is None:
        return _ops.relu_squared_glu_split(input, dim)
    return _ops.relu_squared_glu(input, other)


def quick_gelu_glu(input: Tensor, other: Tensor | None = None, dim: int = -1) -> Tensor:
    r"""quick_gelu(gate) * up, quick_gelu(g) = g * sigmoid(1.702 g): ``quick_gelu_glu(gate, up)``,
    or ``quick_gelu_glu(x, dim=-1)`` with ``gate, up = x.chunk(2, dim)``."""
    if other is None:
        return _ops.quick_gelu_glu_split(input, dim)
    return _ops.quick_gelu_glu(input, other)


def clamped_swiglu(
    input: Tensor, other: Tensor | None = None, dim: int = -1, limit: float = 7.0, alpha: float = 1.702
) -> Tensor:
    r"""gpt-oss's SwiGLU, ``(up.clamp(-limit, limit) + 1) * g * sigmoid(alpha * g)`` with
    ``g = gate.clamp(max=limit)``: ``clamped_swiglu(gate, up)``, or ``clamped_swiglu(x, dim=-1)``
    with gate, up = x.chunk(2, dim). Clamped values get no gradient, as through torch's clamp."""
    if other is None:
        return _ops.clamped_swiglu_split(input, dim, limit, alpha)
    return _ops.clamped_swiglu(input, other, limit, alpha)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    r"""a * sigmoid(b) with a, b = input.chunk(2, dim): the gate is the SECOND half, as in
    :func:`torch.nn.functional.glu` (the other GLU ops here gate with the first)."""
    return _ops.glu_split(input, dim)


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    """torch.nn.functional's choice of dim when none is given, with its warning."""
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument.",
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_in(op, input: Tensor, dim: int, dtype: torch.dtype | None) -> Tensor:
    """op(input cast to dtype, dim). An explicit dtype is the caller's: CUDA autocast, which runs
    softmax in float32, leaves it alone, as torch's does."""
    if dtype is None:
        return op(input, dim, False)
    input = input.to(dtype)
    if input.is_cuda and torch.is_autocast_enabled("cuda"):
        with torch.autocast("cuda", enabled=False):
            return op(input, dim, False)
    return op(input, dim, False)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: torch.dtype | None = None) -> Tensor:
    r"""softmax(x)_i = exp(x_i - max) / sum_k exp(x_k - max) along ``dim``. As
    :func:`torch.nn.functional.softmax`: ``dtype`` casts the input first; the result is
    contiguous."""
    if dim is None:
        dim = _softmax_dim("softmax", input.dim(), _stacklevel)
    return _softmax_in(_ops.softmax, input, dim, dtype)


def log_softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: torch.dtype | None = None
) -> Tensor:
    r"""log_softmax(x)_i = x_i - max - log(sum_k exp(x_k - max)) along ``dim``. As
    :func:`torch.nn.functional.log_softmax`: ``dtype`` casts the input first; the result is
    contiguous."""
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim(), _stacklevel)
    return _softmax_in(_ops.log_softmax, input, dim, dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: torch.dtype | None = None) -> Tensor:
    r"""softmax(-x) along ``dim`` in one pass, as :func:`torch.nn.functional.softmin`:
    ``dtype`` casts the input first; the result is contiguous."""
    if dim is None:
        dim = _softmax_dim("softmin", input.dim(), _stacklevel)
    return _softmax_in(_ops.softmin, input, dim, dtype)


#: The gate activations of :func:`gated_ffn`, with the GLU op each runs (its function here
#: and keyword arguments).
FFN_ACTIVATIONS = {
    "silu": ("swiglu", {}),
    "gelu": ("geglu", {}),
    "gelu_tanh": ("geglu", {"approximate": "tanh"}),
    "relu": ("reglu", {}),
    "quick_gelu": ("quick_gelu_glu", {}),
}


def gated_ffn(
    input: Tensor,
    w_gate: Tensor,
    w_up: Tensor,
    w_down: Tensor,
    b_gate: Tensor | None = None,
    b_up: Tensor | None = None,
    b_down: Tensor | None = None,
    activation: str = "silu",
) -> Tensor:
    r"""The gated feed-forward block of LLaMA-style transformers,
    ``(act(x w_gate^T + b_gate) * (x w_up^T + b_up)) w_down^T + b_down``, weights laid out as
    :class:`torch.nn.Linear` stores them (``[hidden, in]``, ``[hidden, in]``, ``[out, hidden]``),
    ``act`` one of ``"silu"`` (SwiGLU: LLaMA, Mistral, Qwen), ``"gelu"``, ``"gelu_tanh"``
    (GeGLU: Gemma, T5 v1.1), ``"relu"`` or ``"quick_gelu"``.

    One operator: the projections are ATen GEMMs (one for gate and up when ``w_gate`` and
    ``w_up`` are the two halves of one tensor, as Phi-3's packed ``gate_up_proj``), the
    element-wise work is the fused GLU kernel, and backward keeps only ``input`` and the
    gate/up projections.
    """
    return _ops.gated_ffn(input, w_gate, w_up, w_down, b_gate, b_up, b_down, activation=activation)


def swiglu_ffn(
    input: Tensor,
    w_gate: Tensor,
    w_up: Tensor,
    w_down: Tensor,
    b_gate: Tensor | None = None,
    b_up: Tensor | None = None,
    b_down: Tensor | None = None,
) -> Tensor:
    r"""The SwiGLU feed-forward block, :func:`gated_ffn` with ``activation="silu"``:
    ``(silu(x w_gate^T + b_gate) * (x w_up^T + b_up)) w_down^T + b_down``. Reference:
    transformers' ``LlamaMLP``.
    """
    return _ops.gated_ffn(input, w_gate, w_up, w_down, b_gate, b_up, b_down)
