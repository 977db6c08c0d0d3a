"""fusedact under torch's function transforms: torch.vmap runs a batching rule for every
operator (never the per-example fallback loop), also under autograd; torch.func's reverse-mode
transforms (grad, vjp, jacrev, and jacrev of jacrev) give torch's derivatives; and
torch.utils.checkpoint works in both its modes."""

import warnings

import pytest
import torch

import fusedact
import fusedact.functional as FF
from reference import GLU, POINTWISE, SOFTMAX_OPS, assert_same, random_input

BATCH = 3


def _batch(shape, seed, bdim=0, dtype=torch.float32):
    """BATCH examples of `shape`, stacked along bdim."""
    return random_input((BATCH, *shape), dtype, "cpu", seed=seed).movedim(0, bdim).contiguous()


def _unbatched(shape, seed, dtype=torch.float32):
    return random_input(shape, dtype, "cpu", seed=seed)


def _samples():
    """(id, op, args, in_dims, kwargs) for every fusedact operator: a batched call of it."""
    samples = []
    shape = (2, 5, 4)
    for case in POINTWISE:
        x, g = _batch(shape, 0, 1), _batch(shape, 1)
        op, name = case.fused_op(), case.name
        if case.param is None:
            samples.append((case.id, op, (x,), (1,), case.kwargs))
            samples.append((f"{case.id}_backward", case.backward_op(), (g, x), (0, 1), case.kwargs))
            samples.append(
                (f"{case.id}_backward_grad_unbatched", case.backward_op(), (g[0], x), (None, 1), case.kwargs)
            )
            if case.inplace:
                inplace = getattr(torch.ops.fusedact, f"{case.op}_").default
                samples.append((f"{case.id}_", inplace, (x.clone(),), (1,), case.kwargs))
            continue
        param = case.param(x[:, 0])
        param_backward = getattr(torch.ops.fusedact, f"{name}_{case.param_name}_backward").default
        params = _batch(param.shape, 2) * 0.5 + 0.25 if param.numel() > 1 else _batch((), 2) * 0.1 + 0.5
        for pid, p, pdim in [("param_unbatched", param, None), ("param_batched", params, 0)]:
            samples.append((f"{case.id}_{pid}", op, (x, p), (1, pdim), {}))
            samples.append((f"{case.id}_backward_{pid}", case.backward_op(), (g, x, p), (0, 1, pdim), {}))
            samples.append((f"{case.id}_param_backward_{pid}", param_backward, (g, x, p), (0, 1, pdim), {}))
    for case in GLU:
        ops = torch.ops.fusedact
        gate, up, grad = _batch(shape, 0, 2), _batch(shape, 1), _batch(shape, 2)
        whole = _batch((2, 5, 8), 3, 1)
        samples += [
            (case.id, getattr(ops, case.op).default, (gate, up), (2, 0), case.kwargs),
            (f"{case.id}_up_unbatched", getattr(ops, case.op).default, (gate, up[0]), (2, None), case.kwargs),
            (
                f"{case.id}_backward",
                getattr(ops, f"{case.op}_backward").default,
                (grad, gate, up),
                (0, 2, 0),
                case.kwargs,
            ),
            (f"{case.id}_split", getattr(ops, f"{case.op}_split").default, (whole, -1), (1, None), case.kwargs),
            (
                f"{case.id}_split_dim0",
                getattr(ops, f"{case.op}_split").default,
                (_batch((4, 3), 4), 0),
                (0, None),
                case.kwargs,
            ),
            (
                f"{case.id}_split_backward",
                getattr(ops, f"{case.op}_split_backward").default,
                (grad, whole, -1),
                (0, 1, None),
                case.kwargs,
            ),
        ]
    for name in SOFTMAX_OPS:
        op, backward = (
            getattr(torch.ops.fusedact, name).default,
            getattr(torch.ops.fusedact, f"{name}_backward").default,
        )
        x, g = _batch(shape, 0, 2), _batch(shape, 1)
        y = torch.vmap(op, in_dims=(2, None))(x, 1)
        samples += [(f"{name}_dim{d}", op, (x, d), (2, None), {}) for d in (0, 1, -1)] + [
            (f"{name}_0d", op, (_batch((), 5), 0), (0, None), {}),
            (f"{name}_backward", backward, (g, y, 1), (0, 0, None), {}),
        ]
    x, g = _batch(shape, 0, 1), _batch(shape, 1)
    seed, seeds = torch.tensor(5), torch.tensor([5, 6, 7])
    bounds = {"lower": 0.1, "upper": 0.3}
    for sid, s in (("training", seed), ("eval", None)):
        samples += [
            (f"rrelu_{sid}", torch.ops.fusedact.rrelu.default, (x, s, 0.1, 0.3), (1, None, None, None), {}),
            (f"rrelu_backward_{sid}", torch.ops.fusedact.rrelu_backward.default, (g, x, s), (0, 1, None), bounds),
            (f"rrelu_{sid}_", torch.ops.fusedact.rrelu_.default, (x.clone(),), (1,), {"seed": s, **bounds}),
        ]
    samples.append(("rrelu_seed_per_example", torch.ops.fusedact.rrelu.default, (x, seeds), (1, 0), bounds))
    x = _batch((2, 6), 0, 1)
    w_gate, w_up, w_down, b = _unbatched((5, 6), 1), _unbatched((5, 6), 2), _unbatched((4, 5), 3), _unbatched((5,), 4)
    ffn = torch.ops.fusedact.gated_ffn.default
    samples += [
        ("gated_ffn", ffn, (x, w_gate, w_up, w_down, b, b, None), (1, None, None, None, None, None, None), {}),
        *[
            (
                f"gated_ffn_{activation}_batched_weights",
                ffn,
                (x, _batch((5, 6), 5), w_up, _batch((4, 5), 6), b, _batch((5,), 7), None),
                (1, 0, None, 0, None, 0, None),
                {"activation": activation},
            )
            for activation in ("silu", "gelu_tanh", "quick_gelu")
        ],
    ]
    return samples


