"""Health flags per layer: what in a traced model looks broken, read from the captured statistics.

Numpy only, like :mod:`render3d.graph`: the flags are data that the table (``print(trace)``,
``render3d trace --stats``), the scene (``scene.blocks.flags``) and ``render3d doctor`` all read.

Every flag is one of :data:`FLAGS`, decided from a node's :class:`~render3d.graph.Stats`, its layer
type and, for the three that spread downstream, its parents:

``dead``
    An activation (legend category "Activation": ReLU, GELU, ``F.relu`` …) whose output is at least
    :data:`DEAD_ZERO_FRACTION` (99 %) exact zeros, or any layer whose output is constant (below).
    Zeros are counted on the ~2,048-value sample the capture keeps, so a dead layer is one where
    essentially no unit fires for this input.
``nan`` / ``inf``
    The output holds a NaN / a ±Inf *and no parent does*: the flag marks where it first appears, not
    every layer it then flows through (a NaN reaches the logits through every later layer).
``exploding``
    The layer's robust magnitude ``max(|p1|, |p99|)`` is above :data:`EXPLODING_FACTOR` (100) times
    the median of that magnitude over the model's layers, and no parent is above that line (the ReLU
    and pooling after an exploding conv only carry its scale), and above :data:`EXPLODING_FLOOR` (10)
    itself: when a model's signal vanishes (torchvision's EfficientNet-B0 at random init, eval mode: median
    1e-8), its first conv and its SE gates at an ordinary 0.5–2 are not what is wrong. Only layers with
    finite p1/p99 count. Logits read only by a softmax (attention scores plus a −100 / −1e9 / −inf mask)
    are never ``exploding`` or ``inf``: softmax ignores the shift, the mask is large on purpose.
``saturated``
    A tanh / hardtanh output with at least :data:`SATURATED_FRACTION` (90 %) of its sample within
    :data:`SATURATION_MARGIN` (0.01) of ±1, or a sigmoid / hardsigmoid output with that much within
    0.01 of 0 or 1 (``Stats.near_one_fraction`` + ``Stats.near_zero_fraction``).
``constant``
    Every value is the same (``min == max``, finite, more than one value), such as the output of a
    BatchNorm whose weight was initialised to zero (timm's ``zero_init_last``). A constant layer is
    also ``dead``; an activation that is dead because it is all zeros is not called ``constant`` too
    (``dead`` already says it).

Model inputs and sources (buffers, parameters, factory constants) and integer tensors are only
checked for ``nan``/``inf``: a token-id input or an all-ones mask buffer is not a broken layer.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from render3d.scene.style import base_type, categorize

if TYPE_CHECKING:
    from render3d.graph import Node, Stats, Trace

__all__ = ["FLAGS", "flag_summary", "is_constant", "layer_flags", "own_flags", "stat_flags"]

FLAGS = ("dead", "nan", "inf", "exploding", "saturated", "constant")

DEAD_ZERO_FRACTION = 0.99
EXPLODING_FACTOR = 100.0
EXPLODING_FLOOR = 10.0
SATURATED_FRACTION = 0.9
SATURATION_MARGIN = 0.01  # Stats.near_one_fraction counts |x| >= 1 - this, near_zero_fraction |x| <= this

_SYMMETRIC_SATURATING = {"tanh", "hardtanh"}  # limits ±1
#: consumers that ignore a constant shift of their input: logits read only by these (attention scores
#: plus a -100 / -1e9 / -inf mask) are large on purpose, so they are never ``exploding`` or ``inf``
_SHIFT_INVARIANT = {"softmax", "log_softmax", "softmin"}
_RESHAPES = {"view", "reshape", "permute", "transpose", "unsqueeze", "squeeze", "flatten", "contiguous"}
_UNIT_SATURATING = {"sigmoid", "hardsigmoid"}  # limits 0 and 1
_SOURCE_KINDS = {"input", "constant"}


def magnitude(stats: Stats) -> float:
    """Robust |x| of one output: ``max(|p1|, |p99|)`` (NaN when the sample had no finite value)."""
    return max(abs(stats.p1), abs(stats.p99))


def stat_flags(
    stats: Stats,
    type_name: str,
    kind: str = "module",
    *,
    params: int = 0,
    dtype: str = "float32",
    median_magnitude: float = math.nan,
) -> tuple[str, ...]:
    """The flags of one output from its own statistics, in :data:`FLAGS` order.

    ``nan``, ``inf`` and ``exploding`` here mean "present in this output"; :func:`layer_flags` keeps
    them only where they first appear. ``exploding`` needs ``median_magnitude`` (the model's median
    :func:`magnitude`); it is never set when that is NaN.
    """
    found: set[str] = set()
    if stats.nan_count:
        found.add("nan")
    if stats.inf_count:
        found.add("inf")
    if kind in _SOURCE_KINDS or not (dtype.startswith(("float", "bfloat")) or dtype == ""):
        return _ordered(found)
    zero_dead = categorize(type_name, kind, params=params) == "Activation" and (
        stats.zero_fraction >= DEAD_ZERO_FRACTION
    )
    constant = is_constant(stats)
    if zero_dead or constant:
        found.add("dead")
    if constant and not (zero_dead and stats.max == 0):
        found.add("constant")
    line = EXPLODING_FACTOR * median_magnitude
    if math.isfinite(line) and magnitude(stats) > max(line, EXPLODING_FLOOR):
        found.add("exploding")
    if _saturated(stats, base_type(type_name)):
        found.add("saturated")
    return _ordered(found)


def _saturated(stats: Stats, name: str) -> bool:
    if name in _SYMMETRIC_SATURATING:
        pinned = stats.near_one_fraction
    elif name in _UNIT_SATURATING:
        pinned = stats.near_one_fraction + stats.near_zero_fraction
    else:
        return False
    return bool(pinned >= SATURATED_FRACTION)  # NaN (stats saved before these fields) is never saturated


def _ordered(found: set[str]) -> tuple[str, ...]:
    return tuple(f for f in FLAGS if f in found)


def _checked(node: Node) -> bool:
    """Whether ``node`` counts towards the model's median magnitude."""
    st = node.stats
    return (
        st is not None
        and node.kind not in _SOURCE_KINDS
        and node.dtype.startswith(("float", "bfloat"))
        and math.isfinite(st.p1)
        and math.isfinite(st.p99)
    )


