"""fusedact.convert on the models people train: every transformers and timm model of
fusedact.coverage built from a tiny config, converted with ffn=True, against an unconverted
copy; the activation classes of transformers and timm one by one against their own forward;
their variants; the gated feed-forward blocks, their fallbacks and what convert keeps
(hooks, state_dict, pickling, deepcopy); a LLaMA training step and the memory it saves."""

import copy
import io
import pickle

import pytest
import torch

import fusedact
from fusedact import coverage
from fusedact.convert import ACTIVATIONS, FFN_BLOCKS, conversion_plan
from reference import assert_same, onednn_gelu, random_input

transformers = pytest.importorskip("transformers")  # test extras, installed by scripts/setup.sh
timm = pytest.importorskip("timm")


@pytest.mark.parametrize("case", coverage.MODELS, ids=lambda c: c.name)
def test_converted_model_matches_the_original(case):
    """Outputs and every parameter's gradient equal the unconverted model's (float32,
    assert_close's defaults); every activation module is replaced (these models hold none
    that fusedact lacks); every gated feed-forward block of a dense model is fused."""
    row = coverage.check(case)
    assert row.equal, row.mismatch
    assert row.activations > 0 or case.name in ("gpt-oss",)
    assert row.replaced == row.activations, row.left
    if case.dense_ffn:
        assert row.ffn_blocks > 0 and row.ffn_fused == row.ffn_blocks


def _instances():
    """(qualified name, module) for every class of ACTIVATIONS that the installed libraries have."""
    import importlib

    for qualified in ACTIVATIONS:
        module_name, _, name = qualified.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError):
            continue  # a class of another version (PytorchGELUTanh before GELUTanh)
        if name == "PReLU":
            yield qualified, cls(num_parameters=3)
        else:
            yield qualified, cls()


INSTANCES = list(_instances())


def test_every_class_of_the_installed_libraries_is_known():
    names = {q for q, _ in INSTANCES}
    assert len(names) >= 20, names  # the table names classes that exist
    assert "transformers.activations.GELUTanh" in names and "timm.layers.activations.GELU" in names


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize(("qualified", "module"), INSTANCES, ids=[q for q, _ in INSTANCES])
def test_activation_class_replaced_computes_its_forward(qualified, module, dtype):
    """The swapped module against the class's own forward: values and gradients (the tanh-GELU
    composites round at each step where the fused op rounds once: within a rounding in
    bfloat16)."""
    reference = copy.deepcopy(module).to(dtype)
    module = copy.deepcopy(module).to(dtype)  # the shared instance stays as the library made it
    hooks = []
    module.register_forward_hook(lambda m, i, o: hooks.append(o.shape))
    plan = conversion_plan(module)
    assert plan.replaced == {"": type(module).__name__}, plan
    fusedact.convert(module)
    assert isinstance(module, type(reference)) and type(module) is not type(reference)
    assert module.state_dict().keys() == reference.state_dict().keys()
    x = (random_input((2, 3, 8), torch.float32, "cpu") * 2).to(dtype)
    xs = [x.clone().requires_grad_(), x.clone().requires_grad_()]
    out, ref = module(xs[0].clone()), reference(xs[1].clone())
    assert hooks == [out.shape]
    rtol, atol = (1.3e-6, 1e-5) if dtype == torch.float32 else (1.6e-2, 1e-2)
    # The signs of gelu's zeros are torch's artifacts on some CPUs: oneDNN's forward gives +0.0
    # for a negative result that underflows (reference.onednn_gelu), and in the left tail
    # (x < -4.5, reference._gelu_grad_in_float) torch's backward paths disagree on the sign of
    # a gradient that rounds to zero.
    erf_gelu = ACTIVATIONS[qualified].gate == "gelu"
    forward_signs = ~onednn_gelu(x, ref.detach()) if erf_gelu else None
    grad_signs = x >= -4.5 if erf_gelu else None
    assert_same(out, ref, signed_zeros=forward_signs, rtol=rtol, atol=atol)
    out.sum().backward()
    ref.sum().backward()
    assert_same(xs[0].grad, xs[1].grad, signed_zeros=grad_signs, rtol=rtol, atol=atol)


def test_variants_that_compute_otherwise_are_left_alone():
    from transformers.activations import ClippedGELUActivation, GELUActivation, GELUTanh

    model = torch.nn.Sequential(
        GELUActivation(use_gelu_python=True),  # the same function, in Python: replaced
        GELUTanh(use_gelu_tanh_python=True),  # likewise
        ClippedGELUActivation(-10, 10),  # clipped: no fusedact op
        GELUActivation(),
    )
    model[3].act = torch.tanh  # an instance whose function was changed
    plan = fusedact.conversion_plan(model)
    assert set(plan.replaced) == {"0", "1"}
    assert plan.left["2"] == "ClippedGELUActivation: no fusedact op"
    assert plan.left["3"].startswith("GELUActivation: its act is <built-in method tanh")
    reference = copy.deepcopy(model)
    fusedact.convert(model)
    assert type(model[2]) is ClippedGELUActivation and type(model[3]) is GELUActivation
    x = torch.randn(4, 8)
    assert_same(model(x), reference(x))

    class MyReLU(torch.nn.ReLU):  # a subclass may compute otherwise
        def forward(self, x):
            return super().forward(x) * 2

    plan = fusedact.conversion_plan(torch.nn.Sequential(MyReLU()))
    assert plan.left == {"0": "MyReLU: its forward may differ from its torch.nn base's"}