SAMPLES = _samples()


def _loop(op, args, in_dims, kwargs):
    """The batched call the slow way: op on each example, stacked (dim 0)."""
    outs = []
    for i in range(BATCH):
        example = [a.select(d, i) if d is not None else a for a, d in zip(args, in_dims, strict=True)]
        outs.append(op(*example, **kwargs))
    if isinstance(outs[0], tuple):
        return tuple(torch.stack(parts) for parts in zip(*outs, strict=True))
    return torch.stack(outs)


def test_every_operator_has_a_sample():
    names = {q.split("::")[1] for q in torch._C._dispatch_get_all_op_names() if q.startswith("fusedact::")}
    covered = {op._schema.name.split("::")[1] for _, op, *_ in SAMPLES}
    assert names == covered


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s[0])
def test_vmap_runs_a_batching_rule_and_matches_the_loop(sample):
    _, op, args, in_dims, kwargs = sample
    if op._schema.is_mutable:
        x = args[0].clone()
        expected = torch.stack([_inplace_result(op, x.select(in_dims[0], i), kwargs) for i in range(BATCH)])

        def call(t):
            op(t, **kwargs)
            return t

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = torch.vmap(call, in_dims=in_dims)(x)
        assert_same(out, expected)
        assert_same(x.movedim(in_dims[0], 0), expected)  # written in place
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fallback loop warns "There is a performance drop"
        out = torch.vmap(lambda *a: op(*a, **kwargs), in_dims=in_dims)(*args)
    expected = _loop(op, args, in_dims, kwargs)
    as_tuple = lambda t: t if isinstance(t, tuple) else (t,)  # noqa: E731
    for o, e in zip(as_tuple(out), as_tuple(expected), strict=True):
        assert_same(o, e, rtol=1e-5, atol=1e-6)


def _inplace_result(op, example, kwargs):
    t = example.clone()
    op(t, **kwargs)
    return t


def test_vmap_of_an_invalid_call_raises_the_operators_error():
    with pytest.raises(RuntimeError, match="fusedact.prelu: weight has 3 elements but input has 5 channels"):
        torch.vmap(FF.prelu, in_dims=(0, None))(torch.ones(BATCH, 2, 5), torch.ones(3))
    with pytest.raises(RuntimeError, match="fusedact.swiglu_split: dim -1 has odd size 5"):
        torch.vmap(FF.swiglu)(torch.ones(BATCH, 2, 5))


