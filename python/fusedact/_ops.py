"""The fused operators as fusedact.functional calls them: ``_ops.<name>`` is the entry point of
``torch.ops.fusedact.<name>``.

A call with every argument the schema names (by position, and keyword-only ones by name in the
schema's order), each of exactly its type (a torch.Tensor or nn.Parameter, a float, an int, a
bool, a str, None), and no ``__torch_function__`` mode active, goes straight to the operator
through a typed dispatcher call (csrc/python/entries.h), as torch's generated bindings do. Any
other call goes on to the builtin an OpOverloadPacket calls, which parses the arguments against
the schema, honours ``__torch_function__`` (tensor subclasses, FX's symbolic tracing,
torch.device contexts) and reaches every dispatch key as the packet does. Either way skips the
packet's Python ``__call__`` and the attribute lookups of ``torch.ops.fusedact.<name>``; the
typed call also skips converting the arguments to IValues and back. The two tracers that look
at Python callables rather than at the dispatcher are told what each entry is:

- TorchScript compiles it as the operator ``fusedact::<name>``;
- TorchDynamo traces it as the OpOverloadPacket, through a polyfill registered with
  ``torch.compiler.substitute_in_graph`` when torch._dynamo is imported (importing it here
  would add seconds to ``import fusedact``; torch.compile imports it on its first call).
"""

import warnings

import torch
import torch.jit._builtins

from . import _C
from ._after_import import after_import
from ._families import operators


def _publish() -> dict:
    """Binds each operator's entry point to its name in this module and tells TorchScript which
    operator it is; returns name -> (entry point, OpOverloadPacket)."""
    entries = {}
    for name, overload in operators():
        packet = overload.overloadpacket
        entry = _C.entry(name, packet._op)
        entries[name] = (entry, packet)
        globals()[name] = entry
        torch.jit._builtins._register_builtin(entry, f"fusedact::{name}")
    return entries


_ENTRIES = _publish()


def _traced_as(packet):
    def polyfill(*args, **kwargs):
        return packet(*args, **kwargs)

    return polyfill


def _register_with_dynamo() -> None:
    """Makes TorchDynamo trace each entry point as its OpOverloadPacket."""
    try:
        for entry, packet in _ENTRIES.values():
            torch.compiler.substitute_in_graph(entry, skip_signature_check=True)(_traced_as(packet))
    except Exception as error:  # a torch whose dynamo lacks the API: graph breaks, right results
        warnings.warn(f"fusedact: torch.compile will break graphs at fusedact's operators ({error})", stacklevel=1)


after_import("torch._dynamo", _register_with_dynamo)
