"""What fusedact.convert does to the models people train: transformers and timm models built
from tiny random configs (nothing downloaded), converted with ``ffn=True``, and checked
against an unconverted copy (outputs and every parameter's gradient, float32,
``torch.testing.assert_close``'s default tolerances).

``python -m fusedact coverage`` prints one row per model: the activation modules present and
replaced, the gated feed-forward blocks present and fused, and whether outputs and gradients
agree. transformers and timm are needed (the test extras); a model whose library is missing is
skipped and said so.
"""

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .convert import conversion_plan, convert

__all__ = ["MODELS", "ModelCase", "Coverage", "check", "format_table"]

VOCAB, TOKENS, BATCH = 128, 8, 2
IMAGE = 32  # the transformers vision models' image size
TIMM_IMAGE = 64  # timm's: every model below takes it (strides up to 32)

# Tiny sizes in the config names most transformers models share; a decoder of the LLaMA
# family also groups its attention heads.
_LAYERS = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
_ENCODER = dict(_LAYERS, vocab_size=VOCAB)
_DECODER = dict(_ENCODER, num_key_value_heads=2)


@dataclass(frozen=True)
class ModelCase:
    """A model from a tiny config: ``build()`` returns it (float32, eval mode) and the keyword
    arguments of a forward call. ``dense_ffn``: its gated feed-forward blocks must all be
    fused (a dense model whose MLP is gated)."""

    name: str
    library: str
    build: Callable[[], tuple[torch.nn.Module, dict]]
    dense_ffn: bool = False


def _ids(*shape):
    return torch.randint(0, VOCAB, shape)


def _text(**extra):
    return lambda: {"input_ids": _ids(BATCH, TOKENS), **{k: v() for k, v in extra.items()}}


_TOKENS = _text()


def _hf(config: str, model: str, inputs: Callable = _TOKENS, **settings) -> Callable:
    def build():
        import transformers

        transformers.logging.set_verbosity_error()
        built = getattr(transformers, model)(getattr(transformers, config)(**settings))
        return built.eval(), inputs()

    return build


def _timm(name: str, **settings) -> Callable:
    def build():
        import timm

        model = timm.create_model(name, pretrained=False, num_classes=10, **settings)
        return model.eval(), {"x": torch.randn(BATCH, 3, TIMM_IMAGE, TIMM_IMAGE)}

    return build


def _pixels():
    return torch.randn(BATCH, 3, IMAGE, IMAGE)


_VISION = dict(_LAYERS, image_size=IMAGE, patch_size=8)
_T5 = dict(d_model=32, d_ff=64, d_kv=8, num_layers=2, num_heads=4, vocab_size=VOCAB)
_T5_INPUTS = _text(decoder_input_ids=lambda: _ids(BATCH, 4))
_MOE = dict(num_experts_per_tok=2)
_WHISPER_INPUTS = {"input_features": lambda: torch.randn(BATCH, 16, 32), "decoder_input_ids": lambda: _ids(BATCH, 4)}

