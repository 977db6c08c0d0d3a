"""fusedact.convert: swaps the activation modules of a model, and on request its gated
feed-forward blocks, for fusedact's fused operators.

Three kinds of module are recognised, each by its class:

- torch.nn's activations (``REPLACEMENTS``): the module's class becomes its fusedact.nn twin,
  a subclass of it.
- the activation classes of transformers and timm (``ACTIVATIONS``), known by qualified class
  name, without importing those libraries: the module's class becomes a subclass of its own
  class whose ``forward`` calls the fusedact op. A class with variants (transformers' GELU
  classes choose their function in ``__init__``) is swapped only when the instance computes
  what the op computes.
- with ``ffn=True``, gated feed-forward blocks (``FFN_BLOCKS``: transformers' LlamaMLP and
  its kin, Phi3MLP's packed projection, T5's gated dense): a subclass whose ``forward`` is one
  :func:`fusedact.functional.gated_ffn` call on the block's own parameters, whenever the
  block's activation is one gated_ffn has; otherwise (a hook on a projection, T5's dropout in
  training) it runs the block's own forward.

A swapped module keeps its identity, attributes, parameters, buffers, hooks and state_dict
keys; only its class changes. What is replaced, and what is left alone with the reason, is
in the :class:`ConversionPlan` that :func:`conversion_plan` returns and :func:`convert`
logs. A converted model pickles: the generated classes are found again by name.
"""

import functools
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from . import functional as F
from . import nn as fnn

__all__ = ["ACTIVATIONS", "FFN_BLOCKS", "REPLACEMENTS", "ConversionPlan", "conversion_plan", "convert"]

logger = logging.getLogger("fusedact")

#: torch.nn module type -> its fusedact.nn replacement (a subclass of it).
REPLACEMENTS: dict[type, type] = {
    base: replacement
    for replacement in vars(fnn).values()
    if isinstance(replacement, type) and issubclass(replacement, torch.nn.Module)
    for base in replacement.__bases__
    if base.__module__.startswith("torch.nn") and base is not torch.nn.Module
}


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# ---- activation classes of transformers and timm -------------------------------------------


@dataclass(frozen=True)
class Activation:
    """How a foreign activation class computes: ``forward(module, input)`` with fusedact's
    ops; ``gate`` its name among gated_ffn's activations (None if not one of them); and
    ``variant(module)``, the reason an instance computes something else (None if it does not)."""

    forward: Callable
    gate: str | None = None
    variant: Callable = lambda module: None


def _uses(attribute: str, *functions: Callable, methods: tuple[str, ...] = ()) -> Callable:
    """A variant check: the module's ``attribute`` must be one of ``functions`` (a
    functools.partial of one counts with the keywords it fixes: see ``_same_call``) or a
    method of the module named in ``methods``."""

    def variant(module):
        chosen = getattr(module, attribute, None)
        if any(_same_call(chosen, f) for f in functions):
            return None
        if getattr(chosen, "__self__", None) is module and getattr(chosen, "__name__", None) in methods:
            return None
        return f"its {attribute} is {chosen!r}"

    return variant


def _same_call(chosen, expected) -> bool:
    if isinstance(expected, functools.partial):
        return (
            isinstance(chosen, functools.partial)
            and chosen.func is expected.func
            and chosen.args == expected.args
            and chosen.keywords == expected.keywords
        )
    return chosen is expected


def _inplace(module) -> bool:
    return bool(getattr(module, "inplace", False))


_gelu = Activation(lambda m, x: F.gelu(x), "gelu")
_gelu_tanh = Activation(lambda m, x: F.gelu(x, approximate="tanh"), "gelu_tanh")
_silu = Activation(lambda m, x: F.silu(x, inplace=_inplace(m)), "silu")
_quick_gelu = Activation(lambda m, x: F.quick_gelu(x), "quick_gelu")
_mish = Activation(lambda m, x: F.mish(x))
_sigmoid = Activation(lambda m, x: F.sigmoid(x))
_tanh = Activation(lambda m, x: F.tanh(x))
_hardswish = Activation(lambda m, x: F.hardswish(x, inplace=_inplace(m)))
_hardsigmoid = Activation(lambda m, x: F.hardsigmoid(x, inplace=_inplace(m)))

_TF = "transformers.activations."
_TIMM = "timm.layers.activations."
_TIMM_ME = "timm.layers.activations_me."

