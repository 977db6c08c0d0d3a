"""fusedact.functional: one function per operator, with torch.nn.functional's signature.

Each calls the fused operator ``torch.ops.fusedact.<name>``; results match the
torch.nn.functional twin (see the numerics contract in the README).
"""

import torch
from torch import Tensor

__all__ = ["relu", "gelu"]


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    r"""relu(x) = max(0, x), element-wise. As :func:`torch.nn.functional.relu`.

    Args:
        input: a floating-point tensor.
        inplace: overwrite ``input`` with the result and return it.
    """
    if inplace:
        torch.ops.fusedact.relu_(input)
        return input
    return torch.ops.fusedact.relu(input)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    r"""gelu(x) = x * Phi(x), Phi the standard normal CDF. As :func:`torch.nn.functional.gelu`.

    Args:
        input: a floating-point tensor.
        approximate: ``'none'`` for the exact erf form, ``'tanh'`` for
            0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    """
    return torch.ops.fusedact.gelu(input, approximate=approximate)
