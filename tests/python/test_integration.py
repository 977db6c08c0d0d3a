"""fusedact as PyTorch's machinery sees it: torch.library.opcheck on every operator,
torch.compile, torch.export and TorchScript of models built from fusedact modules, the
nn modules and convert(), and build_info / the command line."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import fusedact
from reference import POINTWISE, assert_same, random_input

each_case = pytest.mark.parametrize("case", POINTWISE, ids=str)


def _samples(device, requires_grad):
    shapes = [(5,), (3, 4), (2, 3, 4, 5), ()]
    return [random_input(s, torch.float32, device, seed=i).requires_grad_(requires_grad) for i, s in enumerate(shapes)]


@each_case
def test_opcheck_forward_backward_inplace(case, device):
    for requires_grad in (False, True):
        for x in _samples(device, requires_grad):
            args = case.args(x)
            param_args = tuple(a.detach().requires_grad_(requires_grad) for a in args)
            torch.library.opcheck(case.fused_op(), (x, *param_args), case.kwargs)
            saved = x.detach().requires_grad_(requires_grad)
            grad = random_input(x.shape, torch.float32, device, seed=9).requires_grad_(requires_grad)
            torch.library.opcheck(case.backward_op(), (grad, saved, *param_args), case.kwargs)
            if case.param is not None:
                param_backward = getattr(torch.ops.fusedact, f"{case.name}_{case.param_name}_backward").default
                torch.library.opcheck(param_backward, (grad, saved, *param_args))
            if case.inplace:
                inplace = getattr(torch.ops.fusedact, f"{case.op}_").default
                torch.library.opcheck(inplace, (x.detach().clone(),), case.kwargs)


def _models():
    """The same small network built from torch.nn and from fusedact.nn modules."""

    def build(nn):
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.Linear(16, 32),
            nn.GELU(),
            torch.nn.Linear(32, 32),
            nn.GELU(approximate="tanh"),
            torch.nn.Linear(32, 32),
            nn.ReLU(),
            torch.nn.Linear(32, 32),
            nn.PReLU(32, init=0.1),
            torch.nn.Linear(32, 8),
        )

    return build(torch.nn), build(fusedact.nn)


def _grads(model, x):
    model.zero_grad()
    out = model(x)
    out.square().sum().backward()
    return out.detach(), [p.grad.clone() for p in model.parameters()]


def test_torch_compile_fullgraph_matches_eager(device):
    reference, model = _models()
    model, reference = model.to(device), reference.to(device)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    x = random_input((4, 16), torch.float32, device)
    out, grads = _grads(compiled, x)
    ref_out, ref_grads = _grads(reference, x)
    assert_same(out, ref_out, rtol=1e-5, atol=1e-5)
    for g, r in zip(grads, ref_grads, strict=True):
        assert_same(g, r, rtol=1e-5, atol=1e-5)


def test_torch_compile_sees_fused_ops_in_both_graphs():
    _, model = _models()
    graphs = []

    def capture(gm, example_inputs):
        from functorch.compile import make_boxed_func
        from torch._functorch.aot_autograd import aot_module_simplified

        def keep(g, _):
            graphs.append(str(g.graph))
            return make_boxed_func(g.forward)

        return aot_module_simplified(gm, example_inputs, fw_compiler=keep, bw_compiler=keep)

    torch._dynamo.reset()
    compiled = torch.compile(model, backend=capture, fullgraph=True)
    compiled(random_input((4, 16), torch.float32, "cpu").requires_grad_()).sum().backward()
    forward, backward = graphs
    assert "fusedact.gelu.default" in forward and "fusedact.relu.default" in forward
    assert "fusedact.gelu_backward.default" in backward and "fusedact.relu_backward.default" in backward
    assert "fusedact.prelu.default" in forward and "fusedact.prelu_weight_backward.default" in backward


def test_compiled_autograd_matches_eager():
    # Compiled autograd traces the backward graph too, through each node's compiled_args and
    # apply_with_saved: fusedact's nodes (pointwise, per-channel, softmax) must support them.
    reference, model = _models()
    model = torch.nn.Sequential(model, fusedact.nn.SiLU(), fusedact.nn.LogSoftmax(-1))
    reference = torch.nn.Sequential(reference, torch.nn.SiLU(), torch.nn.LogSoftmax(-1))
    x = random_input((4, 16), torch.float32, "cpu")

    def step(m):
        m.zero_grad()
        loss = m(x).square().sum()
        loss.backward()
        return loss

    torch._dynamo.reset()
    with torch._dynamo.config.patch(compiled_autograd=True):
        loss = torch.compile(step)(model)
    assert_same(loss, step(reference), rtol=1e-5, atol=1e-5)
    for p, r in zip(model.parameters(), reference.parameters(), strict=True):
        assert_same(p.grad, r.grad, rtol=1e-5, atol=1e-5)


def _through_every_node_kind(x, weight):
    """A graph through an autograd node of every kind fusedact builds: pointwise ops saving the
    input (gelu, with a string parameter) and the output (sigmoid); in place, saving a copy of
    the input (silu_) and the output (relu_, also on a view); the per-channel parameter
    (prelu); GLU of two tensors (geglu) and of one split tensor (swiglu); rrelu in training
    (output and seed) and in eval (no seed); softmax and log_softmax."""
    ff = fusedact.functional
    h = ff.sigmoid(ff.gelu(x, approximate="tanh")) * 3
    ff.silu(h, inplace=True)
    h = ff.relu(h - 0.5, inplace=True) - 0.25
    ff.relu(h[:, :4], inplace=True)
    h = ff.prelu(h, weight)
    g = ff.geglu(h[:, :8], h[:, 8:])
    g = ff.swiglu(torch.cat([g, h[:, 8:]], dim=1))
    g = ff.rrelu(ff.rrelu(g - 0.5, training=True), training=False)
    return ff.log_softmax(ff.softmax(g, dim=-1) * 4, dim=-1)


def test_compiled_autograd_through_every_node_kind():
    # The backward alone under compiled autograd (the forward eager, so that rrelu draws the
    # same slopes): each node's compiled_args and apply_with_saved put its backward into the
    # graph, and the gradients are eager's.
    from torch._dynamo import compiled_autograd
    from torch._dynamo.utils import counters

    x = random_input((4, 16), torch.float32, "cpu").requires_grad_()
    weight = (torch.rand(16) * 0.5).requires_grad_()
    mix = random_input((4, 8), torch.float32, "cpu", seed=3)

    def gradients(backward):
        x.grad = weight.grad = None
        torch.manual_seed(0)
        backward((_through_every_node_kind(x, weight) * mix).sum())
        return x.grad, weight.grad

    eager = gradients(torch.Tensor.backward)
    torch._dynamo.reset()
    counters.clear()
    with compiled_autograd._enable(lambda gm: torch.compile(gm, backend="aot_eager", fullgraph=True)):
        compiled = gradients(torch.Tensor.backward)
    assert counters["compiled_autograd"]["captures"] == 1
    for c, e in zip(compiled, eager, strict=True):
        assert_same(c, e, rtol=1e-6, atol=1e-6)


def test_forward_mode_ad_is_refused():
    # No forward-mode formulas: a tangent raises rather than being dropped from the output.
    import torch.autograd.forward_ad as fwAD

    x = random_input((8,), torch.float32, "cpu")
    with fwAD.dual_level():
        dual = fwAD.make_dual(x, torch.ones_like(x))
        with pytest.raises(NotImplementedError, match="fusedact.relu: forward-mode"):
            fusedact.functional.relu(dual)
        with pytest.raises(NotImplementedError, match="fusedact.prelu: forward-mode"):
            fusedact.functional.prelu(dual, torch.full((1,), 0.25))


@pytest.mark.parametrize("case", [c for c in POINTWISE if c.inplace], ids=str)
@pytest.mark.parametrize("requires_grad", [False, True])
def test_inplace_under_torch_compile(case, requires_grad):
    def f(x, act):
        y = x * 2
        act(y, inplace=True)
        return y + 1

    x = random_input((8, 8), torch.float32, "cpu").requires_grad_(requires_grad)
    torch._dynamo.reset()
    out = torch.compile(f, fullgraph=True)(x, case.fused)
    expected = f(x, case.torch)
    assert_same(out, expected)
    if requires_grad:
        assert_same(torch.autograd.grad(out.sum(), x)[0], torch.autograd.grad(expected.sum(), x)[0])


@pytest.mark.parametrize("dynamo_first", [False, True], ids=["fusedact_first", "dynamo_first"])
def test_functional_compiles_whichever_is_imported_first(dynamo_first):
    # functional calls the operators' dispatcher entry points, which TorchDynamo learns to trace
    # as the operators when it is imported: before fusedact or after, no graph break.
    code = f"""