#: qualified class name -> how it computes with fusedact's ops. The tanh-GELU composites
#: (NewGELU, FastGELU, AccurateGELU, BLOOM's) are gelu's tanh form: the fused op rounds once
#: where the composite rounds at each step, so in 16-bit dtypes they may differ by a rounding.
ACTIVATIONS: dict[str, Activation] = {
    _TF + "GELUActivation": Activation(
        _gelu.forward, "gelu", _uses("act", torch.nn.functional.gelu, methods=("_gelu_python",))
    ),
    _TF + "GELUTanh": Activation(
        _gelu_tanh.forward,
        "gelu_tanh",
        _uses(
            "act",
            functools.partial(torch.nn.functional.gelu, approximate="tanh"),
            methods=("_gelu_tanh_python",),
        ),
    ),
    _TF + "PytorchGELUTanh": _gelu_tanh,  # the class's name in transformers before 4.56
    _TF + "NewGELUActivation": _gelu_tanh,
    _TF + "FastGELUActivation": _gelu_tanh,
    _TF + "AccurateGELUActivation": _gelu_tanh,
    _TF + "QuickGELUActivation": _quick_gelu,
    _TF + "SiLUActivation": _silu,
    _TF + "MishActivation": Activation(
        _mish.forward, None, _uses("act", torch.nn.functional.mish, methods=("_mish_python",))
    ),
    _TF + "ReLUSquaredActivation": Activation(lambda m, x: F.relu_squared(x)),
    "transformers.models.bloom.modeling_bloom.BloomGelu": _gelu_tanh,
    _TIMM + "GELU": _gelu,
    _TIMM + "GELUTanh": _gelu_tanh,
    _TIMM + "QuickGELU": _quick_gelu,
    _TIMM + "Swish": _silu,
    _TIMM + "Mish": _mish,
    _TIMM + "Sigmoid": _sigmoid,
    _TIMM + "Tanh": _tanh,
    _TIMM + "HardSwish": _hardswish,
    _TIMM + "HardSigmoid": _hardsigmoid,
    _TIMM + "PReLU": Activation(lambda m, x: F.prelu(x, m.weight)),
    _TIMM_ME + "SwishMe": _silu,
    _TIMM_ME + "MishMe": _mish,
    _TIMM_ME + "HardSwishMe": _hardswish,
    _TIMM_ME + "HardSigmoidMe": _hardsigmoid,
}

# Where activation classes live: a module of one of these classes that fusedact does not
# replace is listed as left alone.
_ACTIVATION_HOMES = ("torch.nn.modules.activation", "transformers.activations", "timm.layers.activations")
_NOT_ACTIVATIONS = (torch.nn.MultiheadAttention,)


def _original(cls: type) -> type:
    """The class convert() started from: a generated class's base, else cls."""
    return cls.__bases__[0] if cls.__module__ == __name__ else cls


def gate_activation(module: torch.nn.Module) -> str | None:
    """The name among gated_ffn's activations ("silu", "gelu", "gelu_tanh", "relu",
    "quick_gelu") of what the activation module computes; None if it is none of them (or a
    subclass, whose forward may differ)."""
    cls = type(module)
    if cls in (torch.nn.SiLU, fnn.SiLU):
        return "silu"
    if cls in (torch.nn.GELU, fnn.GELU):
        return {"none": "gelu", "tanh": "gelu_tanh"}.get(module.approximate)
    if cls in (torch.nn.ReLU, fnn.ReLU):
        return "relu"
    if cls is fnn.QuickGELU:
        return "quick_gelu"
    entry = ACTIVATIONS.get(_qualified(_original(cls)))
    if entry is None or entry.variant(module) is not None:
        return None
    return entry.gate


# ---- gated feed-forward blocks --------------------------------------------------------------