MODELS: list[ModelCase] = [
    ModelCase("LLaMA", "transformers", _hf("LlamaConfig", "LlamaForCausalLM", **_DECODER), dense_ffn=True),
    ModelCase("Mistral", "transformers", _hf("MistralConfig", "MistralForCausalLM", **_DECODER), dense_ffn=True),
    ModelCase("Qwen2", "transformers", _hf("Qwen2Config", "Qwen2ForCausalLM", **_DECODER), dense_ffn=True),
    ModelCase("Qwen3", "transformers", _hf("Qwen3Config", "Qwen3ForCausalLM", head_dim=8, **_DECODER), dense_ffn=True),
    ModelCase("Gemma", "transformers", _hf("GemmaConfig", "GemmaForCausalLM", head_dim=8, **_DECODER), dense_ffn=True),
    ModelCase(
        "Phi-3", "transformers", _hf("Phi3Config", "Phi3ForCausalLM", pad_token_id=0, **_DECODER), dense_ffn=True
    ),
    ModelCase(
        "GPT-2",
        "transformers",
        _hf("GPT2Config", "GPT2LMHeadModel", n_embd=32, n_layer=2, n_head=4, n_positions=64, vocab_size=VOCAB),
    ),
    ModelCase(
        "BERT",
        "transformers",
        _hf("BertConfig", "BertModel", **_ENCODER),
    ),
    ModelCase("T5", "transformers", _hf("T5Config", "T5ForConditionalGeneration", _T5_INPUTS, **_T5)),
    ModelCase(
        "Flan-T5",
        "transformers",
        _hf("T5Config", "T5ForConditionalGeneration", _T5_INPUTS, feed_forward_proj="gated-gelu", **_T5),
        dense_ffn=True,
    ),
    ModelCase(
        "GPT-NeoX",
        "transformers",
        _hf("GPTNeoXConfig", "GPTNeoXForCausalLM", **_ENCODER),
    ),
    ModelCase(
        "Falcon",
        "transformers",
        _hf(
            "FalconConfig",
            "FalconForCausalLM",
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            vocab_size=VOCAB,
        ),
    ),
    ModelCase(
        "OPT",
        "transformers",
        _hf(
            "OPTConfig",
            "OPTForCausalLM",
            hidden_size=32,
            ffn_dim=64,
            word_embed_proj_dim=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            vocab_size=VOCAB,
        ),
    ),
    ModelCase(
        "BLOOM",
        "transformers",
        _hf("BloomConfig", "BloomForCausalLM", hidden_size=32, n_layer=2, n_head=4, vocab_size=VOCAB),
    ),
    ModelCase(
        "CLIP",
        "transformers",
        _hf(
            "CLIPConfig",
            "CLIPModel",
            _text(pixel_values=_pixels),
            text_config=_ENCODER,
            vision_config=_VISION,
            projection_dim=16,
        ),
    ),
    ModelCase("ViT", "transformers", _hf("ViTConfig", "ViTModel", lambda: {"pixel_values": _pixels()}, **_VISION)),
    ModelCase(
        "Whisper",
        "transformers",
        _hf(
            "WhisperConfig",
            "WhisperModel",
            lambda: {k: v() for k, v in _WHISPER_INPUTS.items()},
            d_model=32,
            encoder_layers=1,
            decoder_layers=1,
            encoder_attention_heads=4,
            decoder_attention_heads=4,
            encoder_ffn_dim=64,
            decoder_ffn_dim=64,
            num_mel_bins=16,
            max_source_positions=16,
            max_target_positions=16,
            vocab_size=VOCAB,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
            decoder_start_token_id=1,
        ),
    ),
    ModelCase(
        "Mixtral", "transformers", _hf("MixtralConfig", "MixtralForCausalLM", num_local_experts=4, **_MOE, **_DECODER)
    ),
    ModelCase(
        "Qwen2-MoE",
        "transformers",
        _hf(
            "Qwen2MoeConfig",
            "Qwen2MoeForCausalLM",
            num_experts=4,
            moe_intermediate_size=32,
            shared_expert_intermediate_size=64,
            **_MOE,
            **_DECODER,
        ),
    ),
    ModelCase(
        "gpt-oss",
        "transformers",
        _hf("GptOssConfig", "GptOssForCausalLM", num_local_experts=4, head_dim=8, **_MOE, **_DECODER),
    ),
    *[
        ModelCase(name, "timm", _timm(name, **settings))
        for name, settings in [
            ("resnet18", {}),
            ("efficientnet_b0", {}),
            ("mobilenetv3_small_100", {}),
            ("convnext_atto", {}),
            ("vit_tiny_patch16_224", {"img_size": TIMM_IMAGE}),
            ("regnetx_002", {}),
            ("ghostnet_100", {}),
            ("levit_128s", {"img_size": TIMM_IMAGE}),
            ("mobilevit_xxs", {}),
        ]
    ],
]


@dataclass
class Coverage:
    """One model's row: activation modules present and replaced (and the classes left), gated
    feed-forward blocks present and fused, and the largest differences of the converted
    model's output and parameter gradients from the unconverted model's."""

    model: str
    activations: int = 0
    replaced: int = 0
    left: list[str] = field(default_factory=list)
    ffn_blocks: int = 0
    ffn_fused: int = 0
    output_error: float = 0.0
    grad_error: float = 0.0
    equal: bool = False
    mismatch: str = ""


def _output(out) -> torch.Tensor:
    """The first tensor of a model's output (a tensor, a tuple or a transformers ModelOutput)."""
    if isinstance(out, torch.Tensor):
        return out
    values = out.values() if hasattr(out, "values") else out
    return next(v for v in values if isinstance(v, torch.Tensor))


