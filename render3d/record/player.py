"""Playback: a recording's scene built once and shown at any position on the snapshot axis.

The scene is built from the first snapshot, with colour limits fixed per layer over the whole
recording; a position only rewrites feature-map textures/scalars in place
(:meth:`~render3d.rendering.SceneActors.update_feature_map`) and the caption. Videos
(:mod:`render3d.record.animate`) and the window (:mod:`render3d.record.window`) both drive a
:class:`Player`.
"""

from __future__ import annotations

import math
import os
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from render3d.errors import RecordingError
from render3d.record.frames import caption, feature_values, segment, source_node, symmetric_limit
from render3d.record.metrics import METRICS, check_metric
from render3d.record.recording import Recording, load_recording
from render3d.scene.colour import place_constant_layers
from render3d.scene.style import SceneStyle

if TYPE_CHECKING:
    from render3d.rendering.composite import FeatureComposer
    from render3d.scene.model import Scene

__all__ = ["DIFF_CMAP", "Player"]

DIFF_CMAP = "RdBu_r"  # diverging: blue = decreased, white = unchanged, red = increased


def _consistent_indices(rec: Recording) -> list[int]:
    """The snapshots whose graph matches the first one's, with a warning naming the epochs left out."""
    indices = rec.consistent()
    skipped = [s.epoch for s in rec.snapshots if s.index not in indices]
    if skipped:
        warnings.warn(
            f"{rec.path}: skipping snapshots of epochs {skipped}: their graph differs from the "
            "first snapshot's (see the manifest's graph_changed flags)",
            stacklevel=3,
        )
    return indices


def _fit_points(scene: Scene) -> np.ndarray:
    """Every block corner and label anchor: what an orbiting camera keeps in view."""
    lo, hi = scene.blocks.lower, scene.blocks.upper
    corners = np.stack([np.where([i & 1, i & 2, i & 4], hi, lo) for i in range(8)]).reshape(-1, 3)
    return np.concatenate([corners, np.asarray(scene.labels.positions, dtype=float).reshape(-1, 3)])


