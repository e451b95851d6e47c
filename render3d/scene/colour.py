"""Colour that tells the truth about values: constant layers, NaN/±Inf, and one global scale.

Per-layer limits (p1–p99, the default ``scale="layer"``) show the structure inside each layer, but
three things read wrong on them, and this module settles each once all feature maps of a scene exist:

* **A constant layer** (a dead ReLU at 0, timm's zero-initialised ``bn3``) has no range of its own, so
  any limits are arbitrary and used to put its value in the middle of the map ("0 reads as 0.5").
  It is drawn at its value's place on the scene's own range (the span of the other layers' limits,
  widened to hold the value), i.e. the colour that value has in the model; with no other layer to
  compare with, on a scale from 0 to the value, so 0 is the bottom and a positive constant the top.
  A scene note names the constant layers and their value.
* **NaN and ±Inf** get colours outside every colour map (:data:`NAN_RGB`, :data:`POS_INF_RGB`,
  :data:`NEG_INF_RGB`), chosen by lightness and hue so that they stay apart from viridis and RdBu
  under the common colour-vision deficiencies: magenta, white and black. The legend lists those
  present and a note counts them ("NaN: 1,234 values in 2 layers", from the captured statistics,
  exact over the whole tensor).
* **An exploding layer** looks normal when each layer is scaled by itself. ``scale="global"`` draws
  every layer on one scale of log10 |value|, from two decades below the median layer's magnitude to
  the largest layer's, so a layer at ±15,000 sits at the top while layers near 1 stay low.
  A layer's magnitude is :func:`render3d.health.magnitude`, as for the ``exploding`` flag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from render3d.graph import Node, Stats
from render3d.health import is_constant, magnitude
from render3d.scene.model import FeatureMap
from render3d.scene.style import SceneStyle

__all__ = [
    "NAN_RGB",
    "NEG_INF_RGB",
    "POS_INF_RGB",
    "ColourNotes",
    "constant_value",
    "log_magnitude",
    "place_constant_layers",
    "settle_colours",
]

NAN_RGB = (255, 0, 255)  # magenta: in no sequential or diverging map used here
POS_INF_RGB = (255, 255, 255)  # white: lighter than any colour-map end (viridis tops out at yellow)
NEG_INF_RGB = (0, 0, 0)  # black: darker than viridis's darkest purple
#: the global scale starts this many decades below the median layer's magnitude
DECADES_BELOW_MEDIAN = 2.0


@dataclass
class ColourNotes:
    """What :func:`settle_colours` adds to a scene: note lines and legend entries."""

    notes: list[str] = field(default_factory=list)
    legend: list[tuple[str, tuple[int, int, int]]] = field(default_factory=list)


def constant_value(stats: Stats | None, values: np.ndarray) -> float | None:
    """The single finite value of a layer whose output never changes (min == max over more than one
    value, as :mod:`render3d.health` calls ``constant``), else ``None``."""
    if stats is not None and is_constant(stats):
        return float(stats.min)
    if stats is None:
        finite = np.asarray(values, dtype=np.float32)
        finite = finite[np.isfinite(finite)]
        if finite.size > 1 and finite.min() == finite.max():
            return float(finite.min())
    return None


def log_magnitude(values: np.ndarray, floor: float) -> np.ndarray:
    """log10 |values|, with |values| below ``floor`` (zeros too) drawn at the floor; NaN stays NaN
    and ±Inf stay ±Inf, so they keep their own colours."""
    x = np.asarray(values, dtype=np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.log10(np.maximum(np.abs(x), np.float32(floor)))
    out[np.isneginf(x)] = -np.inf
    return out.astype(np.float32)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def settle_colours(maps: list[FeatureMap], nodes: Mapping[str, Node], style: SceneStyle) -> ColourNotes:
    """Final colour limits (in place) of a scene's own feature maps, and the notes/legend they need.

    ``nodes`` maps each feature map's ``node_id`` to the node whose activation it shows. Attention
    maps (``fm.block`` set) keep their own 0..p99 scale.
    """
    own = [fm for fm in maps if not fm.block and fm.node_id in nodes]
    constants = _constants(own, {fm.node_id: nodes[fm.node_id].stats for fm in own})
    if style.scale == "global":
        _global_scale(own, nodes)
    else:
        _place_constants(own, constants)
    named: dict[float, list[str]] = {}
    for node_id, v in constants.items():
        if v is not None:
            named.setdefault(v, []).append(node_id.split("#")[0])
    notes = [f"constant: {', '.join(ids)} = {v:g}" for v, ids in named.items()]
    return ColourNotes(notes + _special_notes(nodes.values()), _special_legend(own, nodes))


def place_constant_layers(maps: list[FeatureMap], stats: Mapping[str, Stats | None]) -> None:
    """Limits of the constant layers among ``maps`` (``stats`` by feature-map id) again, from the
    other maps' limits as they are now (an animation replaces those with limits over all epochs)."""
    own = [fm for fm in maps if not fm.block and fm.node_id in stats]
    _place_constants(own, _constants(own, stats))


