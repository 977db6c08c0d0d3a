"""fusedact in torch's parallel training, two CPU processes over gloo: DTensor (every
operator family keeps its inputs' sharding and gives torch's values and gradients), FSDP2
(fully_shard) and DDP, each training the same model as torch.nn to the same gradients."""

import os
import tempfile

import pytest
import torch
import torch.distributed as dist

import fusedact
import fusedact.functional as FF
from reference import GLU, POINTWISE, SOFTMAX_OPS, assert_same, random_input

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="torch without gloo")

WORLD = 2
TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}


def _spawn(check):
    """Runs check(rank) in WORLD processes joined in a gloo process group."""
    with tempfile.TemporaryDirectory() as folder:
        torch.multiprocessing.spawn(_worker, args=(f"file://{folder}/store", check), nprocs=WORLD)


def _worker(rank, init_method, check):
    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=WORLD)
    check(rank)  # a failure ends this process, and spawn the others
    # Leave together, and without the interpreter's teardown: a process that held a gloo group
    # aborts at exit now and then ("terminate called without an active exception"; torch
    # alone does it too), which would fail a test whose checks all passed.
    dist.barrier()
    dist.destroy_process_group()
    os._exit(0)


# ---- DTensor ----------------------------------------------------------------------------------


def _check_dtensor_case(fused, reference, tensors, placements, mesh):
    """fused on DTensors (placed as given) gives a DTensor placed as the first, with the
    values and input gradients of reference on the whole tensors."""
    from torch.distributed.tensor import DTensor, distribute_tensor

    leaves = [t.detach().clone().requires_grad_() for t in tensors]
    dleaves = [
        distribute_tensor(t.detach(), mesh, [p]).requires_grad_() for t, p in zip(tensors, placements, strict=True)
    ]
    out, expected = fused(*dleaves), reference(*leaves)
    assert isinstance(out, DTensor), type(out)
    assert out.placements == (placements[0],), (out.placements, placements)
    assert_same(out.full_tensor(), expected.detach(), **TOLERANCE)
    grad = random_input(expected.shape, expected.dtype, "cpu", seed=7)
    got = torch.autograd.grad(out, dleaves, distribute_tensor(grad, mesh, [out.placements[0]]))
    want = torch.autograd.grad(expected, leaves, grad)
    for g, w in zip(got, want, strict=True):
        assert_same(g.full_tensor(), w, **TOLERANCE)


def _dtensor_checks(rank):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Replicate, Shard, distribute_tensor

    mesh = init_device_mesh("cpu", (WORLD,))
    x = random_input((4, 6), torch.float32, "cpu")  # the same on every rank
    for case in [c for c in POINTWISE if c.param is None]:
        for placement in (Shard(0), Shard(1), Replicate()):
            _check_dtensor_case(case.fused, case.reference, [x], [placement], mesh)
        if case.inplace:
            dx = distribute_tensor(x.clone(), mesh, [Shard(1)])
            assert case.fused(dx, inplace=True) is dx and dx.placements == (Shard(1),)
            assert_same(dx.full_tensor(), case.reference(x), **TOLERANCE)
    for case in [c for c in POINTWISE if c.param is not None]:
        y = random_input((4, 6, 3), torch.float32, "cpu", seed=1)
        param = case.param(y)
        for placements in ([Shard(0), Replicate()], [Shard(2), Replicate()], [Shard(1), Shard(0)]):
            if placements[1] == Shard(0) and param.numel() == 1:
                continue
            _check_dtensor_case(case.fused, case.torch, [y, param], placements, mesh)
    up = random_input((4, 6), torch.float32, "cpu", seed=2)
    for case in GLU:
        for placement in (Shard(0), Shard(1)):
            _check_dtensor_case(case.fused, lambda g, u, c=case: c.reference_pair(g, u), [x, up], [placement] * 2, mesh)
        split = torch.cat([x, up], -1)
        _check_dtensor_case(
            lambda t, c=case: c.fused(t), lambda t, c=case: c.reference_split(t), [split], [Shard(0)], mesh
        )
    for name in SOFTMAX_OPS:
        fused, reference = getattr(FF, name), getattr(torch.nn.functional, name)
        _check_dtensor_case(lambda t, f=fused: f(t, -1), lambda t, f=reference: f(t, -1), [x], [Shard(0)], mesh)
        _check_dtensor_case(lambda t, f=fused: f(t, 0), lambda t, f=reference: f(t, 0), [x], [Shard(1)], mesh)

    # swiglu_ffn: tokens split, weights replicated; then tensor-parallel (hidden features split).
    tokens = random_input((8, 6), torch.float32, "cpu", seed=3)
    w_gate, w_up, w_down = (
        random_input(s, torch.float32, "cpu", seed=4 + i) / 3 for i, s in enumerate([(10, 6), (10, 6), (5, 10)])
    )

    def composition(t, g, u, d):
        return torch.nn.functional.linear(torch.nn.functional.silu(t @ g.t()) * (t @ u.t()), d)

    args = [tokens, w_gate, w_up, w_down]
    _check_dtensor_case(FF.swiglu_ffn, composition, args, [Shard(0), Replicate(), Replicate(), Replicate()], mesh)
    from torch.distributed.tensor import Partial

    dargs = [
        distribute_tensor(t, mesh, [p]) for t, p in zip(args, [Replicate(), Shard(0), Shard(0), Shard(1)], strict=True)
    ]
    out = FF.swiglu_ffn(*dargs)
    assert out.placements == (Partial(),)
    assert_same(out.full_tensor(), composition(*args), **TOLERANCE)