import torch
if {dynamo_first}:
    import torch._dynamo
import fusedact
x = torch.randn(64, requires_grad=True)
f = lambda x: fusedact.functional.gelu(fusedact.functional.relu(x - 0.5), approximate="tanh")
out = torch.compile(f, fullgraph=True)(x)
out.sum().backward()
ref = x.detach().clone().requires_grad_()
expected = torch.nn.functional.gelu(torch.relu(ref - 0.5), approximate="tanh")
expected.sum().backward()
torch.testing.assert_close(out, expected)
torch.testing.assert_close(x.grad, ref.grad)
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


def test_torch_export_and_jit_script():
    reference, model = _models()
    x = random_input((4, 16), torch.float32, "cpu")
    expected = reference(x)

    exported = torch.export.export(model, (x,))
    assert "fusedact.gelu" in str(exported.graph)
    assert_same(exported.module()(x), expected)

    scripted = torch.jit.script(model)
    assert_same(scripted(x), expected)
    assert "fusedact::gelu" in str(scripted.inlined_graph)
    inplace = torch.jit.script(fusedact.nn.ReLU(inplace=True))
    y = x.clone()
    assert inplace(y) is not None and torch.equal(y, torch.relu(x))


# Constructor arguments of the torch.nn modules that need some.
_ARGS = {torch.nn.Softmax: (-1,), torch.nn.LogSoftmax: (-1,), torch.nn.Softmin: (-1,), torch.nn.Threshold: (0.5, -2.0)}