@dataclass(frozen=True)
class FfnBlock:
    """A gated feed-forward block's layout: its projections (attribute names; ``gate_up`` one
    packed projection, gate first, or ``gate`` and ``up``), its output projection, its
    activation module, and a dropout between the product and ``down`` (T5's)."""

    down: str
    act: str
    gate: str | None = None
    up: str | None = None
    gate_up: str | None = None
    dropout: str | None = None

    def projections(self, block) -> list[torch.nn.Module]:
        names = [self.gate_up] if self.gate_up else [self.gate, self.up]
        return [getattr(block, n, None) for n in (*names, self.down)]

    def weights(self, block) -> tuple:
        """gated_ffn's (w_gate, w_up, w_down, b_gate, b_up, b_down) from the block."""
        down = getattr(block, self.down)
        if self.gate_up:
            packed = getattr(block, self.gate_up)
            w_gate, w_up = packed.weight.chunk(2, 0)
            b_gate, b_up = packed.bias.chunk(2, 0) if packed.bias is not None else (None, None)
        else:
            gate, up = getattr(block, self.gate), getattr(block, self.up)
            w_gate, w_up, b_gate, b_up = gate.weight, up.weight, gate.bias, up.bias
        return w_gate, w_up, down.weight, b_gate, b_up, down.bias

    def unfused(self, block) -> str | None:
        """Why the block cannot run as one gated_ffn now (None if it can)."""
        layers = self.projections(block)
        for layer in layers:
            if type(layer) is not torch.nn.Linear:
                return f"a projection is a {type(layer).__name__}, not nn.Linear"
            if layer._forward_hooks or layer._forward_pre_hooks:
                return "a projection has hooks"
        if len({(layer.weight.dtype, layer.weight.device) for layer in layers}) > 1:
            return "its projections differ in dtype or device"
        if self.gate_up and layers[0].out_features % 2:
            return "its packed projection has an odd number of features"
        act = getattr(block, self.act, None)
        if gate_activation(act) is None:
            return f"its activation {type(act).__name__} is none of gated_ffn's"
        return None

    def fused_forward(self, block, x):
        """The block's output through gated_ffn; None where it must run its own forward."""
        dropout = getattr(block, self.dropout) if self.dropout else None
        if dropout is not None and dropout.training and dropout.p > 0:
            return None
        if self.unfused(block) is not None:
            return None
        return F.gated_ffn(x, *self.weights(block), activation=gate_activation(getattr(block, self.act)))


_LLAMA = FfnBlock(gate="gate_proj", up="up_proj", down="down_proj", act="act_fn")
_TM = "transformers.models."

#: qualified class name -> the layout of the gated feed-forward block it is.
FFN_BLOCKS: dict[str, FfnBlock] = {
    **{
        f"{_TM}{model}.modeling_{model}.{cls}": _LLAMA
        for model, cls in [
            ("llama", "LlamaMLP"),
            ("mistral", "MistralMLP"),
            ("qwen2", "Qwen2MLP"),
            ("qwen3", "Qwen3MLP"),
            ("gemma", "GemmaMLP"),
            ("gemma2", "Gemma2MLP"),
            ("gemma3", "Gemma3MLP"),
            ("qwen2_moe", "Qwen2MoeMLP"),  # the shared expert
            ("qwen3_moe", "Qwen3MoeMLP"),
        ]
    },
    f"{_TM}phi3.modeling_phi3.Phi3MLP": FfnBlock(gate_up="gate_up_proj", down="down_proj", act="activation_fn"),
    f"{_TM}t5.modeling_t5.T5DenseGatedActDense": FfnBlock(
        gate="wi_0", up="wi_1", down="wo", act="act", dropout="dropout"
    ),
}

# Experts stored as 3-d parameters (Mixtral's, Qwen2-MoE's, gpt-oss's) run transformers' own
# routing loop; their activation is an attribute that convert() replaces like any other.
_EXPERTS_SUFFIX = "Experts"


# ---- generated classes ----------------------------------------------------------------------


def _encode(qualified: str) -> str:
    """A name of the generated class that pickle can look up here: "_" -> "__", "." -> "_o"."""
    return "Fused_" + qualified.replace("_", "__").replace(".", "_o")


def _decode(name: str) -> str:
    return re.sub(r"_(_|o)", lambda m: "_" if m.group(1) == "_" else ".", name.removeprefix("Fused_"))


@functools.cache
def _fused_class(cls: type) -> type:
    """cls's subclass whose forward runs fusedact's op (or gated_ffn), named so that pickle
    finds it in this module."""
    activation = ACTIVATIONS.get(_qualified(cls))
    if activation is not None:

        def forward(self, input):
            return activation.forward(self, input)

    else:
        block = FFN_BLOCKS[_qualified(cls)]

        def forward(self, *args, **kwargs):
            inputs = (*args, *kwargs.values())
            out = block.fused_forward(self, inputs[0]) if len(inputs) == 1 else None
            return cls.forward(self, *args, **kwargs) if out is None else out

    name = _encode(_qualified(cls))
    doc = f"{cls.__name__} through fusedact's fused operator (fusedact.convert)."
    return type(
        cls.__name__, (cls,), {"forward": forward, "__module__": __name__, "__qualname__": name, "__doc__": doc}
    )


