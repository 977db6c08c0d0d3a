"""Batching rules: ``torch.vmap`` over a fusedact operator runs the operator once on the whole
batch, not torch's per-example fallback loop (which warns "There is a performance drop").

One rule per family of operators (_families.py), so a new operator of a family needs
nothing here:
  - element-wise operators (the activations, their backward and in-place forms, the GLU pair
    form): the batch dim is just another dim of every tensor;
  - operators along a ``dim`` (softmax, log_softmax, the split GLU forms): the batch dim goes
    first and ``dim`` moves past it;
  - operators with a per-channel parameter (prelu, swish with a tensor beta): batch and
    channel dims merge into one channel dim, so a batched parameter works too;
  - operators that draw from a seed (rrelu in training): one call per example, so that each
    example's numbers are those of its own call;
  - gated_ffn: its token dims take the batch; batched weights run as batched GEMMs around
    the fused GLU kernel of the activation.
"""

import math

import torch
from torch import Tensor

from ._families import family, operators
from .functional import FFN_ACTIVATIONS

__all__: list[str] = []


def _front(t: Tensor, bdim: int | None, batch_size: int) -> Tensor:
    """t with its batch dim first; an unbatched tensor expanded along a new one (a view)."""
    if bdim is None:
        return t.unsqueeze(0).expand(batch_size, *t.shape)
    return t.movedim(bdim, 0)


def _fronted(args, in_dims, batch_size):
    return [_front(a, d, batch_size) if isinstance(a, Tensor) else a for a, d in zip(args, in_dims, strict=True)]


def _example(args, in_dims, index=0):
    """The arguments of one example of the batch (for errors phrased as the operator's own)."""
    return [
        a.select(d, index) if isinstance(a, Tensor) and d is not None else a for a, d in zip(args, in_dims, strict=True)
    ]


def _out_dims(out, dim):
    return tuple(dim for _ in out) if isinstance(out, tuple) else dim


def _elementwise(op):
    def rule(info, in_dims, *args, **kwargs):
        dims = {d for a, d in zip(args, in_dims, strict=True) if isinstance(a, Tensor)}
        if len(dims) == 1:  # every tensor batched along the same dim, or the only tensor batched
            out = op(*args, **kwargs)
            return out, _out_dims(out, dims.pop())
        out = op(*_fronted(args, in_dims, info.batch_size), **kwargs)
        return out, _out_dims(out, 0)

    return rule


def _inplace(op):
    def rule(info, in_dims, *args, **kwargs):
        op(*args, **kwargs)
        return None, None

    return rule


def _along_dim(op, dim_index):
    """Operators whose argument ``dim`` names a dim of their (logical) tensors."""

    default_dim = op._schema.arguments[dim_index].default_value

    def rule(info, in_dims, *args, **kwargs):
        if len(args) <= dim_index:  # dim given by name, or left at its default
            args, in_dims = (*args, kwargs.pop("dim", default_dim)), (*in_dims, None)
        logical_ndim = next(
            a.dim() - (d is not None) for a, d in zip(args, in_dims, strict=True) if isinstance(a, Tensor)
        )
        dim = args[dim_index]
        fronted = _fronted(args, in_dims, info.batch_size)
        if logical_ndim == 0 or not -logical_ndim <= dim < logical_ndim:
            op(*_example(args, in_dims), **kwargs)  # raises the operator's own error, if it has one
            # It has none: a 0-D tensor is one row of one (softmax), so each example is a row.
            fronted = [a.unsqueeze(-1) if isinstance(a, Tensor) else a for a in fronted]
            fronted[dim_index] = 1
            return op(*fronted, **kwargs).squeeze(-1), 0
        fronted[dim_index] = dim % logical_ndim + 1
        out = op(*fronted, **kwargs)
        return out, _out_dims(out, 0)

    return rule


