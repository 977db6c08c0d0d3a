"""fusedact.nn: one module per operator, drop-in replacements for the torch.nn activations.

Each module subclasses its torch.nn twin, so the constructor signature, attributes, repr,
state_dict keys and ``isinstance`` checks are torch.nn's own; only ``forward`` runs the
fused operator.
"""

import torch
from torch import Tensor

from . import functional as F

__all__ = ["ReLU", "GELU"]


class ReLU(torch.nn.ReLU):
    """relu(x) = max(0, x). As :class:`torch.nn.ReLU` (``inplace=False``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input, inplace=self.inplace)


class GELU(torch.nn.GELU):
    """gelu(x) = x * Phi(x), or its tanh approximation. As :class:`torch.nn.GELU`
    (``approximate='none'``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)
