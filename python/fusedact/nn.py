"""fusedact.nn: one module per operator, drop-in replacements for the torch.nn activations.

Each module with a torch.nn twin subclasses it, so the constructor signature, attributes,
repr, state_dict keys and ``isinstance`` checks are torch.nn's own; only ``forward`` runs
the fused operator. QuickGELU, Swish and ReLUSquared have no torch.nn twin.
"""

import torch
from torch import Tensor

from . import functional as F

__all__ = [
    "CELU",
    "ClampedSwiGLU",
    "ELU",
    "GEGLU",
    "GELU",
    "GLU",
    "GatedFFN",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "LeakyReLU",
    "LogSigmoid",
    "LogSoftmax",
    "Mish",
    "PReLU",
    "QuickGELU",
    "QuickGELUGLU",
    "ReGLU",
    "ReLU",
    "ReLU6",
    "ReLUSquared",
    "ReLUSquaredGLU",
    "RReLU",
    "SELU",
    "Sigmoid",
    "SiLU",
    "Softmax",
    "Softmax2d",
    "Softmin",
    "Softplus",
    "Softshrink",
    "Softsign",
    "SwiGLU",
    "SwiGLUFFN",
    "Swish",
    "Tanh",
    "Tanhshrink",
    "Threshold",
]


class Sigmoid(torch.nn.Sigmoid):
    """As :class:`torch.nn.Sigmoid`."""

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(torch.nn.Tanh):
    """As :class:`torch.nn.Tanh`."""

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class ReLU(torch.nn.ReLU):
    """As :class:`torch.nn.ReLU` (``inplace=False``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input, inplace=self.inplace)


class LeakyReLU(torch.nn.LeakyReLU):
    """As :class:`torch.nn.LeakyReLU` (``negative_slope=0.01, inplace=False``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)


class RReLU(torch.nn.RReLU):
    """As :class:`torch.nn.RReLU` (``lower=1/8, upper=1/3, inplace=False``): random slopes in
    training, their mean in evaluation."""

    def forward(self, input: Tensor) -> Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)


class PReLU(torch.nn.PReLU):
    """As :class:`torch.nn.PReLU` (``num_parameters=1, init=0.25``): a learnable ``weight``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)


class ELU(torch.nn.ELU):
    """As :class:`torch.nn.ELU` (``alpha=1.0, inplace=False``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha, self.inplace)


class SELU(torch.nn.SELU):
    """As :class:`torch.nn.SELU` (``inplace=False``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.selu(input, self.inplace)


class GELU(torch.nn.GELU):
    """As :class:`torch.nn.GELU` (``approximate='none'``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)


