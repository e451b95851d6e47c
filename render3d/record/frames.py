"""What each frame of an animation shows, as pure numpy: time positions, feature values, captions.

A video's frames sit at positions on the snapshot axis (0 .. E - 1) and blend the two snapshots
around them linearly. By default (:func:`story_positions`) the first and last snapshots are held and
the time between is warped: each epoch gets a floor share plus a share by how much changed in it.
With ``F`` frames per epoch (:class:`Timeline`, uniform) ``E`` snapshots give ``(E - 1) * F + 1``
frames, frame ``j`` at position ``j / F``. Feature
values are derived from a snapshot's activation by the scene's own reduction
(:func:`render3d.scene.activations.feature_map`), with the channel selection of the scene built from
the first snapshot kept fixed, so a plane shows the same channel in every frame.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from render3d.errors import RecordingError
from render3d.graph import Node
from render3d.scene.activations import feature_map
from render3d.scene.colour import log_magnitude
from render3d.scene.model import FeatureMap, Scene
from render3d.scene.style import SceneStyle

# the scene helper's signature has changed once (scene_extent went away); pass it only if it is asked for
_EXTENT = {"scene_extent": 1.0} if "scene_extent" in inspect.signature(feature_map).parameters else {}

__all__ = [
    "DEFAULT_HOLD",
    "Timeline",
    "caption",
    "check_seconds",
    "default_duration",
    "default_hold",
    "feature_values",
    "format_metric",
    "segment_shares",
    "source_node",
    "story_positions",
    "symmetric_limit",
]


@dataclass(frozen=True)
class Timeline:
    """Frame ↔ snapshot position for ``snapshots`` snapshots and ``frames_per_epoch`` frames each."""

    snapshots: int
    frames_per_epoch: int

    def __post_init__(self) -> None:
        if self.snapshots < 1:
            raise RecordingError("an animation needs at least one snapshot")
        if self.frames_per_epoch < 1:
            raise ValueError(f"frames_per_epoch must be >= 1, got {self.frames_per_epoch}")

    def __len__(self) -> int:
        if self.snapshots == 1:
            return self.frames_per_epoch
        return (self.snapshots - 1) * self.frames_per_epoch + 1

    def position(self, frame: int) -> float:
        """Position on the snapshot axis (0 .. snapshots - 1) of ``frame``."""
        if self.snapshots == 1:
            return 0.0
        return min(frame / self.frames_per_epoch, float(self.snapshots - 1))

    def positions(self) -> np.ndarray:
        return np.array([self.position(j) for j in range(len(self))])


#: seconds the first and the last snapshot stay on screen (a story's opening and closing shot)
DEFAULT_HOLD = 1.5
#: default screen time per epoch (snapshot to snapshot), at least MIN_MOTION in all
SECONDS_PER_SEGMENT = 0.8
MIN_MOTION = 4.0
#: the part of the motion split evenly over the segments, whatever their change: late epochs keep a floor
UNIFORM_SHARE = 0.5


def check_seconds(value: str | float) -> float:
    """``value`` as a finite number of seconds >= 0 (a ValueError saying so otherwise)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"{value!r} is not a number of seconds >= 0")
    return seconds


def segment_shares(change: np.ndarray, uniform: float = UNIFORM_SHARE) -> np.ndarray:
    """Each segment's share of the moving time (they sum to 1): ``uniform`` of it split evenly, the
    rest in proportion to the segment's ``change``, so the big early change is slowed down and the
    quiet late epochs still get ``uniform / segments`` each. No change at all: even shares."""
    c = np.clip(np.nan_to_num(np.asarray(change, dtype=np.float64), nan=0.0, posinf=0.0), 0.0, None)
    n = c.size
    if n == 0:
        return np.zeros(0)
    even = np.full(n, 1.0 / n)
    total = c.sum()
    return even if total <= 0 else uniform * even + (1.0 - uniform) * c / total


def default_hold(duration: float | None = None) -> float:
    """DEFAULT_HOLD, or a sixth of a shorter ``duration`` (a 3 s video holds 0.5 s at each end)."""
    return DEFAULT_HOLD if duration is None else min(DEFAULT_HOLD, duration / 6)


def default_duration(segments: int, hold: float) -> float:
    """Both holds plus SECONDS_PER_SEGMENT per segment (at least MIN_MOTION of motion; none for one snapshot)."""
    return 2 * hold + (max(MIN_MOTION, SECONDS_PER_SEGMENT * segments) if segments else 0.0)


def story_positions(
    change: np.ndarray,
    fps: float,
    *,
    duration: float | None = None,
    hold: float | None = None,
    uniform: float = UNIFORM_SHARE,
) -> np.ndarray:
    """The snapshot position of every frame of a ``duration``-second video at ``fps``: the first
    snapshot held ``hold`` seconds, then the motion through the ``len(change)`` segments, each in its
    :func:`segment_shares` of the time (linear within a segment), then the last snapshot held.

    ``duration`` defaults to :func:`default_duration`, ``hold`` to :func:`default_hold`.
    """
    segments = int(np.size(change))
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise ValueError(f"duration must be a number of seconds > 0, got {duration!r}")
    hold = default_hold(duration) if hold is None else float(hold)
    if not (math.isfinite(hold) and hold >= 0):
        raise ValueError(f"hold must be a number of seconds >= 0, got {hold!r}")
    duration = default_duration(segments, hold) if duration is None else float(duration)
    total = max(1, int(round(duration * fps)))
    if segments == 0:
        return np.zeros(total)
    held = int(round(hold * fps))
    moving = total - 2 * held
    if moving < 2:
        raise ValueError(
            f"a {duration:g} s video at {fps:g} fps leaves no time to move between its two "
            f"{hold:g} s holds; give a longer duration or a shorter hold"
        )
    knots = np.concatenate([[0.0], np.cumsum(segment_shares(change, uniform))])
    knots[-1] = 1.0
    motion = np.interp(np.linspace(0.0, 1.0, moving), knots, np.arange(segments + 1, dtype=np.float64))
    return np.concatenate([np.zeros(held), motion, np.full(held, float(segments))])


