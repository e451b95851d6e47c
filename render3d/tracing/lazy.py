"""Lazy modules (``nn.LazyLinear``, ``nn.LazyConv2d``, ...) have parameters without a shape until their first
forward pass: nothing can be counted, named as a source or copied to another device before it.

The tracer gives them that first pass itself, on the model's own device, before the traced one: it is
the call the user's own first ``model(x)`` would make (PyTorch's advice for lazy models is one dry run),
it leaves the modules exactly as that call would (a ``LazyLinear`` becomes a ``Linear`` with initialised
weights), and :func:`~render3d.tracing.state.preserved_state` puts the random generators and training
flags back, so the user's random stream does not move. The meta device cannot make real parameters, so a
structure-only pass of a model that still has lazy modules is refused.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin

from render3d.errors import TraceError, first_line
from render3d.tracing.state import preserved_state


def uninitialised(model: nn.Module) -> list[str]:
    """Paths of the modules whose parameters or buffers still wait for their first forward pass."""
    if not any(isinstance(m, LazyModuleMixin) for m in model.modules()):
        return []  # every trace asks: ResNet-152 in 0.5 ms, where reading each module's tensors takes 3.2
    return [
        path or type(module).__name__
        for path, module in model.named_modules()
        if any(nn.parameter.is_lazy(t) for t in (*module.parameters(False), *module.buffers(False)))
    ]


def initialise(model: nn.Module, lazy: list[str], inputs: tuple, kwargs: dict[str, Any], meta: bool) -> None:
    """Run the first forward pass of a model with lazy modules (see the module docstring)."""
    names = ", ".join(repr(p) for p in lazy)
    if meta:
        raise TraceError(
            f"{type(model).__name__} has lazy modules that are not initialised yet ({names}): device='meta' "
            "cannot create their parameters; trace it on a real device (or call the model once) first"
        )
    try:
        with preserved_state(model), torch.no_grad():
            model(*inputs, **kwargs)
    except Exception as exc:
        raise TraceError(
            f"{type(model).__name__} failed in the first forward pass that initialises its lazy modules "
            f"({names}): {type(exc).__name__}: {first_line(exc)}",
            module_path=lazy[0],
        ) from exc