def test_nn_modules_are_drop_in():
    from fusedact.convert import REPLACEMENTS

    twins = {
        "Sigmoid",
        "Tanh",
        "ReLU",
        "LeakyReLU",
        "RReLU",
        "PReLU",
        "ELU",
        "SELU",
        "GELU",
        "SiLU",
        "Mish",
        "Softplus",
        "Softmax",
        "LogSoftmax",
        "Hardtanh",
        "ReLU6",
        "Hardsigmoid",
        "Hardswish",
        "CELU",
        "LogSigmoid",
        "Softsign",
        "Tanhshrink",
        "Softshrink",
        "Hardshrink",
        "Threshold",
        "GLU",
        "Softmin",
        "Softmax2d",
    }
    assert {base.__name__ for base in REPLACEMENTS} == twins
    for base, replacement in REPLACEMENTS.items():
        fused, ref = replacement(*_ARGS.get(base, ())), base(*_ARGS.get(base, ()))
        assert repr(fused) == repr(ref)
        assert fused.state_dict().keys() == ref.state_dict().keys()
        assert isinstance(fused, base)
    for fused, ref in [
        (fusedact.nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")),
        (fusedact.nn.ReLU(inplace=True), torch.nn.ReLU(inplace=True)),
        (fusedact.nn.Softplus(beta=2.0, threshold=5.0), torch.nn.Softplus(beta=2.0, threshold=5.0)),
        (fusedact.nn.PReLU(7), torch.nn.PReLU(7)),
        (fusedact.nn.Hardtanh(-2.0, 1.5, inplace=True), torch.nn.Hardtanh(-2.0, 1.5, inplace=True)),
        (fusedact.nn.CELU(0.7), torch.nn.CELU(0.7)),
        (fusedact.nn.Softshrink(1.5), torch.nn.Softshrink(1.5)),
        (fusedact.nn.Threshold(0.5, -2.0, inplace=True), torch.nn.Threshold(0.5, -2.0, inplace=True)),
    ]:
        assert repr(fused) == repr(ref)
    with pytest.raises(TypeError):
        fusedact.nn.GELU(approximate="tanh", bogus=1)


def test_convert_replaces_every_activation_with_the_same_results():
    from fusedact.convert import REPLACEMENTS

    torch.manual_seed(0)

    def make(base):
        return base(*_ARGS.get(base, ()))

    # In evaluation: RReLU in training draws its slopes its own way (test_rrelu.py).
    reference = torch.nn.Sequential(*(make(base) for base in REPLACEMENTS)).eval()
    model = torch.nn.Sequential(*(make(base) for base in REPLACEMENTS)).eval()
    model.load_state_dict(reference.state_dict())
    fusedact.convert(model)
    assert [type(m) for m in model] == list(REPLACEMENTS.values())
    x = random_input((2, 3, 4, 6), torch.float32, "cpu") / 3  # Softmax2d takes 4-D; GLU halves the last dim
    out, grads = _grads(model, x)
    ref_out, ref_grads = _grads(reference, x)
    assert_same(out, ref_out)
    for g, r in zip(grads, ref_grads, strict=True):
        assert_same(g, r)


def test_convert_swaps_modules_and_keeps_results(capsys):
    reference, _ = _models()
    model, _ = _models()
    x = random_input((4, 16), torch.float32, "cpu")
    assert fusedact.convert(model, verbose=True) is model
    assert "replaced 2 GELU, 1 PReLU, 1 ReLU" in capsys.readouterr().out
    kinds = [type(m) for m in model]
    assert kinds.count(fusedact.nn.GELU) == 2 and kinds.count(fusedact.nn.ReLU) == 1
    assert kinds.count(fusedact.nn.PReLU) == 1
    out, grads = _grads(model, x)
    ref_out, ref_grads = _grads(reference, x)
    assert_same(out, ref_out)
    for g, r in zip(grads, ref_grads, strict=True):
        assert_same(g, r)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(RuntimeError, match="fusedact.gelu: approximate must be 'none' or 'tanh', got 'fast'"):
        fusedact.functional.gelu(torch.ones(3), approximate="fast")


def test_build_info_and_cli():
    info = fusedact.build_info()
    assert info["torch"].split("+")[0] == torch.__version__.split("+")[0]
    assert info["cpu_isa"] in info["cpu_isas"]
    assert isinstance(info["cuda"], bool) and isinstance(info["cuda_archs"], list)
    if torch.cuda.is_available():
        assert info["cuda"], "a GPU is here but the CUDA kernels were not compiled in"
    printed = subprocess.run([sys.executable, "-m", "fusedact", "info"], check=True, capture_output=True, text=True)
    assert json.loads(printed.stdout) == info


def test_cpu_isa_override_and_errors():
    isas = fusedact.build_info()["cpu_isas"]
    env_run = subprocess.run(
        [sys.executable, "-c", "import fusedact; print(fusedact.build_info()['cpu_isa'])"],
        env={**__import__("os").environ, "FUSEDACT_CPU_ISA": "default"},
        check=True,
        capture_output=True,
        text=True,
    )
    assert env_run.stdout.strip() == "default"
    with pytest.raises(ValueError, match="unknown CPU instruction set 'sse9'"):
        fusedact.set_cpu_isa("sse9")
    assert fusedact.build_info()["cpu_isa"] == isas[-1]


def _outcome(call):
    """A call's result, or the type and message of what it raised."""
    try:
        return call()
    except Exception as error:  # noqa: BLE001 - the outcome is compared, whatever it is
        return type(error), str(error).split("\n")[0]


# (op, its arguments as fusedact.functional passes them or as a caller might): positional and
# keyword, ints for floats, NumPy and bool values, a missing or surplus argument, wrong types.
_ENTRY_CALLS = [
    ("relu", (torch.tensor([-1.0, 0.0, 2.0]),), {}),
    ("relu", (), {"self": torch.tensor([-1.0, 2.0])}),
    ("relu", (torch.tensor([-1.0, 2.0]), 1), {}),
    ("relu", ([1.0, -1.0],), {}),
    ("hardtanh", (torch.linspace(-2, 2, 9), -0.5, 0.5), {}),
    ("hardtanh", (torch.linspace(-2, 2, 9), -1, 1), {}),
    ("hardtanh", (torch.linspace(-2, 2, 9),), {"min_val": -0.5, "max_val": 0.5}),
    ("hardtanh", (torch.linspace(-2, 2, 9),), {"max_val": 0.5, "min_val": -0.5}),
    ("hardtanh", (torch.linspace(-2, 2, 9), np.float64(-0.5), 0.5), {}),
    ("hardtanh", (torch.linspace(-2, 2, 9), True, 0.5), {}),
    ("hardtanh", (torch.linspace(-2, 2, 9), "low", 0.5), {}),
    ("hardtanh", (torch.linspace(-2, 2, 9), 1.0, -1.0), {}),
    ("hardtanh", (torch.linspace(-2, 2, 9), 2**70, 0.5), {}),
    ("hardtanh_", (torch.linspace(-2, 2, 9), -0.5, 0.5), {}),
    ("gelu", (torch.linspace(-3, 3, 7),), {"approximate": "tanh"}),
    ("gelu", (torch.linspace(-3, 3, 7), "tanh"), {}),
    ("gelu", (torch.linspace(-3, 3, 7),), {"approximate": "fast"}),
    ("softmax", (torch.randn(3, 5), 1, False), {}),
    ("softmax", (torch.randn(3, 5), 2**70, False), {}),
    ("softmax", (torch.randn(3, 5), 7, False), {}),
    ("softmax", (torch.randn(3, 5), 1.0, False), {}),
    ("prelu", (torch.randn(2, 3, 4), torch.rand(3)), {}),
    ("prelu", (torch.randn(2, 3, 4), torch.rand(4)), {}),
    ("prelu", (torch.randn(2, 3, 4), torch.nn.Parameter(torch.rand(1))), {}),
    ("swiglu", (torch.randn(2, 3), torch.randn(2, 3)), {}),
    ("swiglu_backward", (torch.randn(2, 3), torch.randn(2, 3), torch.randn(2, 3)), {}),
    ("swiglu_split", (torch.randn(2, 6), -1), {}),
    ("rrelu", (torch.randn(9), torch.tensor([7]), 0.125, 1 / 3), {}),
    ("rrelu", (torch.randn(9), None, 0.125, 1 / 3), {}),
    ("rrelu", (torch.randn(9), torch.tensor([7.0]), 0.125, 1 / 3), {}),
]


@pytest.mark.parametrize("name, args, kwargs", _ENTRY_CALLS, ids=lambda v: str(v)[:40] if isinstance(v, str) else "")
def test_entry_point_gives_the_generic_entrys_outcome(name, args, kwargs):
    """fusedact._ops' entry points take a typed path for the calls it knows and hand every
    other call to the dispatcher's generic entry: the outcome is the generic entry's, values,
    in-place effects and errors alike."""
    from fusedact import _ops

    generic = getattr(torch.ops.fusedact, name).default
    clone = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    ours, theirs = _outcome(lambda: getattr(_ops, name)(*args, **kwargs)), _outcome(lambda: generic(*clone, **kwargs))
    if isinstance(theirs, tuple) and isinstance(theirs[0], type):
        assert ours == theirs
    else:
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
        for mine, its in zip(args, clone, strict=True):
            if isinstance(mine, torch.Tensor):
                assert_same(mine, its)


def test_entry_points_honour_torch_function():
    """Tensor subclasses and TorchFunctionModes see fusedact's calls (as torch's own functions'),
    and FX traces them."""

    class Logged(torch.Tensor):
        calls = []

        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            cls.calls.append(getattr(func, "__name__", str(func)))
            return super().__torch_function__(func, types, args, kwargs or {})

    class Mode(torch.overrides.TorchFunctionMode):
        def __init__(self):
            super().__init__()
            self.calls = []

        def __torch_function__(self, func, types, args=(), kwargs=None):
            self.calls.append(getattr(func, "__name__", str(func)))
            return func(*args, **(kwargs or {}))

    F = fusedact.functional
    x = torch.randn(4, 6)
    calls = [
        lambda t: F.relu(t),
        lambda t: F.hardtanh(t, -0.5, 0.5),
        lambda t: F.gelu(t, approximate="tanh"),
        lambda t: F.softmax(t, -1),
        lambda t: F.swiglu(t),
        lambda t: F.prelu(t, torch.full((6,), 0.25)),
    ]
    for call in calls:
        expected = call(x)
        Logged.calls.clear()
        assert_same(call(x.as_subclass(Logged)).as_subclass(torch.Tensor), expected)
        assert Logged.calls, "the subclass's __torch_function__ was not called"
        with Mode() as mode:
            assert_same(call(x), expected)
        assert mode.calls, "the mode's __torch_function__ was not called"
        traced = torch.fx.symbolic_trace(call)
        assert any(node.op == "call_function" for node in traced.graph.nodes)
        assert_same(traced(x), expected)
