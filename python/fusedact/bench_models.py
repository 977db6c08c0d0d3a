"""End to end: whole models converted with fusedact.convert(model, ffn=True) against the same
models unconverted, in one process, measured interleaved (bench.Timer): a training step
(forward, loss, backward) and inference (forward under no_grad, eval mode).

    python -m fusedact bench --models                 # every model
    python -m fusedact bench --models resnet18,llama  # some

timm's and transformers' models come from their constructors (random weights, nothing
downloaded); timm and transformers are needed for their models.
"""

import copy
import statistics
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .bench import Timer
from .convert import convert

__all__ = ["MODELS", "ModelResult", "run", "format_table"]


def _timm(name: str) -> Callable:
    def build(batch: int, image: int):
        import timm

        model = timm.create_model(name, pretrained=False)
        x = torch.randn(batch, 3, image, image)
        return model, (x,), lambda out: out.float().logsumexp(-1).mean()

    return build


def _llama(batch: int, image: int):
    """A small LLaMA (4 layers, hidden 256, 128 tokens per sequence); image is not used."""
    import transformers

    transformers.logging.set_verbosity_error()
    config = transformers.LlamaConfig(
        hidden_size=256,
        intermediate_size=688,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=1024,
    )
    model = transformers.LlamaForCausalLM(config)
    ids = torch.randint(0, config.vocab_size, (batch, 128))
    return model, (ids,), lambda out: out.logits.float().logsumexp(-1).mean()


#: name -> build(batch, image size) -> (model, inputs, loss of the output)
MODELS: dict[str, Callable] = {
    "resnet18": _timm("resnet18"),
    "efficientnet_b0": _timm("efficientnet_b0"),
    "mobilenetv3_small_100": _timm("mobilenetv3_small_100"),
    "vit_tiny": _timm("vit_tiny_patch16_224"),
    "llama": _llama,
}


@dataclass
class ModelResult:
    model: str
    mode: str  # "training" or "inference"
    converted_ms: float
    unconverted_ms: float
    speedup: float  # unconverted time / converted time, the median of the paired ratios
    speedup_ci95: tuple[float, float]

    def as_dict(self) -> dict:
        return dict(vars(self))


def _step(model, inputs, loss_of, training: bool) -> Callable:
    if training:

        def train(_):
            loss_of(model(*inputs)).backward()
            model.zero_grad(set_to_none=True)

        return train

    def infer(_):
        with torch.no_grad():
            model(*inputs)

    return infer


def run(
    names: list[str] | None = None,
    device: str = "cpu",
    batch: int = 8,
    image: int = 224,
    repeats: int = 11,
    min_seconds: float = 0.2,
) -> list[ModelResult]:
    unknown = set(names or ()) - MODELS.keys()
    if unknown:
        raise SystemExit(f"fusedact bench --models: unknown models {sorted(unknown)}; known: {list(MODELS)}")
    timer = Timer(device, min_seconds)
    results = []
    for name, build in MODELS.items():
        if names and name not in names:
            continue
        torch.manual_seed(0)
        reference, inputs, loss_of = build(batch, image)
        reference = reference.to(device)
        inputs = tuple(t.to(device) for t in inputs)
        converted = convert(copy.deepcopy(reference), ffn=True)
        for mode in ("training", "inference"):
            training = mode == "training"
            for m in (converted, reference):
                m.train(training)
            fns = [_step(m, inputs, loss_of, training) for m in (converted, reference)]
            timing = timer.compare(fns, [None], repeats, max_repeats=2 * repeats)
            results.append(
                ModelResult(
                    name,
                    mode,
                    1e3 * timing.median(0),
                    1e3 * timing.median(1),
                    timing.ratio(1, 0),
                    timing.ratio_interval(1, 0),
                )
            )
    return results


def format_table(results: list[ModelResult]) -> str:
    lines = [
        "| model | mode | converted ms | unconverted ms | speedup (95% interval) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        low, high = r.speedup_ci95
        lines.append(
            f"| {r.model} | {r.mode} | {r.converted_ms:.2f} | {r.unconverted_ms:.2f} | "
            f"{r.speedup:.3f}x ({low:.3f}-{high:.3f}) |"
        )
    if results:
        lines.append(f"\nmedian speedup {statistics.median(r.speedup for r in results):.3f}x")
    return "\n".join(lines)
