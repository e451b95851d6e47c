"""Training health per layer over a recording: the metrics, how a layer or block gets its value, and
the one log colour scale an animation shows them on.

Numpy only. Two sources:

* parameters (stored by the :class:`~render3d.record.Recorder` per module owning parameters, see
  :class:`~render3d.record.store.LayerNorms`): ``weight_norm`` ‖w‖, ``update_ratio`` ‖Δw‖/‖w‖ (Δw since
  the previous snapshot, ‖w‖ the current weights) and ``grad_norm`` ‖grad‖ as ``.grad`` was at snapshot
  time. A layer (or folded/collapsed block) standing for several modules gets the norms of all their
  parameters together, e.g. ‖Δw‖ = sqrt(Σ‖Δw_i‖²): a container is one big weight vector;
* activations (the stats every snapshot stores per node): ``zero_frac`` (exact zeros / elements) and
  ``act_std``.

NaN means "no value": a layer without parameters, the first snapshot's update ratio, a frozen layer's
gradient, a recording made before these were stored. Zero is a real value (a frozen layer's update
ratio is exactly 0): pictures draw the two in their own neutral colours, never on the colour map.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from render3d.graph import Node, Stats
from render3d.record.store import LayerNorms

if TYPE_CHECKING:
    from render3d.record.recording import Recording
    from render3d.scene.model import Blocks

__all__ = [
    "METRICS",
    "MISSING_RGB",
    "ZERO_RGB",
    "BlockMetric",
    "LogScale",
    "Metric",
    "check_metric",
    "interpolate",
    "metric_colors",
    "module_paths",
    "param_metric",
    "rows_under",
    "stats_metric",
]


@dataclass(frozen=True)
class Metric:
    """One metric: its name (``--metric``), what a colour bar calls it, and where its values come from."""

    name: str
    label: str
    source: str  # "params" | "activation"


METRICS = {
    m.name: m
    for m in (
        Metric("update_ratio", "update ratio ‖Δw‖/‖w‖ (log)", "params"),
        Metric("grad_norm", "gradient norm ‖grad‖ (log)", "params"),
        Metric("weight_norm", "weight norm ‖w‖ (log)", "params"),
        Metric("zero_frac", "zero fraction of the output (log)", "activation"),
        Metric("act_std", "output std (log)", "activation"),
    )
}

#: a value of exactly 0 (frozen: no update; no zeros at all): a dark neutral grey, off the colour map
ZERO_RGB = (64, 64, 64)
#: no value (no parameters, no gradient, first snapshot's update): a pale neutral grey
MISSING_RGB = (222, 222, 222)
ZERO_NOTE = "0 (frozen / none)"
MISSING_NOTE = "no value"

_COLUMNS = {"weight_norm": 0, "update_ratio": 1, "grad_norm": 2}


def check_metric(name: str) -> Metric:
    """The :class:`Metric` called ``name``; ValueError listing the valid names otherwise."""
    try:
        return METRICS[name]
    except (KeyError, TypeError):
        raise ValueError(f"metric {name!r} is not known; use one of: {', '.join(METRICS)}") from None


def module_paths(node: Node) -> tuple[str, ...]:
    """The module paths a trace node stands for: its own call and the calls folded into it."""
    ids = ((node.id,) if node.kind == "module" else ()) + tuple(node.folded)
    return tuple(dict.fromkeys(i.rsplit("#", 1)[0] for i in ids))


def rows_under(paths: Sequence[str], prefixes: Iterable[str]) -> np.ndarray:
    """Indices of ``paths`` equal to or inside any of ``prefixes`` (a collapsed block owns its children)."""
    prefixes = tuple(prefixes)
    if not prefixes:
        return np.zeros(0, dtype=np.int64)
    inside = tuple(p + "." for p in prefixes if p)
    return np.array([i for i, path in enumerate(paths) if path in prefixes or path.startswith(inside)], dtype=np.int64)


def param_metric(layers: LayerNorms | None, rows: np.ndarray, name: str) -> float:
    """Metric ``name`` of the parameters in ``layers.norms[rows]`` taken as one weight vector (NaN: none)."""
    if layers is None or not len(rows):
        return math.nan
    norms = layers.norms[rows]
    weight = math.sqrt(float(np.sum(norms[:, 0] ** 2)))
    if name == "weight_norm":
        return weight
    column = norms[:, _COLUMNS[name]]
    if name == "grad_norm":  # only the parameters that had a gradient
        have = column[np.isfinite(column)]
        return math.sqrt(float(np.sum(have**2))) if have.size else math.nan
    if not np.isfinite(column).all():  # an update needs the previous weights of every parameter
        return math.nan
    change = math.sqrt(float(np.sum(column**2)))
    if change == 0.0:
        return 0.0
    return change / weight if weight > 0 else math.nan


def stats_metric(stats: Stats | None, name: str) -> float:
    """``zero_frac`` or ``act_std`` from a node's stats (NaN: not captured)."""
    if stats is None:
        return math.nan
    return float(stats.zero_fraction if name == "zero_frac" else stats.std)


