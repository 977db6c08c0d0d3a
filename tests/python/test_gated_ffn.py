"""gated_ffn, swiglu_ffn and fusedact.nn.GatedFFN / SwiGLUFFN against the eager torch
composition and transformers' LlamaMLP and GemmaMLP: outputs and every gradient over
activations, dtypes, batch shapes, biases and packed weights; the memory it keeps for
backward; gradcheck and gradgradcheck; opcheck; torch.compile; autocast; the modules'
constructors and state_dict; clear errors."""

import functools

import pytest
import torch
import torch.nn.functional as F

import fusedact
import fusedact.functional as FF
from fusedact.bench import saved_tensor_bytes
from reference import FLOAT_DTYPES, assert_same

IN, HIDDEN, OUT = 64, 176, 48  # hidden / in = 2.75, as LLaMA's 2816 / 1024

# dtype -> (rtol, atol): GEMMs sum IN or HIDDEN products, in another order than torch's when
# gate and up run as one GEMM; 16-bit GEMMs round their results once more than torch's fused
# element-wise work does.
TOLERANCES = {
    torch.float64: (1e-7, 1e-7),
    torch.float32: (1e-5, 1e-5),
    torch.float16: (4e-3, 2e-3),
    torch.bfloat16: (3e-2, 2e-2),
}


# gated_ffn's activations, as torch computes them.
ACTIVATIONS = {
    "silu": F.silu,
    "gelu": F.gelu,
    "gelu_tanh": functools.partial(F.gelu, approximate="tanh"),
    "relu": F.relu,
    "quick_gelu": lambda t: t * torch.sigmoid(1.702 * t),
}


def eager(x, w_gate, w_up, w_down, b_gate=None, b_up=None, b_down=None, activation="silu"):
    """The composition gated_ffn replaces, as LlamaMLP computes it."""
    act = ACTIVATIONS[activation]
    return F.linear(act(F.linear(x, w_gate, b_gate)) * F.linear(x, w_up, b_up), w_down, b_down)


def make_weights(dtype, device, bias, packed, seed=0):
    """Weights as nn.Linear initialises them; with packed, w_gate and w_up are the halves of one
    tensor (the leaf returned first)."""
    g = torch.Generator().manual_seed(seed)

    def uniform(*shape, fan_in):
        bound = fan_in**-0.5
        return ((torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1) * bound).to(dtype=dtype, device=device)

    leaves = []
    if packed:
        gate_up = uniform(2 * HIDDEN, IN, fan_in=IN).requires_grad_()
        leaves.append(gate_up)
        w_gate, w_up = gate_up[:HIDDEN], gate_up[HIDDEN:]
    else:
        w_gate, w_up = uniform(HIDDEN, IN, fan_in=IN).requires_grad_(), uniform(HIDDEN, IN, fan_in=IN).requires_grad_()
        leaves += [w_gate, w_up]
    w_down = uniform(OUT, HIDDEN, fan_in=HIDDEN).requires_grad_()
    leaves.append(w_down)
    biases = [None, None, None]
    if bias:
        biases = [
            uniform(HIDDEN, fan_in=IN).requires_grad_(),
            uniform(HIDDEN, fan_in=IN).requires_grad_(),
            uniform(OUT, fan_in=HIDDEN).requires_grad_(),
        ]
        leaves += biases
    return leaves, [w_gate, w_up, w_down, *biases]


def _outputs_and_grads(fn, x, leaves, weights, grad):
    x = x.detach().clone().requires_grad_()
    out = fn(x, *weights)
    return (out, *torch.autograd.grad(out, [x, *leaves], grad))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(7, IN), (2, 5, IN), (IN,)], ids=str)
