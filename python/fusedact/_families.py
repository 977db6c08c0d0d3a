"""fusedact's operators and the family each belongs to, read from its schema: what the vmap
and DTensor rules (_vmap.py, _dtensor.py) are chosen by, so that a new operator of a family
needs nothing there."""

from dataclasses import dataclass

import torch

_CHANNEL_PARAMS = ("weight", "beta")  # the tensor parameters of the per-channel operators


@dataclass(frozen=True)
class Family:
    """kind: "gated_ffn", "seeded" (an argument `seed` of random draws, in place or not),
    "inplace", "along_dim" (an argument `dim` names a dim of its tensors),
    "per_channel" (prelu-like: a tensor parameter of one value or one per channel) or
    "elementwise"; index: the position of `dim`, of the seed or of the parameter; param_gradient: the
    operator returns the parameter's gradient."""

    kind: str
    index: int | None = None
    param_gradient: bool = False


def operators() -> list[tuple[str, torch._ops.OpOverload]]:
    """(name, overload) of every operator registered under torch.ops.fusedact."""
    names = [q.split("::")[1] for q in torch._C._dispatch_get_all_op_names() if q.startswith("fusedact::")]
    return [(name, getattr(torch.ops.fusedact, name).default) for name in sorted(names)]


def family(name: str, op: torch._ops.OpOverload) -> Family:
    schema = op._schema
    args = [a.name for a in schema.arguments]
    if name == "gated_ffn":
        return Family("gated_ffn")
    if "seed" in args:
        return Family("seeded", args.index("seed"))
    if schema.is_mutable:
        return Family("inplace")
    if "dim" in args:
        return Family("along_dim", args.index("dim"))
    for a in schema.arguments:
        if a.name in _CHANNEL_PARAMS and str(a.type) == "Tensor":
            return Family("per_channel", args.index(a.name), name.endswith(f"_{a.name}_backward"))
    return Family("elementwise")
