"""fusedact.convert: swaps the torch.nn activation modules of a model for fusedact's."""

import logging
from collections import Counter

import torch

from . import nn as fnn

__all__ = ["convert", "REPLACEMENTS"]

logger = logging.getLogger("fusedact")

#: torch.nn module type -> its fusedact.nn replacement (a subclass of it).
REPLACEMENTS: dict[type, type] = {
    base: replacement
    for replacement in vars(fnn).values()
    if isinstance(replacement, type) and issubclass(replacement, torch.nn.Module)
    for base in replacement.__bases__
    if base.__module__.startswith("torch.nn") and base is not torch.nn.Module
}


def convert(model: torch.nn.Module, verbose: bool = False) -> torch.nn.Module:
    """Replaces, in place, every torch.nn activation module of ``model`` (the model itself
    included) that fusedact implements, and returns ``model``.

    Each module keeps its identity, attributes, learned parameters, buffers and hooks: only
    its class changes to the fusedact.nn subclass, whose ``forward`` runs the fused operator.
    Subclasses of the torch.nn modules are left alone (their forward may differ). What was
    replaced is logged to the ``fusedact`` logger, and printed too with ``verbose=True``.
    """
    replaced = {}
    for name, module in model.named_modules():
        replacement = REPLACEMENTS.get(type(module))
        if replacement is not None:
            module.__class__ = replacement
            replaced[name] = replacement.__bases__[0].__name__
    counts = Counter(replaced.values())
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items())) or "nothing"
    message = f"fusedact.convert: replaced {summary}"
    logger.info(message)
    if verbose:
        print(message)
    return model