def test_vmap_of_a_model_trains_as_torch_nn_does():
    """A model vmapped over a batch of inputs, its loss backpropagated outside vmap: the
    batched operators record their own backward, and the gradients match torch.nn's."""

    def build(nn):
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.Linear(6, 8), nn.GELU(), nn.PReLU(), torch.nn.Linear(8, 8), nn.SiLU(), nn.Softmax(dim=-1)
        )

    x = random_input((BATCH, 4, 6), torch.float32, "cpu")
    grads = []
    for model in (build(fusedact.nn), build(torch.nn)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = torch.vmap(model, in_dims=1)(x.transpose(0, 1))
        (out * torch.arange(8.0)).sum().backward()
        grads.append([p.grad for p in model.parameters()])
    for g, r in zip(*grads, strict=True):
        assert_same(g, r, rtol=1e-5, atol=1e-6)


def _hessian(f, x):
    return torch.func.jacrev(torch.func.jacrev(lambda t: f(t).sum()))(x)


def _reference_hessian(reference, x):
    """torch's Hessian of sum(reference(x)); where torch has no double backward for the op,
    central differences of its gradient (within about 1e-8 in float64)."""
    try:
        return _hessian(reference, x), {}
    except RuntimeError as error:
        if "is not implemented" not in str(error):
            raise
    grad, h = torch.func.grad(lambda t: reference(t).sum()), 1e-6
    steps = torch.eye(x.numel(), dtype=x.dtype).view(-1, *x.shape) * h
    columns = [(grad(x + step) - grad(x - step)) / (2 * h) for step in steps]
    return torch.stack(columns, dim=-1).view(*x.shape, *x.shape), {"rtol": 1e-5, "atol": 1e-6}


@pytest.mark.parametrize("case", POINTWISE, ids=str)
def test_func_reverse_mode_transforms_match_torch(case):
    x = random_input((2, 6), torch.float64, "cpu")
    param = case.args(x)

    def fused(t):
        return case.fused(t, *param)

    def reference(t):
        return case.torch(t, *param)

    torch.testing.assert_close(
        torch.func.grad(lambda t: fused(t).sum())(x), torch.func.grad(lambda t: reference(t).sum())(x), equal_nan=True
    )
    torch.testing.assert_close(torch.func.jacrev(fused)(x), torch.func.jacrev(reference)(x), equal_nan=True)
    out, vjp = torch.func.vjp(fused, x)
    cotangent = random_input(out.shape, torch.float64, "cpu", seed=1)
    torch.testing.assert_close(vjp(cotangent)[0], torch.func.vjp(reference, x)[1](cotangent)[0], equal_nan=True)
    expected, tolerances = _reference_hessian(reference, x)
    torch.testing.assert_close(_hessian(fused, x), expected, equal_nan=True, **tolerances)


def test_func_reverse_mode_transforms_through_glu_and_softmax():
    x = random_input((3, 8), torch.float64, "cpu")
    pairs = [
        (FF.swiglu, lambda t: torch.nn.functional.silu(t[:, :4]) * t[:, 4:]),
        (lambda t: FF.geglu(t[:, :4], t[:, 4:]), lambda t: torch.nn.functional.gelu(t[:, :4]) * t[:, 4:]),
        (lambda t: FF.softmax(t, dim=-1), lambda t: torch.softmax(t, dim=-1)),
        (lambda t: FF.log_softmax(t, dim=0), lambda t: torch.log_softmax(t, dim=0)),
    ]
    weights = torch.linspace(-1, 2, 32, dtype=torch.float64)
    for fused, reference in pairs:
        for transform in (torch.func.jacrev, lambda f: torch.func.jacrev(torch.func.jacrev(f))):
            loss = lambda f: lambda t: (f(t).flatten() * weights[: f(t).numel()]).sum()  # noqa: E731
            torch.testing.assert_close(transform(loss(fused))(x), transform(loss(reference))(x))


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_checkpoint_recomputes_with_the_same_gradients(use_reentrant):
    def build(nn):
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.Linear(8, 16), nn.GELU(), torch.nn.Linear(16, 16), nn.SiLU(), nn.PReLU(16), torch.nn.Linear(16, 4)
        )

    model, reference = build(fusedact.nn), build(torch.nn)
    x = random_input((5, 8), torch.float32, "cpu").requires_grad_()

    def run(m):
        out = torch.utils.checkpoint.checkpoint(m, x, use_reentrant=use_reentrant)
        out.square().sum().backward()
        return [p.grad.clone() for p in m.parameters()] + [x.grad.clone()]

    grads = run(model)
    x.grad = None
    for g, r in zip(grads, run(reference), strict=True):
        assert_same(g, r, rtol=1e-5, atol=1e-6)

    # SwiGLU block and in-place activation inside a checkpointed region, with gradients of the input.
    ffn = fusedact.nn.SwiGLUFFN(8, 12)
    x.grad = None

    def block(t):
        h = ffn(t)
        return FF.silu(h * 1, inplace=True)

    torch.utils.checkpoint.checkpoint(block, x, use_reentrant=use_reentrant).sum().backward()
    g = x.grad
    x.grad = None
    block(x).sum().backward()
    assert_same(g, x.grad)