@dataclass(frozen=True)
class LogScale:
    """Fixed colour limits ``lo`` < ``hi`` (both > 0) on a log axis, the same for every frame."""

    lo: float
    hi: float

    @classmethod
    def fit(cls, values: np.ndarray, q: tuple[float, float] = (2.0, 98.0)) -> LogScale:
        """Robust limits: the ``q`` percentiles of log10 of the positive finite ``values`` (all frames,
        all layers), widened to at least a decade so a near-constant metric is not stretched."""
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        logs = np.log10(v[np.isfinite(v) & (v > 0)])
        if not logs.size:
            return cls(0.1, 1.0)
        lo, hi = (float(x) for x in np.percentile(logs, q))
        if hi - lo < 1.0:
            mid = (lo + hi) / 2
            lo, hi = mid - 0.5, mid + 0.5
        return cls(10.0**lo, 10.0**hi)

    def unit(self, values: np.ndarray) -> np.ndarray:
        """Positions 0..1 on the bar (clamped); NaN for zero, negative or missing values."""
        v = np.asarray(values, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (np.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        return np.where(np.isfinite(v) & (v > 0), np.clip(t, 0.0, 1.0), np.nan)


def metric_colors(values: np.ndarray, scale: LogScale, lut: np.ndarray) -> np.ndarray:
    """(N, 3) uint8: ``values`` through ``lut`` (n, 3) on ``scale``; exact zeros :data:`ZERO_RGB`,
    missing (NaN) or negative :data:`MISSING_RGB`."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    lut = np.asarray(lut, dtype=np.uint8)
    out = np.empty((v.size, 3), dtype=np.uint8)
    out[:] = MISSING_RGB
    out[v == 0] = ZERO_RGB
    t = scale.unit(v)
    shown = np.isfinite(t)
    out[shown] = lut[np.rint(t[shown] * (len(lut) - 1)).astype(np.int64)]
    return out


def interpolate(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    """Values ``alpha`` of the way from ``a`` to ``b``: geometric where both are positive (a straight
    line on the log bar), else the nearer end's value (zero and missing never blend)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    near = a if alpha < 0.5 else b
    both = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        blend = np.exp((1 - alpha) * np.log(a) + alpha * np.log(b))
    return np.where(both, blend, near)


class BlockMetric:
    """One metric per block of a scene over the animated snapshots, on one log scale fixed for them all.

    A block stands for its member nodes (a folded ``×N`` block for all N calls), see
    :meth:`~render3d.record.recording.Recording.layer_metric`; a block with no value stays NaN.
    """

    def __init__(self, recording: Recording, blocks: Blocks, name: str, indices: Sequence[int]) -> None:
        self.metric = check_metric(name)
        members = list(blocks.members) + [()] * (len(blocks) - len(blocks.members))
        groups = {nid: tuple(m) or (nid,) for nid, m in zip(blocks.node_ids, members)}
        #: (snapshots, blocks) float64: row k is the k-th animated snapshot
        self.values = recording.layer_metric(name, groups).values[list(indices)]
        self.scale = LogScale.fit(self.values)

    def at(self, i: int, alpha: float = 0.0) -> np.ndarray:
        """The values ``alpha`` of the way from animated snapshot ``i`` to ``i + 1``."""
        if alpha <= 0 or i + 1 >= len(self.values):
            return self.values[i]
        return interpolate(self.values[i], self.values[i + 1], alpha)
