"""Sharding rules for DTensor: a fusedact operator on DTensors returns a DTensor, sharded as
its inputs are where the operator allows, so tensor- and sequence-parallel models can use it.

One rule per family of operators (_families.py):
  - element-wise operators (and their backward and in-place forms, the GLU pair form): all
    tensors sharded alike along any dim, or all replicated;
  - operators along a ``dim`` (softmax, log_softmax, the split GLU forms): sharded along
    any other dim;
  - per-channel operators (prelu, swish with a tensor beta): the input sharded along a dim
    with the parameter replicated (the parameter's gradient then a partial sum), or along
    the channel dim with a per-channel parameter sharded alike;
  - none for the operators that draw from a seed (rrelu in training), whose draws depend on
    each element's index in the whole tensor;
  - gated_ffn: tokens sharded with the weights replicated, or tensor-parallel (gate and up
    projections sharded by rows, the down projection by columns: a partial sum out).

Importing torch.distributed.tensor costs about half a second, so the rules are registered
when something else imports it (or at once, if it already is).
"""

import warnings

import torch

from ._after_import import after_import

__all__: list[str] = []

_MODULE = "torch.distributed.tensor"


def _rules():
    from torch.distributed.tensor import Partial, Replicate, Shard
    from torch.distributed.tensor._dtensor_spec import DTensorSpec

    def tensor_args(args):
        return [isinstance(a, DTensorSpec) for a in args]

    def alike(args, placement, outputs):
        return ([placement] * outputs, [placement if t else None for t in tensor_args(args)])

    def elementwise(op):
        outputs = len(op._schema.returns)

        def rule(*args, **kwargs):
            ndim = next(a for a in args if isinstance(a, DTensorSpec)).ndim
            return [alike(args, Replicate(), outputs)] + [alike(args, Shard(d), outputs) for d in range(ndim)]

        return rule

    def along_dim(op, dim_index):
        default_dim = op._schema.arguments[dim_index].default_value

        def rule(*args, **kwargs):
            ndim = next(a for a in args if isinstance(a, DTensorSpec)).ndim
            dim = args[dim_index] if len(args) > dim_index else kwargs.get("dim", default_dim)
            dim = dim % max(ndim, 1)
            return [alike(args, Replicate(), 1)] + [alike(args, Shard(d), 1) for d in range(ndim) if d != dim]

        return rule

    def per_channel(op, param_index, param_gradient):
        def rule(*args, **kwargs):
            def inputs(shard, param):  # the input-shaped tensors' placement, and the parameter's
                return [param if i == param_index else shard if t else None for i, t in enumerate(tensor_args(args))]

            per_channel = args[param_index].shape.numel() > 1
            strategies = [alike(args, Replicate(), 1)]
            for d in range(args[0].ndim):
                if d == 1 and per_channel:  # channels split with their parameters
                    strategies.append(([Shard(0) if param_gradient else Shard(1)], inputs(Shard(1), Shard(0))))
                else:
                    strategies.append(([Partial() if param_gradient else Shard(d)], inputs(Shard(d), Replicate())))
            return strategies

        return rule

    def gated_ffn(x, w_gate, w_up, w_down, b_gate=None, b_up=None, b_down=None, *, activation="silu"):
        weights = (w_gate, w_up, w_down, b_gate, b_up, b_down)
        present = [w is not None for w in weights]
        strategies = [([Replicate()], [Replicate()] + [Replicate() if p else None for p in present])]
        for d in range(x.ndim - 1):  # tokens
            strategies.append(([Shard(d)], [Shard(d)] + [Replicate() if p else None for p in present]))
        if b_down is None:  # tensor parallel: hidden features split, each rank a partial sum
            by_role = [Shard(0), Shard(0), Shard(1), Shard(0), Shard(0), None]
            split = [s if p else None for s, p in zip(by_role, present, strict=True)]
            strategies.append(([Partial()], [Replicate(), *split]))
        return strategies

    return elementwise, along_dim, per_channel, gated_ffn


def register() -> None:
    """Registers a sharding rule for every fusedact operator."""
    from torch.distributed.tensor.experimental import register_sharding

    from ._families import family, operators

    elementwise, along_dim, per_channel, gated_ffn = _rules()
    for name, op in operators():
        f = family(name, op)
        if f.kind == "seeded":
            continue  # a shard would number its elements from 0, repeating another's draws
        if f.kind == "gated_ffn":
            rule = gated_ffn
        elif f.kind == "along_dim":
            rule = along_dim(op, f.index)
        elif f.kind == "per_channel":
            rule = per_channel(op, f.index, f.param_gradient)
        else:  # element-wise, in place or not
            rule = elementwise(op)
        register_sharding(op)(rule)


def _register_quietly() -> None:
    try:
        register()
    except Exception as error:  # a torch whose DTensor lacks the API: fusedact works without it
        warnings.warn(f"fusedact: no DTensor sharding rules ({error})", stacklevel=2)


def install() -> None:
    """Registers the rules now if DTensor is loaded, else as soon as it is."""
    if not torch.distributed.is_available():
        return
    after_import(_MODULE, _register_quietly)
