"""What a training video tells besides the 3-D scene: the probe (its picture and name), the
prediction over epochs (softmax of the output logits, top-k classes) and the metric curves, read
from a recording as plain numpy; :mod:`render3d.rendering.panels` draws it.

Also the measure of how much changed between snapshots that the video's time warp uses
(:func:`visual_change`, :func:`blend_changes`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from render3d.errors import RecordingError, UsageError
from render3d.record.frames import _PERCENT_NAMES, segment
from render3d.record.recording import Recording

__all__ = [
    "Story",
    "StoryFrame",
    "blend_changes",
    "check_classes",
    "load_story",
    "probe_image",
    "read_classes",
    "softmax",
    "top_classes",
    "torchvision_classes",
    "visual_change",
]

#: bars shown for a classifier with more classes than this: its top TOP_K
ALL_CLASSES_UP_TO = 10
TOP_K = 5


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities along the last axis (float64, stable for large logits)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def top_classes(final: np.ndarray, label: int | None = None) -> np.ndarray:
    """The class indices the prediction panel shows: all of them, in class order, up to
    :data:`ALL_CLASSES_UP_TO` classes (a class reads 0-9 down the panel as a teacher writes them), else
    the top :data:`TOP_K` at the end, most probable first (the true ``label`` replacing the last one when
    it is not among them). Fixed for the whole video, so bars keep their places."""
    final = np.asarray(final, dtype=np.float64)
    if final.size <= ALL_CLASSES_UP_TO:
        return np.arange(final.size)
    order = np.argsort(-final, kind="stable")
    shown = order[:TOP_K]
    if label is not None and 0 <= label < final.size and label not in shown:
        shown = np.append(shown[:-1], label)
    return shown


def probe_image(probe: np.ndarray) -> np.ndarray | None:
    """The probe as an (H, W, 3) uint8 picture, stretched to its own min..max: ``(1, 1|3, H, W)``
    inputs; other channel counts show their channel mean; ``None`` for inputs that are not images."""
    x = np.asarray(probe, dtype=np.float32)
    if x.ndim != 4 or x.shape[2] < 2 or x.shape[3] < 2:
        return None
    x = x[0]
    x = x if x.shape[0] == 3 else x.mean(axis=0, keepdims=True)
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(x.min()), float(x.max())
    scaled = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    image = np.rint(scaled * 255).astype(np.uint8).transpose(1, 2, 0)
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image


def visual_change(
    before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray], clims: Mapping[str, tuple[float, float]]
) -> float:
    """How much the picture changes from ``before`` to ``after`` (feature values by feature map): the
    mean absolute change of each map as a fraction of its colour range, averaged over the maps."""
    parts = []
    for key, a in before.items():
        lo, hi = clims[key]
        width = float(hi) - float(lo)
        if width > 0 and key in after:
            parts.append(float(np.mean(np.abs(np.asarray(after[key], np.float64) - a))) / width)
    return float(np.mean(parts)) if parts else 0.0


def blend_changes(*measures: Sequence[float] | np.ndarray | None) -> np.ndarray:
    """One change per segment from several measures (activations, prediction): each normalised to
    sum 1 over the segments, then averaged; measures that are ``None`` or all zero are left out."""
    rows = []
    for m in measures:
        if m is None:
            continue
        a = np.clip(np.nan_to_num(np.asarray(m, dtype=np.float64), nan=0.0, posinf=0.0), 0.0, None)
        if a.sum() > 0:
            rows.append(a / a.sum())
    if not rows:
        sizes = [len(m) for m in measures if m is not None]
        return np.zeros(sizes[0] if sizes else 0)
    return np.mean(rows, axis=0)


# --- class names ------------------------------------------------------------------------------------


def read_classes(path: str | os.PathLike[str]) -> list[str]:
    """Class names from ``path``: a JSON list of strings, or one name per line (blank lines ignored)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--classes {path}: cannot be read ({exc})") from None
    if text.lstrip().startswith("["):
        try:
            names = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"--classes {path}: not a valid JSON list ({exc})") from None
        if not (isinstance(names, list) and all(isinstance(n, (str, int)) for n in names)):
            raise UsageError(f"--classes {path}: the JSON must be a list of class names")
        names = [str(n) for n in names]
    else:
        names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise UsageError(f"--classes {path}: holds no class names (one per line, or a JSON list)")
    return names


def check_classes(classes: Sequence[str], count: int, source: str) -> list[str]:
    """``classes`` if there is one name per output; else a one-line error naming ``source`` and both counts."""
    if len(classes) != count:
        raise UsageError(
            f"{source}: {len(classes)} class names, but the model has {count} outputs; "
            f"give exactly {count} names (one per line, or a JSON list)"
        )
    return list(classes)


def torchvision_classes(model: str) -> list[str] | None:
    """The category names of torchvision model ``model`` (``torchvision:resnet18`` or ``resnet18``) from
    its weights' metadata, without downloading anything; ``None`` when it has no weights enum."""
    name = model.split(":", 1)[1] if model.startswith("torchvision:") else model
    try:
        import torchvision

        weights = torchvision.models.get_model_weights(name)
    except (ImportError, ValueError, KeyError):
        return None
    first = next(iter(weights), None)
    categories = None if first is None else first.meta.get("categories")
    return [str(c) for c in categories] if categories else None