class Player:
    """A recording's scene, built once, that can be shown at any position on the snapshot axis.

    ``set_position(2.5)`` shows the activations halfway between the third and fourth snapshots (of
    those whose graph matches the first one; snapshots flagged as a changed graph are skipped with a
    warning). ``diff=True`` shows the change against the previous snapshot in a diverging colour map
    with one symmetric scale for all layers (``symmetric_limit`` of every change). ``scale="global"``
    (a style override) keeps the first snapshot's log-magnitude scale for every frame.
    ``metric="update_ratio"`` (any of :data:`~render3d.record.metrics.METRICS`) colours the blocks by
    that training-health metric instead (:class:`~render3d.record.metric_view.MetricView`);
    :meth:`set_metric` and :meth:`next_view` switch while it is shown. ``clims`` (feature-map id →
    (low, high), another Player's ``scene`` limits) skips computing them: a video's workers read
    them from the one process that computed them.
    """

    def __init__(
        self,
        recording: Recording | str | os.PathLike[str],
        *,
        size: tuple[int, int] | None = None,
        diff: bool = False,
        metric: str | None = None,
        off_screen: bool = True,
        style: SceneStyle | None = None,
        clims: Mapping[str, tuple[float, float]] | None = None,
        **style_overrides: Any,
    ) -> None:
        from render3d.rendering import build_plotter

        if metric is not None:
            check_metric(metric)  # a wrong name fails before any scene is built
            if diff:
                raise ValueError("Player: diff=True and metric= are two colourings of the same blocks; pass one")
        self.recording = rec = load_recording(recording)
        self.indices = _consistent_indices(rec)
        self.diff = diff
        if diff:  # a change is drawn on its own signed scale, never on the log-magnitude one
            style_overrides["scale"] = "layer"
        # ``size`` (default the style's image_size) is the one the scene is laid out for and drawn at
        style = style or SceneStyle()
        self.style = style.with_overrides(**({} if size is None else {"image_size": tuple(size)}), **style_overrides)
        self.scene = self._build_scene()
        self.sources = {fm.node_id: source_node(self.scene, fm.node_id) for fm in self.scene.feature_maps}
        self._values: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()
        self.last_epoch = rec.snapshots[self.indices[-1]].epoch
        self._set_colour_limits(clims)
        self.plotter, self.actors = build_plotter(self.scene, off_screen=off_screen)
        self._camera = [tuple(map(float, v)) for v in self.plotter.camera_position]
        self._fit_ratio: float | None = None
        self._fit_points = _fit_points(self.scene)
        self.position = -1.0
        self.caption = ""
        self.slider: Any = None  # the window's EpochSlider (recording_window)
        self._last_render: tuple[tuple[Any, ...], np.ndarray] | None = None  # (what it showed, the image)
        self._composer: tuple[tuple[Any, ...], FeatureComposer | None] | None = None  # (its view, it)
        from render3d.record.metric_view import MetricView

        self.metric_view = MetricView(rec, self.indices, self.plotter, self.actors)
        self.metric_view.set_metric(metric)

    def _build_scene(self) -> Scene:
        """The activations scene of the first animated snapshot, titled for the recording."""
        from render3d.scene.builder import build_scene

        rec = self.recording
        base = rec.trace(self.indices[0])
        self._graph_nodes = base.nodes
        scene = build_scene(base, "activations", style=self.style)
        if not scene.feature_maps:
            raise RecordingError(f"{rec.path}: the recorded graph has no activations to animate")
        name = rec.probe_name
        title = f"{rec.model} learning: activations for {name}" if name else f"{rec.model}: activations over training"
        return replace(scene, title=title)

    def _set_colour_limits(self, clims: Mapping[str, tuple[float, float]] | None) -> None:
        """Each feature map's colour limits for every frame: ``clims`` as given, else the diff's one
        symmetric scale or each layer's range over all snapshots (with ``scale="layer"``)."""
        scene = self.scene
        if self.diff:
            if clims is None:
                self._set_diff_limits()
            self.scene = replace(scene, cmap=DIFF_CMAP, colorbar_title="change vs previous epoch (all layers)")
        elif self.style.scale == "layer":
            if clims is None:
                limits = self.recording.color_limits(set(self.sources.values()), snapshots=self.indices)
                for fm in scene.feature_maps:
                    fm.clim = limits.get(self.sources[fm.node_id], fm.clim)
                # a layer constant in the first snapshot keeps its value's place on the other layers' range
                stats = {k: self._graph_nodes[src].stats for k, src in self.sources.items()}
                place_constant_layers(scene.feature_maps, stats)
            self.scene = replace(scene, colorbar_title="activation (per-layer p1–p99 over all epochs)")
        if clims is not None:
            for fm in scene.feature_maps:
                vmin, vmax = clims[fm.node_id]  # a caller's [lo, hi] list or array becomes a tuple
                fm.clim = (vmin, vmax)

    def __len__(self) -> int:
        return len(self.indices)

    # --- values ----------------------------------------------------------------------------------
    def snapshot_values(self, k: int) -> dict[str, np.ndarray]:
        """Feature values (by feature-map id) of the ``k``-th animated snapshot; a few are cached."""
        if k in self._values:
            self._values.move_to_end(k)
            return self._values[k]

        stored = self.recording.read(self.indices[k], set(self.sources.values()))
        out = {}
        for fm in self.scene.feature_maps:
            src = self.sources[fm.node_id]
            node = stored.get(src)
            if node is None:
                raise RecordingError(f"snapshot {self.indices[k]} has no activation for {src!r}")
            graph_node = replace(self._graph_nodes[src], activation=node.activation(), stats=node.stats)
            out[fm.node_id] = feature_values(fm, graph_node, self.style)
        self._values[k] = out
        while len(self._values) > 3:
            self._values.popitem(last=False)
        return out

    def shown_values(self, k: int) -> dict[str, np.ndarray]:
        """What snapshot ``k`` shows: its values, or in diff mode its change against ``k - 1``."""
        now = self.snapshot_values(k)
        if not self.diff:
            return now
        if k == 0:
            return {key: np.zeros_like(v) for key, v in now.items()}
        before = self.snapshot_values(k - 1)
        return {key: now[key] - before[key] for key in now}

    def segment_changes(self) -> np.ndarray:
        """Per pair of consecutive snapshots, how much the activations change on screen
        (:func:`~render3d.record.story.visual_change` against each layer's colour range)."""
        from render3d.record.story import visual_change

        limits = {fm.node_id: fm.clim for fm in self.scene.feature_maps}
        return np.array(
            [visual_change(self.snapshot_values(k - 1), self.snapshot_values(k), limits) for k in range(1, len(self))]
        )

    def _set_diff_limits(self) -> None:
        """One signed scale, -a … 0 … +a, for every layer and frame: the colour bar reads true numbers."""
        changes = [np.abs(d).ravel() for k in range(1, len(self.indices)) for d in self.shown_values(k).values()]
        a = symmetric_limit(np.concatenate(changes)) if changes else 0.0
        a = a if a > 0 else 1e-6
        for fm in self.scene.feature_maps:
            fm.clim = (-a, a)

    # --- drawing ------------------------------------------------------------------------------------
    def set_position(self, position: float) -> None:
        """Show the (interpolated) activations at ``position`` (0 .. len - 1) and its caption."""
        i, alpha = segment(position, len(self.indices))
        if self.metric_view.name is not None:
            self.metric_view.show(i, alpha)
        a = self.shown_values(i) if self.metric_view.name is None else {}
        if alpha > 0 and a:
            b = self.shown_values(i + 1)
            values = {key: (1 - alpha) * a[key] + alpha * b[key] for key in a}
        else:
            values = a
        for key, v in values.items():
            self.actors.update_feature_map(key, v)
        k = min(len(self.indices) - 1, int(math.floor(i + alpha + 0.5)))  # halfway shows the next epoch
        nearest = self.recording.snapshots[self.indices[k]]
        view = "change" if self.diff else self.metric_view.name  # the caption says what the colours are
        self.caption = caption(nearest.epoch, self.last_epoch, nearest.metrics, prefix=f"{view} · " if view else "")
        self.actors.set_caption(self.caption)
        self.position = float(position)

    def image(self, out: np.ndarray | None = None) -> np.ndarray:
        """What the plotter shows now, (H, W, 3) uint8; with ``out`` (a C-contiguous (H, W', 3) uint8
        frame at least as wide) drawn into its left part, and ``out`` returned. Rendered when anything
        but the feature maps' colours changed since the last render (the caption, the camera, the
        view); else the last render with the feature maps recoloured in numpy
        (:class:`~render3d.rendering.composite.FeatureComposer`: the render's own pixels, within
        :data:`~render3d.rendering.composite.TOLERANCE` at a bar's edge), several times cheaper."""
        from render3d.rendering.png import read_rgb

        view = (self.metric_view.name, tuple(self.plotter.camera_position))
        shows = (*view, self.caption)
        last = self._last_render
        if last is not None and last[0][:2] == view and self.metric_view.name is None:  # a metric recolours blocks
            if self._composer is None or self._composer[0] != view:  # a second frame in one view: worth learning it
                self._composer = (view, self._capture())
            composer = self._composer[1]
            if composer is not None and last[0] == shows:
                return composer.compose(last[1], out)
        image = read_rgb(self.plotter)
        self._last_render = (shows, image)
        if out is None:
            return image.copy()  # the caller's to keep; ``image`` stays the background of the frames after it
        out[:, : image.shape[1]] = image
        return out

    def _capture(self) -> FeatureComposer | None:
        from render3d.rendering.composite import FeatureComposer

        return FeatureComposer.capture(self.plotter, self.actors.feature_actors)

    def set_metric(self, name: str | None) -> None:
        """Colour the blocks by training-health metric ``name`` (see :data:`~render3d.record.metrics.METRICS`)
        instead of showing the activations; ``None`` shows the activations again."""
        self.metric_view.set_metric(name)
        self.set_position(max(self.position, 0.0))

    def next_view(self) -> str:
        """Show the next view (the activations, then each metric in turn); returns its name."""
        views = [None, *METRICS]
        name = views[(views.index(self.metric_view.name) + 1) % len(views)]
        self.set_metric(name)
        return name or "activations"

    def set_orbit(self, degrees: float) -> None:
        """Swing the camera ``degrees`` about the vertical axis through its focal point, moving it in
        or out so the scene fills the view as snugly as it does in the scene's own camera."""
        position, focal, up = (np.asarray(v, dtype=float) for v in self._camera)
        axis = up / (np.linalg.norm(up) or 1.0)
        r = position - focal
        t = math.radians(degrees)
        rotated = r * math.cos(t) + np.cross(axis, r) * math.sin(t) + axis * float(np.dot(axis, r)) * (1 - math.cos(t))
        direction = rotated / np.linalg.norm(rotated)
        if self._fit_ratio is None:
            self._fit_ratio = float(np.linalg.norm(r)) / self._needed_distance(r / np.linalg.norm(r), axis)
        distance = self._fit_ratio * self._needed_distance(direction, axis)
        self.plotter.camera_position = [tuple(focal + direction * distance), tuple(focal), tuple(up)]
        self.plotter.renderer.ResetCameraClippingRange()

    def _needed_distance(self, direction: np.ndarray, up: np.ndarray) -> float:
        """Distance from the focal point at which every block corner and label anchor is in view."""
        _, focal, _ = (np.asarray(v, dtype=float) for v in self._camera)
        corners = self._fit_points
        right = np.cross(up, direction)
        right /= np.linalg.norm(right) or 1.0
        true_up = np.cross(direction, right)
        v = corners - focal
        x, y, z = np.abs(v @ right), np.abs(v @ true_up), v @ direction
        width, height = self.plotter.window_size
        tan_v = math.tan(math.radians(self.plotter.camera.view_angle) / 2)
        tan_h = tan_v * width / max(height, 1)
        return float(max(np.max(z + x / tan_h), np.max(z + y / tan_v), 1e-9))

    def close(self) -> None:
        self.plotter.close()