@pytest.mark.parametrize("bias", [False, True], ids=["no_bias", "bias"])
@pytest.mark.parametrize("packed", [False, True], ids=["separate", "packed"])
def test_matches_eager_composition(dtype, shape, bias, packed, device):
    leaves, weights = make_weights(dtype, device, bias, packed)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(
        dtype=dtype, device=device
    )
    grad = torch.randn((*shape[:-1], OUT), generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    grad = grad.to(dtype=dtype, device=device)
    actual = _outputs_and_grads(FF.swiglu_ffn, x, leaves, weights, grad)
    expected = _outputs_and_grads(eager, x, leaves, weights, grad)
    rtol, atol = TOLERANCES[dtype]
    for a, e in zip(actual, expected, strict=True):
        assert_same(a, e, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("packed", [False, True], ids=["separate", "packed"])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_matches_its_composition(activation, dtype, packed, device):
    leaves, weights = make_weights(dtype, device, bias=True, packed=packed)
    x = torch.randn(2, 5, IN, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x = x.to(dtype=dtype, device=device)
    grad = torch.randn(2, 5, OUT, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    grad = grad.to(dtype=dtype, device=device)
    actual = _outputs_and_grads(functools.partial(FF.gated_ffn, activation=activation), x, leaves, weights, grad)
    expected = _outputs_and_grads(functools.partial(eager, activation=activation), x, leaves, weights, grad)
    rtol, atol = TOLERANCES[dtype]
    for a, e in zip(actual, expected, strict=True):
        assert_same(a, e, rtol=rtol, atol=atol)


def test_keeps_at_most_55_percent_of_the_activation_bytes():
    """SPEC section 8: saved for backward, weights not counted. Eager keeps x, gate, silu(gate),
    up and their product; swiglu_ffn keeps x and the gate/up projections."""
    leaves, weights = make_weights(torch.float32, "cpu", bias=False, packed=False)
    x = torch.randn(32, IN, requires_grad=True)
    ours = saved_tensor_bytes(FF.swiglu_ffn, x, *weights, exclude=leaves)
    theirs = saved_tensor_bytes(eager, x, *weights, exclude=leaves)
    tokens, element = 32, 4
    assert ours == tokens * (IN + 2 * HIDDEN) * element
    assert ours <= 0.55 * theirs, (ours, theirs)


def test_gradcheck_and_gradgradcheck(device):
    def leaf(*shape):
        return torch.randn(*shape, dtype=torch.float64, device=device, requires_grad=True)

    x, w_gate, w_up, w_down = leaf(3, 6), leaf(5, 6), leaf(5, 6), leaf(4, 5)
    for biases in ((), (leaf(5), leaf(5), leaf(4))):
        inputs = (x, w_gate, w_up, w_down, *biases)
        assert torch.autograd.gradcheck(FF.swiglu_ffn, inputs)
        assert torch.autograd.gradgradcheck(FF.swiglu_ffn, inputs)
    for activation in ACTIVATIONS:
        fn = functools.partial(FF.gated_ffn, activation=activation)
        assert torch.autograd.gradcheck(fn, (x, w_gate, w_up, w_down))
        assert torch.autograd.gradgradcheck(fn, (x, w_gate, w_up, w_down))


def test_opcheck(device):
    for bias in (False, True):
        for packed in (False, True):
            for requires_grad in (False, True):
                leaves, weights = make_weights(torch.float32, device, bias, packed)
                weights = [w.detach().requires_grad_(requires_grad) if w is not None else None for w in weights]
                if packed:  # keep the halves of one tensor
                    both = torch.cat([weights[0], weights[1]]).detach().requires_grad_(requires_grad)
                    weights[0], weights[1] = both[:HIDDEN], both[HIDDEN:]
                x = torch.randn(2, 3, IN, device=device, requires_grad=requires_grad)
                torch.library.opcheck(torch.ops.fusedact.gated_ffn.default, (x, *weights))
    x = torch.randn(3, IN, device=device, requires_grad=True)
    for activation in ACTIVATIONS:
        torch.library.opcheck(torch.ops.fusedact.gated_ffn.default, (x, *weights), {"activation": activation})


def test_module_from_llama_mlp_and_state_dict():
    transformers = pytest.importorskip("transformers")  # a test extra, installed by scripts/setup.sh
    from transformers.models.llama.modeling_llama import LlamaMLP

    for bias in (False, True):
        config = transformers.LlamaConfig(
            hidden_size=IN, intermediate_size=HIDDEN, num_attention_heads=4, num_key_value_heads=4, mlp_bias=bias
        )
        torch.manual_seed(0)
        mlp = LlamaMLP(config)
        module = fusedact.nn.SwiGLUFFN.from_llama_mlp(mlp)
        assert module.state_dict().keys() == mlp.state_dict().keys()
        x = torch.randn(2, 9, IN)
        out, ref = module(x), mlp(x)
        assert_same(out, ref, rtol=1e-5, atol=1e-5)
        out.square().sum().backward()
        ref.square().sum().backward()
        for (name, p), (ref_name, q) in zip(module.named_parameters(), mlp.named_parameters(), strict=True):
            assert name == ref_name
            assert_same(p.grad, q.grad, rtol=1e-5, atol=1e-5)

        fresh = fusedact.nn.SwiGLUFFN(IN, HIDDEN, bias=bias)
        fresh.load_state_dict(mlp.state_dict())  # a LlamaMLP checkpoint loads as it is
        assert_same(fresh(x), ref, rtol=1e-5, atol=1e-5)
        round_trip = fusedact.nn.SwiGLUFFN(IN, HIDDEN, bias=bias)
        round_trip.load_state_dict(fresh.state_dict())
        assert torch.equal(round_trip(x), fresh(x))


def test_gated_module_from_a_gemma_mlp_reads_its_activation():
    """GemmaMLP is LlamaMLP's layout with a tanh-GELU gate: from_llama_mlp reads it (computing
    silu there would be off by a few hundredths), and SwiGLUFFN refuses it."""
    transformers = pytest.importorskip("transformers")
    from transformers.models.gemma.modeling_gemma import GemmaMLP

    config = transformers.GemmaConfig(hidden_size=IN, intermediate_size=HIDDEN, hidden_activation="gelu_pytorch_tanh")
    torch.manual_seed(0)
    mlp = GemmaMLP(config)
    module = fusedact.nn.GatedFFN.from_llama_mlp(mlp)
    assert module.activation == "gelu_tanh"
    assert repr(module).startswith("GatedFFN(\n  activation='gelu_tanh'")
    x = torch.randn(2, 9, IN)
    assert_same(module(x), mlp(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="SwiGLUFFN's activation is silu, got 'gelu_tanh'; use GatedFFN"):
        fusedact.nn.SwiGLUFFN.from_llama_mlp(mlp)
    mlp.act_fn = torch.nn.Hardswish()
    with pytest.raises(ValueError, match="activation Hardswish is none of gated_ffn's"):
        fusedact.nn.GatedFFN.from_llama_mlp(mlp)
    with pytest.raises(ValueError, match="GatedFFN: activation must be one of silu, gelu, gelu_tanh"):
        fusedact.nn.GatedFFN(IN, HIDDEN, activation="tanh")


def test_module_from_linears():
    torch.manual_seed(0)
    gate, up, down = torch.nn.Linear(IN, HIDDEN), torch.nn.Linear(IN, HIDDEN), torch.nn.Linear(HIDDEN, OUT)
    module = fusedact.nn.SwiGLUFFN.from_linears(gate, up, down)
    x = torch.randn(5, IN)
    assert_same(module(x), down(F.silu(gate(x)) * up(x)), rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError, match="from_linears: gate is a Conv1d, not nn.Linear"):
        fusedact.nn.SwiGLUFFN.from_linears(torch.nn.Conv1d(1, 1, 1), up, down)
    with pytest.raises(ValueError, match="must all have biases or none"):
        fusedact.nn.SwiGLUFFN.from_linears(gate, torch.nn.Linear(IN, HIDDEN, bias=False), down)


def test_torch_compile_fullgraph():
    torch.manual_seed(0)
    model = torch.nn.Sequential(fusedact.nn.SwiGLUFFN(IN, HIDDEN, bias=True), torch.nn.Linear(IN, 4))
    x = torch.randn(3, 7, IN)
    expected = model(x)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    out = compiled(x)
    assert_same(out, expected, rtol=1e-5, atol=1e-5)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_autocast_as_the_composition():
    leaves, weights = make_weights(torch.float32, "cpu", bias=True, packed=False)
    x = torch.randn(4, IN)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, ref = FF.swiglu_ffn(x, *weights), eager(x, *weights)
    assert out.dtype == ref.dtype == torch.bfloat16
    assert_same(out, ref, rtol=3e-2, atol=2e-2)


def test_clear_errors():
    _, (w_gate, w_up, w_down, *_) = make_weights(torch.float32, "cpu", bias=False, packed=False)
    x = torch.randn(3, IN)
    w_gate, w_up, w_down = w_gate.detach(), w_up.detach(), w_down.detach()
    cases = [
        ((x[:, :10], w_gate, w_up, w_down), r"w_gate has shape \[176, 64\] but x has 10 features"),
        ((x, w_gate, w_up[:5], w_down), r"w_up has shape \[5, 64\] but w_gate has shape \[176, 64\]"),
        ((x, w_gate, w_up, w_down.t()), r"w_down has shape \[176, 48\]; expected \[out, 176\]"),
        ((x, w_gate, w_up, w_down, torch.zeros(3)), r"b_gate has shape \[3\]; expected \[176\]"),
        ((x.double(), w_gate, w_up, w_down), r"w_gate is Float but x is Double"),
        ((x, w_gate, w_up.to("meta"), w_down), r"w_up is on meta but x is on cpu"),
        ((x.long(), w_gate, w_up, w_down), r"expected x to be a floating-point tensor"),
    ]
    for args, message in cases:
        with pytest.raises(RuntimeError, match=r"fusedact\.gated_ffn: " + message):
            FF.swiglu_ffn(*args)
    with pytest.raises(RuntimeError, match=r"fusedact\.gated_ffn: activation must be 'silu', .* got 'tanh'"):
        FF.gated_ffn(x, w_gate, w_up, w_down, activation="tanh")


@pytest.mark.parametrize(("in_features", "hidden", "out"), [(0, 5, 3), (4, 0, 3), (4, 5, 0)])
def test_zero_sized_features_as_the_composition(in_features, hidden, out):
    x = torch.randn(2, 3, in_features, requires_grad=True)
    w_gate, w_up, w_down = (torch.randn(s, requires_grad=True) for s in ((hidden, in_features),) * 2 + ((out, hidden),))
    y = FF.swiglu_ffn(x, w_gate, w_up, w_down)
    expected = F.linear(F.silu(F.linear(x, w_gate)) * F.linear(x, w_up), w_down)
    assert_same(y, expected)
    grads = torch.autograd.grad(y.sum(), (x, w_gate, w_up, w_down))
    expected_grads = torch.autograd.grad(expected.sum(), (x, w_gate, w_up, w_down))
    for g, r in zip(grads, expected_grads, strict=True):
        assert_same(g, r)