def test_convert_keeps_pickling_deepcopy_and_is_idempotent():
    from timm.layers.activations import GELU
    from transformers.activations import NewGELUActivation

    model = torch.nn.Sequential(torch.nn.Linear(4, 8), NewGELUActivation(), GELU(), torch.nn.Linear(8, 2))
    fusedact.convert(model)
    x = torch.randn(3, 4)
    expected = model(x)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert type(loaded[1]) is type(model[1]) and isinstance(loaded[1], NewGELUActivation)
    assert torch.equal(loaded(x), expected)
    assert type(pickle.loads(pickle.dumps(model[2]))) is type(model[2])
    assert type(copy.deepcopy(model)[2]) is type(model[2])
    assert fusedact.conversion_plan(model).replaced == {}  # already converted


def _llama(hidden_act="silu", **extra):
    config = transformers.LlamaConfig(**{**coverage._DECODER, "hidden_act": hidden_act, **extra})
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config).eval()


def test_ffn_reads_the_activation_never_assumes_it():
    """A LlamaMLP whose activation is GELU is fused with gelu (not silu); one whose activation
    gated_ffn has not is left alone and listed."""
    model = _llama("gelu")
    reference = copy.deepcopy(model)
    plan = fusedact.conversion_plan(model, ffn=True)
    assert set(plan.fused.values()) == {"LlamaMLP (gelu)"}
    fusedact.convert(model, ffn=True)
    ids = torch.randint(0, coverage.VOCAB, (2, 8))
    torch.testing.assert_close(model(ids).logits, reference(ids).logits)

    model = _llama("relu6")
    plan = fusedact.conversion_plan(model, ffn=True)
    assert not plan.fused
    assert set(plan.unfused.values()) == {"LlamaMLP: its activation ReLU6 is none of gated_ffn's"}


def test_fused_block_runs_its_own_forward_where_it_must():
    """T5's gated block in training with dropout, and a block with a hook on a projection, run
    their own forward: the same numbers as the unconverted block."""
    from transformers.models.t5.modeling_t5 import T5DenseGatedActDense

    config = transformers.T5Config(d_model=16, d_ff=32, dense_act_fn="gelu_new", dropout_rate=0.5)
    torch.manual_seed(0)
    block = T5DenseGatedActDense(config)
    reference = copy.deepcopy(block)
    fusedact.convert(block, ffn=True)
    assert isinstance(block, T5DenseGatedActDense) and type(block) is not T5DenseGatedActDense
    x = torch.randn(2, 5, 16)
    block.train(), reference.train()
    torch.manual_seed(1)
    out = block(x)
    torch.manual_seed(1)
    torch.testing.assert_close(out, reference(x))  # the same dropout mask: the block's own forward
    block.eval(), reference.eval()
    torch.testing.assert_close(block(x), reference(x))

    seen = []
    block.wi_0.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    torch.testing.assert_close(block(x), reference(x))
    assert seen == [torch.Size([2, 5, 32])]  # the hook ran: not fused


def test_ffn_block_table_names_real_classes():
    import importlib

    found = 0
    for qualified in FFN_BLOCKS:
        module_name, _, name = qualified.rpartition(".")
        try:
            found += hasattr(importlib.import_module(module_name), name)
        except ImportError:
            pass
    assert found == len(FFN_BLOCKS)


def test_llama_training_step_same_loss_gradients_and_less_memory():
    """A training step of a tiny LLaMA converted with ffn=True: the same loss and gradients,
    fewer bytes kept for backward and a lower peak than the unconverted model's."""
    model = _llama(hidden_size=64, intermediate_size=176).train()
    reference = copy.deepcopy(model)
    fusedact.convert(model, ffn=True)
    ids = torch.randint(0, coverage.VOCAB, (2, 16))
    losses = []
    for m in (model, reference):
        loss = m(ids, labels=ids).loss
        loss.backward()
        losses.append(loss.detach())
    torch.testing.assert_close(losses[0], losses[1])
    grads = dict(reference.named_parameters())
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, grads[name].grad, msg=lambda m, name=name: f"{name}: {m}")

    # Memory where activations outweigh the weights, as in training: 2 x 128 tokens.
    m = coverage.llama_training_memory(hidden=128, intermediate=344, layers=2, batch=2, tokens=128)
    assert m["converted_loss"] == pytest.approx(m["unconverted_loss"], rel=1e-6)
    assert m["converted_saved_bytes"] < m["unconverted_saved_bytes"], m
    if m["converted_peak_bytes"] is not None:  # torch's MemTracker, where torch.distributed is built
        assert m["converted_peak_bytes"] < m["unconverted_peak_bytes"], m


def test_coverage_command_prints_the_table(capsys):
    from fusedact.__main__ import main

    assert main(["coverage", "--models", "LLaMA,resnet18"]) == 0
    out = capsys.readouterr().out
    assert "| LLaMA | 2 | 2 | - | 2 | 2 | equal" in out
    assert "| resnet18 |" in out


def test_fused_blocks_compile_fullgraph():
    """A converted Gemma (its blocks fused, activations replaced) under torch.compile: one
    graph per block, and the unconverted model's numbers."""
    config = transformers.GemmaConfig(head_dim=8, **coverage._DECODER)
    torch.manual_seed(0)
    model = transformers.GemmaForCausalLM(config).eval()
    reference = copy.deepcopy(model)
    fusedact.convert(model, ffn=True)
    x = torch.randn(2, 8, config.hidden_size)
    torch._dynamo.reset()
    compiled = torch.compile(model.model.layers[0].mlp, fullgraph=True)
    torch.testing.assert_close(compiled(x), reference.model.layers[0].mlp(x))
    ids = torch.randint(0, coverage.VOCAB, (2, 8))
    torch.testing.assert_close(torch.compile(model)(ids).logits, reference(ids).logits)