def _constants(maps: list[FeatureMap], stats: Mapping[str, Stats | None]) -> dict[str, float | None]:
    return {fm.node_id: constant_value(stats[fm.node_id], fm.values) for fm in maps}


def _place_constants(maps: list[FeatureMap], constants: Mapping[str, float | None]) -> None:
    """Limits of each constant layer: the other layers' span, widened to hold its value."""
    ranged = [fm.clim for fm in maps if constants[fm.node_id] is None]
    for fm in maps:
        v = constants[fm.node_id]
        if v is None:
            continue
        if ranged:
            lo, hi = min(min(c[0] for c in ranged), v), max(max(c[1] for c in ranged), v)
        else:
            lo, hi = min(0.0, v), max(0.0, v)
        fm.clim = (lo, hi) if hi > lo else (v, v + 1.0)


def _global_scale(maps: list[FeatureMap], nodes: Mapping[str, Node]) -> None:
    """Every map's values as log10 |value| on one pair of limits (see the module docstring)."""
    if not maps:
        return
    stats = [nodes[fm.node_id].stats for fm in maps]
    mags = np.array([magnitude(s) if s is not None else np.nan for s in stats], dtype=float)
    finite = mags[np.isfinite(mags) & (mags > 0)]
    if not finite.size:  # no statistics: the drawn values themselves
        pooled = np.concatenate([np.abs(np.asarray(fm.values, dtype=np.float32)).ravel() for fm in maps])
        finite = pooled[np.isfinite(pooled) & (pooled > 0)]
    hi = float(finite.max()) if finite.size else 1.0
    floor = float(np.median(finite)) * 10.0**-DECADES_BELOW_MEDIAN if finite.size else 1e-2
    floor = min(floor, hi / 10.0)
    clim = (float(np.log10(floor)), float(np.log10(hi)))
    for fm in maps:
        fm.values = log_magnitude(fm.values, floor)
        fm.clim = clim


def _special_notes(nodes: Iterable[Node]) -> list[str]:
    """``NaN: 1,234 values in 2 layers`` and the same for ±Inf, over every block's output."""
    stats = [node.stats for node in nodes]
    lines = []
    for word, attr in (("NaN", "nan_count"), ("±Inf", "inf_count")):
        counts = [int(getattr(s, attr)) for s in stats if s is not None and getattr(s, attr)]
        if counts:
            lines.append(f"{word}: {_plural(sum(counts), 'value')} in {_plural(len(counts), 'layer')}")
    return lines


def _special_legend(maps: list[FeatureMap], nodes: Mapping[str, Node]) -> list[tuple[str, tuple[int, int, int]]]:
    """Legend swatches for the special values a viewer will see: NaN, +Inf, −Inf."""
    has_nan = has_pos = has_neg = False
    for fm in maps:
        v = np.asarray(fm.values)
        s = nodes[fm.node_id].stats
        has_nan |= bool(np.isnan(v).any()) or bool(s is not None and s.nan_count)
        has_pos |= bool(np.isposinf(v).any())
        has_neg |= bool(np.isneginf(v).any())
    entries = []
    if has_nan:
        entries.append(("NaN", NAN_RGB))
    if has_pos:
        entries.append(("+Inf", POS_INF_RGB))
    if has_neg:
        entries.append(("−Inf", NEG_INF_RGB))
    return entries