class Hardtanh(torch.nn.Hardtanh):
    """As :class:`torch.nn.Hardtanh` (``min_val=-1.0, max_val=1.0, inplace=False``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)


class ReLU6(torch.nn.ReLU6):
    """As :class:`torch.nn.ReLU6` (``inplace=False``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.relu6(input, self.inplace)


class Hardsigmoid(torch.nn.Hardsigmoid):
    """As :class:`torch.nn.Hardsigmoid` (``inplace=False``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.hardsigmoid(input, self.inplace)


class Hardswish(torch.nn.Hardswish):
    """As :class:`torch.nn.Hardswish` (``inplace=False``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.hardswish(input, self.inplace)


class CELU(torch.nn.CELU):
    """As :class:`torch.nn.CELU` (``alpha=1.0, inplace=False``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.celu(input, self.alpha, self.inplace)


class LogSigmoid(torch.nn.LogSigmoid):
    """As :class:`torch.nn.LogSigmoid`."""

    def forward(self, input: Tensor) -> Tensor:
        return F.logsigmoid(input)


class Softsign(torch.nn.Softsign):
    """As :class:`torch.nn.Softsign`."""

    def forward(self, input: Tensor) -> Tensor:
        return F.softsign(input)


class Tanhshrink(torch.nn.Tanhshrink):
    """As :class:`torch.nn.Tanhshrink`."""

    def forward(self, input: Tensor) -> Tensor:
        return F.tanhshrink(input)


class Softshrink(torch.nn.Softshrink):
    """As :class:`torch.nn.Softshrink` (``lambd=0.5``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.softshrink(input, self.lambd)


class Hardshrink(torch.nn.Hardshrink):
    """As :class:`torch.nn.Hardshrink` (``lambd=0.5``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.hardshrink(input, self.lambd)


class Threshold(torch.nn.Threshold):
    """As :class:`torch.nn.Threshold` (``threshold, value, inplace=False``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.threshold(input, self.threshold, self.value, self.inplace)


class ReLUSquared(torch.nn.Module):
    """relu(x)^2, the squared ReLU of Primer; transformers' ``ReLUSquaredActivation``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.relu_squared(input)


class QuickGELU(torch.nn.Module):
    """x * sigmoid(1.702 x), CLIP's GELU."""

    def forward(self, input: Tensor) -> Tensor:
        return F.quick_gelu(input)


class SiLU(torch.nn.SiLU):
    """As :class:`torch.nn.SiLU` (``inplace=False``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.silu(input, inplace=self.inplace)


class Swish(torch.nn.Module):
    """x * sigmoid(beta x).

    ``learnable=False``: beta is the number given. ``learnable=True``: beta is a parameter
    named ``beta``, initialised from the number (one value) or the tensor given (one value
    per channel, dim 1 of the input).
    """

    def __init__(self, beta: float | Tensor = 1.0, learnable: bool = False) -> None:
        super().__init__()
        self.learnable = learnable
        if learnable:
            initial = beta.detach().clone() if isinstance(beta, Tensor) else torch.tensor([float(beta)])
            self.beta = torch.nn.Parameter(initial)
        elif isinstance(beta, Tensor):
            self.register_buffer("beta", beta.detach().clone())
        else:
            self.beta = float(beta)

    def forward(self, input: Tensor) -> Tensor:
        return F.swish(input, self.beta)

    def extra_repr(self) -> str:
        beta = self.beta if isinstance(self.beta, float) else f"tensor of {self.beta.numel()}"
        return f"beta={beta}" + (", learnable=True" if self.learnable else "")


class Mish(torch.nn.Mish):
    """As :class:`torch.nn.Mish` (``inplace=False``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.mish(input, inplace=self.inplace)


class Softplus(torch.nn.Softplus):
    """As :class:`torch.nn.Softplus` (``beta=1.0, threshold=20.0``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)


class _GLU(torch.nn.Module):
    """GLU modules: ``forward(x)`` splits x in two along ``dim``, the gate being the first
    half (the LLaMA convention; :class:`torch.nn.GLU` gates with the second half), and
    ``forward(gate, up)`` takes the halves as two tensors."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class SwiGLU(_GLU):
    __doc__ = "silu(gate) * up. " + _GLU.__doc__

    def forward(self, input: Tensor, up: Tensor | None = None) -> Tensor:
        return F.swiglu(input, up, self.dim)


class ReLUSquaredGLU(_GLU):
    __doc__ = "relu(gate)^2 * up. " + _GLU.__doc__

    def forward(self, input: Tensor, up: Tensor | None = None) -> Tensor:
        return F.relu_squared_glu(input, up, self.dim)


class QuickGELUGLU(_GLU):
    __doc__ = "quick_gelu(gate) * up, quick_gelu(g) = g * sigmoid(1.702 g). " + _GLU.__doc__

    def forward(self, input: Tensor, up: Tensor | None = None) -> Tensor:
        return F.quick_gelu_glu(input, up, self.dim)


class ClampedSwiGLU(_GLU):
    __doc__ = "gpt-oss's SwiGLU, (up.clamp(-limit, limit) + 1) * swish(gate.clamp(max=limit), alpha). " + _GLU.__doc__

    def __init__(self, dim: int = -1, limit: float = 7.0, alpha: float = 1.702) -> None:
        super().__init__(dim)
        self.limit = limit
        self.alpha = alpha

    def forward(self, input: Tensor, up: Tensor | None = None) -> Tensor:
        return F.clamped_swiglu(input, up, self.dim, self.limit, self.alpha)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, limit={self.limit}, alpha={self.alpha}"


class GLU(torch.nn.GLU):
    """As :class:`torch.nn.GLU` (``dim=-1``): a * sigmoid(b), the gate b the second half."""

    def forward(self, input: Tensor) -> Tensor:
        return F.glu(input, self.dim)


class GEGLU(_GLU):
    __doc__ = "gelu(gate, approximate) * up. " + _GLU.__doc__

    def __init__(self, dim: int = -1, approximate: str = "none") -> None:
        super().__init__(dim)
        self.approximate = approximate

    def forward(self, input: Tensor, up: Tensor | None = None) -> Tensor:
        return F.geglu(input, up, self.dim, self.approximate)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, approximate={self.approximate!r}"


class ReGLU(_GLU):
    __doc__ = "relu(gate) * up. " + _GLU.__doc__

    def forward(self, input: Tensor, up: Tensor | None = None) -> Tensor:
        return F.reglu(input, up, self.dim)


class Softmax(torch.nn.Softmax):
    """As :class:`torch.nn.Softmax` (``dim=None``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim, _stacklevel=5)


class LogSoftmax(torch.nn.LogSoftmax):
    """As :class:`torch.nn.LogSoftmax` (``dim=None``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim, _stacklevel=5)


class Softmin(torch.nn.Softmin):
    """As :class:`torch.nn.Softmin` (``dim=None``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.softmin(input, self.dim, _stacklevel=5)


class Softmax2d(torch.nn.Softmax2d):
    """As :class:`torch.nn.Softmax2d`: softmax over the channels (dim -3) of a 3-D or 4-D input."""

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D instead")
        return F.softmax(input, -3, _stacklevel=5)


class GatedFFN(torch.nn.Module):
    """The gated feed-forward block, ``down_proj(act(gate_proj(x)) * up_proj(x))``, as one
    fused operator (:func:`fusedact.functional.gated_ffn`), ``activation`` one of ``"silu"``,
    ``"gelu"``, ``"gelu_tanh"``, ``"relu"``, ``"quick_gelu"``.

    Its layers are :class:`torch.nn.Linear` modules named as transformers' ``LlamaMLP`` names
    them, so a LlamaMLP's state_dict loads into it and back. ``out_features`` defaults to
    ``in_features``. Build one from an existing block with :meth:`from_llama_mlp` or
    :meth:`from_linears`; :func:`fusedact.convert` with ``ffn=True`` fuses the blocks of a
    model in place instead.
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int | None = None,
        bias: bool = False,
        activation: str = "silu",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if activation not in F.FFN_ACTIVATIONS:
            raise ValueError(
                f"fusedact.nn.{type(self).__name__}: activation must be one of {', '.join(F.FFN_ACTIVATIONS)}, "
                f"got {activation!r}"
            )
        out_features = in_features if out_features is None else out_features
        factory = {"device": device, "dtype": dtype, "bias": bias}
        self.activation = activation
        self.gate_proj = torch.nn.Linear(in_features, hidden_features, **factory)
        self.up_proj = torch.nn.Linear(in_features, hidden_features, **factory)
        self.down_proj = torch.nn.Linear(hidden_features, out_features, **factory)

    def forward(self, x: Tensor) -> Tensor:
        return F.gated_ffn(
            x,
            self.gate_proj.weight,
            self.up_proj.weight,
            self.down_proj.weight,
            self.gate_proj.bias,
            self.up_proj.bias,
            self.down_proj.bias,
            activation=self.activation,
        )

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}"

    @classmethod
    def from_linears(
        cls, gate: torch.nn.Linear, up: torch.nn.Linear, down: torch.nn.Linear, activation: str = "silu"
    ) -> "GatedFFN":
        """A block computing ``down(act(gate(x)) * up(x))``, with copies of their parameters
        (same device and dtype)."""
        where = f"fusedact.nn.{cls.__name__}.from_linears"
        for name, layer in (("gate", gate), ("up", up), ("down", down)):
            if type(layer) is not torch.nn.Linear:
                raise TypeError(f"{where}: {name} is a {type(layer).__name__}, not nn.Linear")
        if (gate.bias is None) != (up.bias is None) or (gate.bias is None) != (down.bias is None):
            raise ValueError(f"{where}: gate, up and down must all have biases or none")
        if cls is SwiGLUFFN and activation != "silu":
            raise ValueError(f"{where}: SwiGLUFFN's activation is silu, got {activation!r}; use GatedFFN")
        module = cls.__new__(cls)
        GatedFFN.__init__(
            module,
            gate.in_features,
            gate.out_features,
            down.out_features,
            bias=gate.bias is not None,
            activation=activation,
            device=gate.weight.device,
            dtype=gate.weight.dtype,
        )
        with torch.no_grad():
            for mine, theirs in ((module.gate_proj, gate), (module.up_proj, up), (module.down_proj, down)):
                mine.load_state_dict(theirs.state_dict())
        return module

    @classmethod
    def from_llama_mlp(cls, mlp: torch.nn.Module) -> "GatedFFN":
        """A block equal to a transformers ``LlamaMLP`` (or any module with ``gate_proj``,
        ``up_proj``, ``down_proj`` linear layers and an ``act_fn`` that gated_ffn has: its
        activation is read from ``act_fn``, never assumed)."""
        from .convert import gate_activation

        act = getattr(mlp, "act_fn", None)
        activation = gate_activation(act) if act is not None else None
        if activation is None:
            raise ValueError(
                f"fusedact.nn.{cls.__name__}.from_llama_mlp: the MLP's activation {type(act).__name__} is none of "
                f"gated_ffn's ({', '.join(F.FFN_ACTIVATIONS)})"
            )
        return cls.from_linears(mlp.gate_proj, mlp.up_proj, mlp.down_proj, activation)


class SwiGLUFFN(GatedFFN):
    """The SwiGLU feed-forward block, ``down_proj(silu(gate_proj(x)) * up_proj(x))``: a
    :class:`GatedFFN` whose activation is silu (transformers' ``LlamaMLP``)."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int | None = None,
        bias: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(in_features, hidden_features, out_features, bias, "silu", device, dtype)

    def extra_repr(self) -> str:
        return ""