def median_magnitude(trace: Trace) -> float:
    """The median robust |x| over the layers with finite statistics (NaN when there are none)."""
    values = [magnitude(n.stats) for n in trace.nodes.values() if n.stats is not None and _checked(n)]
    return float(np.median(values)) if values else math.nan


#: flags that flow downstream: kept only on the node where they first appear
_SPREADING = ("nan", "inf", "exploding")


def own_flags(trace: Trace) -> dict[str, tuple[str, ...]]:
    """Every node id → the flags its own statistics raise, before :func:`layer_flags` keeps the spreading
    ones (nan, inf, exploding) only where they start: what tells how far a problem travels."""
    median = median_magnitude(trace)
    return {
        n.id: ()
        if n.stats is None
        else stat_flags(n.stats, n.type, n.kind, params=n.params, dtype=n.dtype, median_magnitude=median)
        for n in trace
    }


def layer_flags(trace: Trace, own: dict[str, tuple[str, ...]] | None = None) -> dict[str, tuple[str, ...]]:
    """Every node id of ``trace`` → its flags in :data:`FLAGS` order (``()`` for a healthy layer or one
    without statistics), by the rules in this module's docstring. ``own`` is :func:`own_flags` of the
    trace when the caller already has it.

    Examples
    --------
    >>> flags = layer_flags(render3d.trace(model, x))  # doctest: +SKIP
    >>> {k: v for k, v in flags.items() if v}  # doctest: +SKIP
    {'relu2#1': ('dead',), 'div#1': ('nan',), 'big#1': ('exploding',)}
    """
    own = own_flags(trace) if own is None else own
    parents, children = trace.parent_map(), trace.child_map()
    out: dict[str, tuple[str, ...]] = {}
    for nid, flags in own.items():
        inherited = {f for p in parents[nid] for f in own.get(p, ()) if f in _SPREADING}
        if ("exploding" in flags or "inf" in flags) and _only_softmax_reads(nid, trace, children):
            inherited |= {"exploding", "inf"}  # masked attention logits: huge or -inf on purpose
        out[nid] = tuple(f for f in flags if f not in inherited)
    return out


def is_constant(stats: Stats) -> bool:
    """Every value of the output is the same finite number (over more than one value)."""
    return math.isfinite(stats.min) and stats.min == stats.max and stats.numel > 1


def _only_softmax_reads(node_id: str, trace: Trace, children: dict[str, list[str]]) -> bool:
    """True when every path out of ``node_id`` reaches a softmax through reshapes only."""
    todo, seen, found = list(children[node_id]), set(), False
    while todo:
        c = todo.pop()
        if c in seen:
            continue
        seen.add(c)
        name = base_type(trace.nodes[c].type)
        if name in _SHIFT_INVARIANT:
            found = True
        elif name in _RESHAPES and children[c]:
            todo.extend(children[c])
        else:
            return False
    return found


def flag_summary(flags: dict[str, tuple[str, ...]]) -> str:
    """One line counting layers per flag, in :data:`FLAGS` order: ``"2 layers dead, 1 exploding"``;
    empty when nothing is flagged."""
    counts = [(f, n) for f in FLAGS if (n := sum(f in v for v in flags.values()))]
    return ", ".join(
        f"{n} {('layer ' if n == 1 else 'layers ') if i == 0 else ''}{f}" for i, (f, n) in enumerate(counts)
    )
