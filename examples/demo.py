"""Trains the same small MLP twice from the same initial weights, once with torch.nn
activations and once converted to fusedact (fusedact.convert), then prints how closely the
losses and weights agree and how fast each training step is.

    python examples/demo.py [--device cpu|cuda] [--steps 200]
"""

import argparse
import copy
import time

import torch
from torch import nn

import fusedact


def make_model(width: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(64, width),
        nn.GELU(),
        nn.Linear(width, width),
        nn.GELU(approximate="tanh"),
        nn.Linear(width, width),
        nn.ReLU(),
        nn.Linear(width, 10),
    )


def train(model: nn.Module, data, steps: int) -> tuple[list[float], float]:
    """Returns the loss of every step and the median seconds per step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses, times = [], []
    for step in range(steps):
        x, target = data[step % len(data)]
        if x.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x), target)
        loss.backward()
        optimizer.step()
        if x.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        losses.append(loss.item())
    return losses, sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=512)
    args = parser.parse_args()

    torch.manual_seed(0)
    data = []
    for _ in range(8):
        x = torch.randn(args.batch, 64, device=args.device)
        data.append((x, (x[:, :10] * x[:, 10:20]).argmax(dim=1)))

    reference = make_model(args.width).to(args.device)
    ours = fusedact.convert(copy.deepcopy(reference), verbose=True)
    print(
        f"fusedact {fusedact.__version__}, torch {torch.__version__}, device {args.device}, "
        f"cpu_isa {fusedact.build_info()['cpu_isa']}, {torch.get_num_threads()} threads"
    )

    ref_losses, ref_time = train(reference, data, args.steps)
    our_losses, our_time = train(ours, data, args.steps)

    loss_diff = max(abs(a - b) for a, b in zip(ref_losses, our_losses, strict=True))
    pairs = zip(reference.parameters(), ours.parameters(), strict=True)
    weight_diff = max((p - q).abs().max().item() for p, q in pairs)
    print(f"loss: first {ref_losses[0]:.4f}, last torch.nn {ref_losses[-1]:.6f}, fusedact {our_losses[-1]:.6f}")
    print(
        f"parity after {args.steps} steps: max |loss difference| {loss_diff:.2e}, "
        f"max |weight difference| {weight_diff:.2e}"
    )
    print(
        f"median step: torch.nn {ref_time * 1e3:.2f} ms, fusedact {our_time * 1e3:.2f} ms ({ref_time / our_time:.2f}x)"
    )
    if not loss_diff < 1e-3:
        raise SystemExit("fusedact and torch.nn training diverged")


if __name__ == "__main__":
    main()
