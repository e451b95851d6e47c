"""Where a tensor with no producer node came from: a buffer, a parameter, or a constant made in ``forward``.

A module fed only by such tensors (``self.pos(self.pos_ids)``, ``self.pos(torch.arange(n))``) must still
be a node with an edge into it, so the tracer gives those inputs *source* nodes (kind ``"constant"``).
Sources are lazy: an origin is only remembered while tensors flow between producer-less ops (slicing a
buffer, ``arange`` → ``unsqueeze``), and turned into a node the first time a real node consumes it. A
derived tensor keeps its origin, so one buffer or factory call is one source however it was reshaped,
and nothing is drawn for constants that only ever meet real activations (``x + self.pos_embed``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch

from render3d.tracing.identity import IdentityMap


@dataclass
class Origin:
    """One source: a named buffer/parameter, or the op that made a constant (``base``) in ``scope``."""

    type: str  # "Buffer" | "Parameter" | "Constant"
    name: str  # the buffer/parameter path, or the op's base name for a constant
    shape: tuple[int, ...]
    dtype: str
    scope: str | None = None  # where a constant was made; buffers/parameters take their first consumer's
    stack: tuple[str, ...] = ()
    node_id: str | None = None  # set once the source is a node


class Sources:
    """Origins of producer-less tensors, keyed by tensor identity (never ``id()``)."""

    def __init__(self, named: Iterable[tuple[str, torch.Tensor, str]]) -> None:
        self.origin: IdentityMap[Origin] = IdentityMap()
        for name, t, kind in named:
            if t not in self.origin:  # tied weights: the first name wins, as in named_parameters()
                self.origin[t] = Origin(kind, name, tuple(t.shape), dtype_name(t))

    def derive(
        self, inputs: list[torch.Tensor], outputs: list[torch.Tensor], base: str, scope: str, stack: tuple[str, ...]
    ) -> None:
        """Outputs of an op that read no real activation inherit their first input's origin, or, from a
        factory (or an untracked tensor), become a new constant named after the op."""
        origin = next((o for o in (self.origin.get(t) for t in inputs) if o is not None), None)
        if origin is None:
            first = outputs[0]
            origin = Origin("Constant", base, tuple(first.shape), dtype_name(first), scope, stack)
        for t in outputs:
            self.origin[t] = origin

    def of(self, t: torch.Tensor, scope: str, stack: tuple[str, ...]) -> Origin:
        """The origin of ``t``; a tensor the trace never saw made (a plain attribute) is a new constant."""
        origin = self.origin.get(t)
        if origin is None:
            origin = self.origin[t] = Origin("Constant", "constant", tuple(t.shape), dtype_name(t), scope, stack)
        return origin


def named_sources(
    model: torch.nn.Module, moved: dict[str, torch.Tensor] | None = None
) -> list[tuple[str, torch.Tensor, str]]:
    """``(path, tensor, "Parameter"|"Buffer")`` for the tensors the forward will read (``moved`` holds the
    copies ``functional_call`` substitutes when tracing on another device)."""
    out = []
    for kind, items in (
        ("Parameter", model.named_parameters(remove_duplicate=False)),
        ("Buffer", model.named_buffers(remove_duplicate=False)),
    ):
        for name, t in items:
            out.append((name, moved[name] if moved is not None else t, kind))
    return out


def dtype_name(t: torch.Tensor) -> str:
    """``float32`` rather than ``torch.float32``: the trace JSON stays free of torch names."""
    name = _DTYPE_NAMES.get(t.dtype)
    if name is None:
        name = _DTYPE_NAMES[t.dtype] = str(t.dtype).removeprefix("torch.")
    return name


_DTYPE_NAMES: dict[torch.dtype, str] = {}  # str(dtype) costs more than the rest of a node's bookkeeping