def test_dtensor_keeps_the_sharding_and_matches_torch():
    _spawn(_dtensor_checks)


# ---- FSDP2 and DDP ------------------------------------------------------------------------------


class _TorchSwiGLU(torch.nn.Module):
    """transformers' LlamaMLP, in torch.nn."""

    def __init__(self, features, hidden):
        super().__init__()
        self.gate_proj = torch.nn.Linear(features, hidden, bias=False)
        self.up_proj = torch.nn.Linear(features, hidden, bias=False)
        self.down_proj = torch.nn.Linear(hidden, features, bias=False)

    def forward(self, x):
        return self.down_proj(torch.nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


def _model(nn):
    torch.manual_seed(0)
    ffn = fusedact.nn.SwiGLUFFN(16, 24) if nn is fusedact.nn else _TorchSwiGLU(16, 24)
    return torch.nn.Sequential(
        torch.nn.Linear(8, 16), nn.GELU(), nn.PReLU(16), ffn, nn.SiLU(), torch.nn.Linear(16, 4), nn.LogSoftmax(dim=-1)
    )


def _train_step(model, rank):
    x = random_input((6, 8), torch.float32, "cpu", seed=10 + rank)  # each rank its own batch
    model(x).sum().backward()


def _fsdp2_checks(rank):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh("cpu", (WORLD,))
    grads = []
    for nn in (fusedact.nn, torch.nn):
        model = _model(nn)
        for layer in model:
            if any(True for _ in layer.parameters()):
                fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
        _train_step(model, rank)
        grads.append([p.grad.full_tensor() for p in model.parameters()])
    for g, r in zip(*grads, strict=True):
        assert_same(g, r, **TOLERANCE)


def test_fsdp2_gives_torch_nn_gradients():
    _spawn(_fsdp2_checks)


def _ddp_checks(rank):
    grads = []
    for nn in (fusedact.nn, torch.nn):
        model = torch.nn.parallel.DistributedDataParallel(_model(nn))
        _train_step(model, rank)
        grads.append([p.grad.clone() for p in model.parameters()])
    for g, r in zip(*grads, strict=True):
        assert_same(g, r, **TOLERANCE)
        gathered = [torch.empty_like(g) for _ in range(WORLD)]
        dist.all_gather(gathered, g)
        assert all(torch.equal(other, g) for other in gathered)  # every rank holds the same


def test_ddp_gives_torch_nn_gradients():
    _spawn(_ddp_checks)


def test_dtensor_rules_register_when_dtensor_is_imported_after_fusedact():
    import subprocess
    import sys

    code = (
        "import fusedact, sys\n"
        "assert 'torch.distributed.tensor' not in sys.modules\n"
        "import torch.distributed.tensor as dt\n"
        "from torch.distributed.tensor import DTensor\n"
        "import torch\n"
        "op = torch.ops.fusedact.gelu.default\n"
        "assert op in DTensor._op_dispatcher.sharding_propagator.op_strategy_funcs\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