def __getattr__(name: str):  # pickle's lookup of a generated class
    if not name.startswith("Fused_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    qualified = _decode(name)
    module_name, _, class_name = qualified.rpartition(".")
    return _fused_class(getattr(importlib.import_module(module_name), class_name))


def _is_fused(cls: type) -> bool:
    return cls.__module__ == __name__ or cls.__module__ == fnn.__name__


def _is_activation(cls: type) -> bool:
    return not issubclass(cls, _NOT_ACTIVATIONS) and any(
        base.__module__.startswith(_ACTIVATION_HOMES) and base is not torch.nn.Module for base in cls.__mro__
    )


# ---- the plan and its application ------------------------------------------------------------


@dataclass
class ConversionPlan:
    """What :func:`convert` does to a model, by qualified module name (``""`` the model):
    activation modules ``replaced`` (their class) and ``left`` alone (why); gated
    feed-forward blocks ``fused`` (their class and activation) and ``unfused`` (why), these
    two with ``ffn=True`` only."""

    replaced: dict[str, str] = field(default_factory=dict)
    left: dict[str, str] = field(default_factory=dict)
    fused: dict[str, str] = field(default_factory=dict)
    unfused: dict[str, str] = field(default_factory=dict)
    _swaps: list = field(default_factory=list, repr=False)

    def summary(self) -> str:
        def counted(entries):
            counts = Counter(entries.values())
            return ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "nothing"

        lines = [f"fusedact.convert: replaced {counted(self.replaced)}"]
        if self.left:
            lines.append(f"  activations left alone: {counted(self.left)}")
        if self.fused:
            lines.append(f"  feed-forward blocks fused: {counted(self.fused)}")
        if self.unfused:
            lines.append(f"  feed-forward blocks left alone: {counted(self.unfused)}")
        return "\n".join(lines)


def conversion_plan(model: torch.nn.Module, ffn: bool = False) -> ConversionPlan:
    """What :func:`convert` would replace in ``model``, and what it would leave alone; the
    model is not changed."""
    plan = ConversionPlan()
    for name, module in model.named_modules():
        cls = type(module)
        if _is_fused(cls):
            continue
        qualified = _qualified(cls)
        if cls in REPLACEMENTS:
            plan.replaced[name] = cls.__name__
            plan._swaps.append((module, REPLACEMENTS[cls]))
        elif qualified in ACTIVATIONS:
            reason = ACTIVATIONS[qualified].variant(module)
            if reason is None:
                plan.replaced[name] = cls.__name__
                plan._swaps.append((module, _fused_class(cls)))
            else:
                plan.left[name] = f"{cls.__name__}: {reason}"
        elif qualified in FFN_BLOCKS:
            if not ffn:
                continue
            block = FFN_BLOCKS[qualified]
            reason = block.unfused(module)
            if reason is None:
                plan.fused[name] = f"{cls.__name__} ({gate_activation(getattr(module, block.act))})"
                plan._swaps.append((module, _fused_class(cls)))
            else:
                plan.unfused[name] = f"{cls.__name__}: {reason}"
        elif ffn and cls.__name__.endswith(_EXPERTS_SUFFIX) and any(p.dim() == 3 for p in module.parameters(False)):
            plan.unfused[name] = f"{cls.__name__}: experts packed in 3-d parameters (their activation is replaced)"
        elif _is_activation(cls):
            differs = "its forward may differ from its torch.nn base's"
            plan.left[name] = f"{cls.__name__}: {differs if issubclass(cls, tuple(REPLACEMENTS)) else 'no fusedact op'}"
    return plan


def convert(model: torch.nn.Module, ffn: bool = False, verbose: bool = False) -> torch.nn.Module:
    """Replaces, in place, the activation modules of ``model`` (the model itself included)
    that fusedact implements: torch.nn's and those of transformers and timm; with
    ``ffn=True`` also its gated feed-forward blocks (one :func:`fusedact.functional.gated_ffn`
    each). Returns ``model``.

    Each module keeps its identity, attributes, learned parameters, buffers, hooks and
    state_dict keys: only its class changes, to a subclass whose ``forward`` runs the fused
    operator. Modules whose forward may differ (subclasses of the torch.nn modules, variants,
    blocks with an activation gated_ffn has not) are left alone. The plan
    (:func:`conversion_plan`) is logged to the ``fusedact`` logger, and printed too with
    ``verbose=True``.
    """
    plan = conversion_plan(model, ffn)
    for module, cls in plan._swaps:
        module.__class__ = cls
    message = plan.summary()
    logger.info(message)
    if verbose:
        print(message)
    return model