def _per_channel(op, param_index, param_gradient):
    """prelu-like operators: input-shaped tensors and a parameter of one value or one per
    channel (dim 1). The batch joins the channels: [B, N, C, ...] -> [N, B * C, ...] with the
    parameter [B, C] -> [B * C] (one value per example: [1, B, rest] and [B])."""

    def rule(info, in_dims, *args):
        b = info.batch_size
        fronted = _fronted(args, in_dims, b)
        param = fronted[param_index]
        shape, param_shape = fronted[0].shape[1:], param.shape[1:]  # an example's input, parameter
        if math.prod(param_shape) == 1:
            merged = [
                param.reshape(b) if i == param_index else t.reshape(1, b, -1) if isinstance(t, Tensor) else t
                for i, t in enumerate(fronted)
            ]
            out = op(*merged)
            return out.reshape(b, *(param_shape if param_gradient else shape)), 0
        if len(shape) < 2 or len(param_shape) != 1 or shape[1] != param_shape[0]:
            op(*_example(args, in_dims))  # raises the operator's own error
        channels = shape[1]
        merged = [
            param.reshape(b * channels)
            if i == param_index
            else t.transpose(0, 1).reshape(shape[0], b * channels, *shape[2:])
            if isinstance(t, Tensor)
            else t
            for i, t in enumerate(fronted)
        ]
        out = op(*merged)
        if param_gradient:
            return out.reshape(b, channels), 0
        return out.reshape(shape[0], b, *shape[1:]), 1

    return rule


def _seeded(op, seed_index):
    """Operators that draw from a seed (rrelu in training): an element's number comes from its
    index in the call, so each example runs as a call of its own and gets what that call would
    give (the seed shared, or each example's own). Without a seed, an element-wise operator."""
    elementwise = _inplace(op) if op._schema.is_mutable else _elementwise(op)

    def rule(info, in_dims, *args, **kwargs):
        seed = args[seed_index] if len(args) > seed_index else kwargs.get("seed")
        if seed is None:
            return elementwise(info, in_dims, *args, **kwargs)
        outs = [op(*_example(args, in_dims, i), **kwargs) for i in range(info.batch_size)]
        if op._schema.is_mutable:  # each example written in place, a view of the batch
            return None, None
        return torch.stack(outs), 0

    return rule


def _gated_ffn(op):
    def rule(info, in_dims, x, w_gate, w_up, w_down, b_gate=None, b_up=None, b_down=None, *, activation="silu"):
        weights = (w_gate, w_up, w_down, b_gate, b_up, b_down)
        in_dims = (*in_dims, *(None,) * (7 - len(in_dims)))  # the biases left at their default
        if all(d is None for d in in_dims[1:]):  # shared weights: the batch is more tokens
            return op(x.movedim(in_dims[0], 0), *weights, activation=activation), 0
        b = info.batch_size
        x, w_gate, w_up, w_down, b_gate, b_up, b_down = (
            _front(t, d, b) if t is not None else None for t, d in zip((x, *weights), in_dims, strict=True)
        )
        tokens = x.reshape(b, -1, x.shape[-1])

        def linear(t, w, bias):
            y = torch.einsum("bti,boi->bto", t, w)
            return y if bias is None else y + bias.unsqueeze(1)

        glu, glu_kwargs = FFN_ACTIVATIONS[activation]
        gate, up = linear(tokens, w_gate, b_gate), linear(tokens, w_up, b_up)
        hidden = getattr(torch.ops.fusedact, glu)(gate, up, **glu_kwargs)
        out = linear(hidden, w_down, b_down)
        return out.reshape(*x.shape[:-1], out.shape[-1]), 0

    return rule


def _with_errors_of_one_example(op, rule):
    """rule, but a call that fails raises what the operator says of one example, whose dims
    are the ones the caller named (not the batched tensors' dims)."""

    def checked(info, in_dims, *args, **kwargs):
        try:
            return rule(info, in_dims, *args, **kwargs)
        except RuntimeError:
            op(*_example(args, in_dims), **kwargs)
            raise

    return checked


def _rule_for(name: str, op):
    f = family(name, op)
    if f.kind == "gated_ffn":
        return _gated_ffn(op)
    if f.kind == "seeded":
        return _seeded(op, f.index)
    if f.kind == "inplace":
        return _inplace(op)
    if f.kind == "along_dim":
        return _along_dim(op, f.index)
    if f.kind == "per_channel":
        return _per_channel(op, f.index, f.param_gradient)
    return _elementwise(op)


def register() -> None:
    """Registers a batching rule for every fusedact operator."""
    for name, op in operators():
        torch.library.register_vmap(op, _with_errors_of_one_example(op, _rule_for(name, op)))