def check(case: ModelCase, ffn: bool = True, seed: int = 0) -> Coverage:
    """Builds the model, converts it, and compares it with an unconverted copy: output and
    the gradient of every parameter of ``output.square().mean()``."""
    torch.manual_seed(seed)
    model, inputs = case.build()
    reference = copy.deepcopy(model)
    plan = conversion_plan(model, ffn=ffn)
    convert(model, ffn=ffn)
    row = Coverage(
        case.name,
        activations=len(plan.replaced) + len(plan.left),
        replaced=len(plan.replaced),
        left=sorted({entry.split(":")[0] for entry in plan.left.values()}),
        ffn_blocks=len(plan.fused) + len(plan.unfused),
        ffn_fused=len(plan.fused),
    )
    outputs = []
    for m in (model, reference):
        out = _output(m(**inputs))
        out.float().square().mean().backward()
        outputs.append(out.detach())
    row.output_error = (outputs[0] - outputs[1]).abs().max().item()
    grads = dict(reference.named_parameters())
    try:
        torch.testing.assert_close(outputs[0], outputs[1])
        for name, p in model.named_parameters():
            q = grads[name]
            if p.grad is None or q.grad is None:
                assert p.grad is None and q.grad is None, f"{name}: a gradient on one side only"
                continue
            row.grad_error = max(row.grad_error, (p.grad - q.grad).abs().max().item())
            torch.testing.assert_close(p.grad, q.grad, msg=lambda m, name=name: f"{name}: {m}")
        row.equal = True
    except AssertionError as e:
        row.mismatch = str(e).splitlines()[0]
    return row


def format_table(rows: list[Coverage]) -> str:
    lines = [
        "| model | activation modules | replaced | left alone | gated FFN blocks | fused | outputs and gradients |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        verdict = "equal" if r.equal else f"DIFFER: {r.mismatch}"
        lines.append(
            f"| {r.model} | {r.activations} | {r.replaced} | {', '.join(r.left) or '-'} | {r.ffn_blocks} | "
            f"{r.ffn_fused} | {verdict} (max {max(r.output_error, r.grad_error):.1e}) |"
        )
    return "\n".join(lines)


def run(names: list[str] | None = None, ffn: bool = True) -> tuple[list[Coverage], list[str]]:
    """The rows of the models named (all by default), and the models skipped for want of
    their library."""
    import importlib.util

    rows, skipped = [], []
    for case in MODELS:
        if names and case.name not in names:
            continue
        if importlib.util.find_spec(case.library) is None:
            skipped.append(f"{case.name} ({case.library} is not installed)")
            continue
        rows.append(check(case, ffn))
    return rows, skipped


def _peak_bytes(step: Callable, model: torch.nn.Module) -> int | None:
    """The peak of the memory step() holds on the model's device (weights, gradients,
    activations, temporaries), as torch's MemTracker counts it; None where it is missing."""
    try:
        from torch.distributed._tools.mem_tracker import MemTracker
    except ImportError:
        return None
    tracker = MemTracker()
    tracker.track_external(model)
    with tracker:
        step()
    return sum(device["Total"] for device in tracker.get_tracker_snapshot("peak").values())


def llama_training_memory(
    hidden: int = 256, intermediate: int = 688, layers: int = 4, batch: int = 4, tokens: int = 256
) -> dict:
    """A training step (forward + backward) of a LLaMA from a config of these sizes, float32,
    converted with ffn=True and not: the loss of each, the bytes autograd keeps for backward
    (weights left out) and the step's peak memory."""
    import transformers

    from .bench import saved_tensor_bytes

    transformers.logging.set_verbosity_error()
    config = transformers.LlamaConfig(
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=VOCAB,
    )
    torch.manual_seed(0)
    reference = transformers.LlamaForCausalLM(config).train()
    model = convert(copy.deepcopy(reference), ffn=True)
    ids = torch.randint(0, VOCAB, (batch, tokens))
    result = {"config": f"hidden {hidden}, intermediate {intermediate}, {layers} layers, {batch} x {tokens} tokens"}
    for key, m in (("converted", model), ("unconverted", reference)):
        weights = list(m.parameters())
        result[f"{key}_saved_bytes"] = saved_tensor_bytes(lambda m=m: m(ids, labels=ids).loss, exclude=weights)
        result[f"{key}_loss"] = m(ids, labels=ids).loss.item()
        m.zero_grad(set_to_none=True)
        result[f"{key}_peak_bytes"] = _peak_bytes(lambda m=m: m(ids, labels=ids).loss.backward(), m)
        m.zero_grad(set_to_none=True)
    return result