# --- the story ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryFrame:
    """What the panels show at one position: plain values, ready to draw."""

    probe_name: str | None
    image: np.ndarray | None
    #: (class name, probability, is the true class) per shown class, in a fixed order
    bars: list[tuple[str, float, bool]]
    #: chart title → (metric name → (epochs, values)) up to now; the last point is "now"
    charts: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]
    #: chart title → (y lower, y upper, percent?) over the whole recording, so axes never move
    chart_limits: dict[str, tuple[float, float, bool]]
    epoch_range: tuple[float, float]


@dataclass
class Story:
    """A recording's probe, prediction and metrics over its animated snapshots (``indices``)."""

    probe_name: str | None
    image: np.ndarray | None
    epochs: np.ndarray
    classes: list[str] | None = None
    label: int | None = None
    probabilities: np.ndarray | None = None  # (snapshots, classes)
    shown: np.ndarray | None = None
    metrics: dict[str, np.ndarray] = field(default_factory=dict)

    def prediction_change(self) -> np.ndarray | None:
        """Per segment, the total variation between consecutive predictions (half the L1 distance)."""
        if self.probabilities is None:
            return None
        return 0.5 * np.abs(np.diff(self.probabilities, axis=0)).sum(axis=1)

    def charts(self) -> dict[str, list[str]]:
        """Chart title → metric names: the losses in one chart, accuracy-like values in [0, 1] in another."""
        losses = [k for k in self.metrics if "loss" in k.lower()]
        percent = [k for k in self.metrics if _is_percent(k, self.metrics[k])]
        return {title: names for title, names in (("loss", losses), (_title(percent), percent)) if names}

    def at(self, position: float) -> StoryFrame:
        """The panels' content at ``position`` on the snapshot axis (interpolated between snapshots)."""
        n = len(self.epochs)
        i, alpha = segment(position, n)
        j = min(i + 1, n - 1)
        bars: list[tuple[str, float, bool]] = []
        if self.probabilities is not None and self.shown is not None:
            p = (1 - alpha) * self.probabilities[i] + alpha * self.probabilities[j]
            names = self.classes or [str(k) for k in range(self.probabilities.shape[1])]
            bars = [(names[k], float(p[k]), k == self.label) for k in self.shown.tolist()]
        now = (1 - alpha) * self.epochs[i] + alpha * self.epochs[j]
        charts, limits = {}, {}
        for title, names in self.charts().items():
            lines = {}
            for name in names:
                values = self.metrics[name]
                v_now = (1 - alpha) * values[i] + alpha * values[j]
                lines[name] = (np.append(self.epochs[: i + 1], now), np.append(values[: i + 1], v_now))
            charts[title] = lines
            limits[title] = _chart_limits([self.metrics[k] for k in names], title != "loss")
        return StoryFrame(
            self.probe_name, self.image, bars, charts, limits, (float(self.epochs[0]), float(self.epochs[-1]))
        )


def _title(names: list[str]) -> str:
    """The accuracy chart's title: the metric's own name when it is the only one (``acc``, ``top1``)."""
    return names[0] if len(names) == 1 and names[0] not in ("acc", "accuracy") else "accuracy"


def _is_percent(name: str, values: np.ndarray) -> bool:
    base = name.lower().replace("-", "_").rsplit("_", 1)[-1]
    finite = values[np.isfinite(values)]
    return base in _PERCENT_NAMES and finite.size > 0 and bool(np.all((finite >= 0) & (finite <= 1)))


def _chart_limits(series: list[np.ndarray], percent: bool) -> tuple[float, float, bool]:
    if percent:
        return 0.0, 1.0, True
    values = np.concatenate(series)
    values = values[np.isfinite(values)]
    hi = float(values.max()) if values.size else 1.0
    lo = min(0.0, float(values.min())) if values.size else 0.0
    return lo, hi if hi > lo else lo + 1.0, False


def load_story(
    recording: Recording,
    indices: Sequence[int],
    *,
    classes: Sequence[str] | None = None,
    classes_source: str = "--classes",
) -> Story:
    """The story of ``recording`` over snapshots ``indices``; ``classes`` (else the recording's own)
    name the outputs, checked against the logits' count (a mismatch names ``classes_source``)."""
    indices = list(indices)
    epochs = np.array([recording.snapshots[k].epoch for k in indices], dtype=np.float64)
    try:
        image = probe_image(recording.probe())
    except RecordingError:
        image = None
    logits = [recording.logits(k) for k in indices]
    probabilities = shown = None
    names = None
    present = [v for v in logits if v is not None]
    if len(present) == len(logits) and len({v.size for v in present}) == 1:
        probabilities = softmax(np.stack(present))
        count = probabilities.shape[1]
        if classes is not None:
            names = check_classes(classes, count, classes_source)
        elif recording.classes is not None:
            names = check_classes(recording.classes, count, f"{recording.path} (manifest 'classes')")
    label = recording.probe_label
    if probabilities is not None:
        label = label if label is not None and 0 <= label < probabilities.shape[1] else None
        shown = top_classes(probabilities[-1], label)
    metrics: dict[str, np.ndarray] = {}
    for k in indices:
        for name, value in recording.snapshots[k].metrics.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                metrics.setdefault(name, np.full(len(indices), np.nan))
    for row, k in enumerate(indices):
        for name, value in recording.snapshots[k].metrics.items():
            if name in metrics:
                metrics[name][row] = float(value)
    return Story(recording.probe_name, image, epochs, names, label, probabilities, shown, metrics)