def segment(position: float, count: int) -> tuple[int, float]:
    """``(i, alpha)``: ``position`` lies ``alpha`` of the way from snapshot ``i`` to ``i + 1``."""
    if count <= 1:
        return 0, 0.0
    position = min(max(float(position), 0.0), float(count - 1))
    i = min(int(math.floor(position)), count - 2)
    return i, position - i


def source_node(scene: Scene, node_id: str) -> str:
    """The trace node whose activation a feature map shows: the last member of its (folded) block."""
    blocks = scene.blocks
    i = blocks.index(node_id)
    members = blocks.members[i] if i < len(blocks.members) and blocks.members[i] else (node_id,)
    return members[-1]


def feature_values(fm: FeatureMap, node: Node, style: SceneStyle | None = None) -> np.ndarray:
    """The values ``fm`` shows for ``node``'s activation: same shape as ``fm.values``.

    The scene's own helper does the reduction (channel mean for slabs, bar averaging, token planes,
    volumes); only the choice of channels is taken from ``fm`` rather than recomputed, so planes
    keep showing the same channels whatever the snapshot.
    """
    style = style or SceneStyle()
    act = node.activation
    if act is None:
        raise RecordingError(f"node {node.id!r} has no activation for feature map {fm.node_id!r}")
    channels = int(act.data.shape[0]) if act.data.ndim else 1
    forced = style.with_overrides(
        lod="slab" if fm.style == "slab" else "all",
        max_planes=max(1, channels),
        volume=fm.style == "volume",
    )
    new = feature_map(fm.node_id, node, lower=np.zeros(3), size=np.ones(3), style=forced, **_EXTENT)
    if new is None:
        raise RecordingError(f"node {node.id!r} gives no feature map values")
    values = np.asarray(new.values, dtype=np.float32)
    if style.scale == "global":  # the scene's one log scale, whose floor is its lower limit
        values = log_magnitude(values, 10.0 ** float(fm.clim[0]))
    if fm.style == "planes" and fm.channels is not None and new.channels is not None:
        values = values[np.asarray(fm.channels)]
    if values.shape != np.shape(fm.values):
        msg = (
            f"feature map {fm.node_id!r} has shape {np.shape(fm.values)} but node {node.id!r} gives "
            f"{values.shape}: the activation's shape changed between snapshots"
        )
        raise RecordingError(msg)
    return values


def symmetric_limit(abs_values: np.ndarray, q: float = 99.0) -> float:
    """A robust half-width for a diverging colour map: the ``q`` percentile of the non-zero ``|change|``.

    Zeros (an input that never changes, a dead layer) are left out: they would pull the limit down
    to nothing. The percentile rather than the maximum lets a few outliers saturate instead of
    washing every other change out to white (measured on tests/record_fixtures.py's recording: with
    the pooled p99, 46 % of the changed cells are over a quarter of the scale; with the maximum, 0.8 %).
    """
    a = np.asarray(abs_values, dtype=np.float32).reshape(-1)
    a = a[np.isfinite(a) & (a > 0)]
    if a.size == 0:
        return 0.0
    return float(np.percentile(a, q))


_PERCENT_NAMES = ("acc", "accuracy", "top1", "top5", "precision", "recall", "f1", "iou", "miou")


def format_metric(name: str, value: Any) -> str:
    """``loss 0.412``, ``acc 91.2%`` (accuracy-like names with values in [0, 1] read as percentages)."""
    if isinstance(value, bool):
        return f"{name} {value}"
    if not isinstance(value, (int, float)):
        return f"{name} {value}"
    base = name.lower().replace("-", "_").rsplit("_", 1)[-1]
    if base in _PERCENT_NAMES and 0.0 <= value <= 1.0 and isinstance(value, float):
        return f"{name} {value * 100:.1f}%"
    if isinstance(value, int):
        return f"{name} {value:,}"
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
        return f"{name} {value:.2e}"
    return f"{name} {value:.3g}" if abs(value) < 1 else f"{name} {value:.4g}"


def _epoch_text(epoch: Any) -> str:
    if isinstance(epoch, float) and not epoch.is_integer():
        return f"{epoch:g}"
    return str(int(epoch)) if isinstance(epoch, (int, float)) else str(epoch)


def caption(epoch: Any, last_epoch: Any, metrics: Mapping[str, Any], *, prefix: str = "") -> str:
    """``"epoch 3/10 · loss 0.412 · acc 91.2%"``."""
    parts = [f"{prefix}epoch {_epoch_text(epoch)}/{_epoch_text(last_epoch)}"]
    parts += [format_metric(k, v) for k, v in metrics.items()]
    return " · ".join(parts)
