"""A recording's blocks coloured by a training-health metric, switched on and off in a live plotter.

The plotter a :class:`~render3d.record.animate.Player` built for the activations is kept; a metric
view hides the feature maps, closes the open blocks (one extra mesh, made on first use), colours every
block by the metric (:func:`~render3d.record.metrics.metric_colors`), puts a log lookup table on the
colour bar and swaps the legend for the two neutral colours (0 and no value). Switching back restores
all of it, so the window's ``m`` key and ``animate --metric`` share one code path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyvista as pv

from render3d.record.metrics import MISSING_NOTE, MISSING_RGB, ZERO_NOTE, ZERO_RGB, BlockMetric, metric_colors
from render3d.record.recording import Recording
from render3d.rendering.actors import OPEN_BLOCKS, SceneActors, legend_swatch
from render3d.rendering.labels import TEXT_COLOR, rgb01
from render3d.rendering.meshes import boxes_mesh, colormap_lut, face_shades, shade_colors

__all__ = ["METRIC_CMAP", "MetricView"]

#: sequential and far from grey at both ends, so the neutral 0 / no-value colours never read as values
METRIC_CMAP = "plasma"


class MetricView:
    """Metric colouring for the blocks of ``actors`` (snapshot ``indices`` of ``recording``)."""

    def __init__(self, recording: Recording, indices: Sequence[int], plotter: pv.Plotter, actors: SceneActors) -> None:
        self.recording = recording
        self.indices = list(indices)
        self.plotter = plotter
        self.actors = actors
        self.current: BlockMetric | None = None
        self._metrics: dict[str, BlockMetric] = {}
        self._lut = colormap_lut(METRIC_CMAP)
        self._closed: pv.PolyData | None = None
        self._closed_actor: Any = None
        self._saved: dict[str, Any] = {}

    @property
    def name(self) -> str | None:
        return None if self.current is None else self.current.metric.name

    def set_metric(self, name: str | None) -> None:
        """Colour blocks by metric ``name`` from now on; ``None`` goes back to the activations."""
        if name == self.name:
            return
        if name is None:
            self._restore()
            self.current = None
            return
        if name not in self._metrics:
            self._metrics[name] = BlockMetric(self.recording, self.actors.scene.blocks, name, self.indices)
        if self.current is None:
            self._save()
        self.current = self._metrics[name]
        self._show_scale(self.current)

    def show(self, i: int, alpha: float) -> None:
        """Block colours ``alpha`` of the way from animated snapshot ``i`` to the next."""
        if self.current is None:
            raise RuntimeError("MetricView.show: no metric chosen; call set_metric(name) first")
        rgb = metric_colors(self.current.at(i, alpha), self.current.scale, self._lut)
        self.actors.set_block_colors(rgb)
        if self._closed is not None:
            own = rgb[self._closed.cell_data["block_id"][::6]]
            self._closed.cell_data["rgb"][:] = shade_colors(own, face_shades())
            self._closed.Modified()

    # --- switching ----------------------------------------------------------------------------------
    def _opened(self) -> list[Any]:
        """The actors of the activations view that a metric view hides."""
        a = self.actors
        return [*a.feature_actors.values(), a.block_actors.get(OPEN_BLOCKS), a.outline_actor]

    def _save(self) -> None:
        a = self.actors
        hidden = [x for x in self._opened() if x is not None]
        shown = [x for x in (a.scalar_bar_actor, a.colorbar_title_actor) if x is not None]  # the metric's bar
        self._saved = {"visible": [(x, x.GetVisibility()) for x in hidden + shown]}
        for x in hidden:
            x.SetVisibility(False)
        for x in shown:
            x.SetVisibility(True)
        if OPEN_BLOCKS in a.block_meshes:
            self._close_open_blocks()
        if a.scalar_bar_actor is not None:
            bar = a.scalar_bar_actor
            self._saved["bar"] = (bar.GetLookupTable(), bar.GetNumberOfLabels(), bar.GetLabelFormat())
        if a.colorbar_title_actor is not None:
            self._saved["title"] = a.colorbar_title_actor.GetInput()
        if a.title_actor is not None:
            self._saved["scene_title"] = a.title_actor.GetInput()
        if a.legend_actor is not None:
            self._saved["legend"] = _legend_entries(a.legend_actor)
            self._saved["legend_box"] = (
                a.legend_actor.GetPositionCoordinate().GetValue(),
                a.legend_actor.GetPosition2Coordinate().GetValue(),
            )
            _set_legend(
                a.legend_actor,
                [(ZERO_NOTE, ZERO_RGB), (MISSING_NOTE, MISSING_RGB)],
                shrink=2 / max(len(self._saved["legend"]), 2),
            )

    def _restore(self) -> None:
        a = self.actors
        for actor, visible in self._saved.get("visible", []):
            actor.SetVisibility(visible)
        if self._closed_actor is not None:
            self._closed_actor.SetVisibility(False)
        a.set_block_colors(a.scene.blocks.colors)
        if "bar" in self._saved and a.scalar_bar_actor is not None:  # saved only when there is one
            lut, labels, label_format = self._saved["bar"]
            a.scalar_bar_actor.SetLookupTable(lut)
            a.scalar_bar_actor.SetNumberOfLabels(labels)
            a.scalar_bar_actor.SetLabelFormat(label_format)
        if "title" in self._saved and a.colorbar_title_actor is not None:
            a.colorbar_title_actor.SetInput(self._saved["title"])
        if "scene_title" in self._saved and a.title_actor is not None:
            a.title_actor.SetInput(self._saved["scene_title"])
        if "legend" in self._saved:
            _set_legend(a.legend_actor, self._saved["legend"])
            corner, size = self._saved["legend_box"]
            a.legend_actor.GetPositionCoordinate().SetValue(*corner)
            a.legend_actor.GetPosition2Coordinate().SetValue(*size)
        self._saved = {}

    def _show_scale(self, metric: BlockMetric) -> None:
        a = self.actors
        if self._closed_actor is not None:
            self._closed_actor.SetVisibility(True)
        if a.scalar_bar_actor is not None:
            lut = pv.LookupTable(cmap=METRIC_CMAP, scalar_range=(metric.scale.lo, metric.scale.hi), log_scale=True)
            a.scalar_bar_actor.SetLookupTable(lut)
            a.scalar_bar_actor.SetNumberOfLabels(3)  # log-spaced: lo, geometric middle, hi
            a.scalar_bar_actor.SetLabelFormat("%.2g")
        if a.colorbar_title_actor is not None:
            a.colorbar_title_actor.SetInput(metric.metric.label)
        if a.title_actor is not None:
            a.title_actor.SetInput(f"{self.recording.model}: {metric.metric.name} over training")

    def _close_open_blocks(self) -> None:
        """A solid copy of the blocks drawn open around their feature maps (made once, then toggled)."""
        if self._closed is not None:
            return
        blocks = self.actors.scene.blocks
        sel = np.unique(self.actors.block_meshes[OPEN_BLOCKS].cell_data["block_id"])
        self._closed = boxes_mesh(
            blocks.lower[sel], blocks.upper[sel], np.asarray(blocks.colors)[sel], sel, face_shades()
        )
        self._closed_actor = self.plotter.add_mesh(
            self._closed,
            scalars="rgb",
            rgb=True,
            show_scalar_bar=False,
            show_edges=True,
            edge_color=(0.27, 0.27, 0.27),
            lighting=False,
            name="blocks:metric-closed",
            reset_camera=False,
            render=False,
        )


def _legend_entries(legend: Any) -> list[tuple[str, tuple[int, int, int]]]:
    """(text, rgb) of each entry of a legend whose swatches carry their colour as cell scalars."""
    out = []
    for i in range(legend.GetNumberOfEntries()):
        symbol = legend.GetEntrySymbol(i)
        data = pv.wrap(symbol).cell_data if symbol is not None else {}
        r, g, b = data["rgb"][-1] if "rgb" in data else (0, 0, 0)  # a framed swatch's frame comes first
        out.append((legend.GetEntryString(i), (int(r), int(g), int(b))))
    return out


def _set_legend(legend: Any, entries: list[tuple[str, tuple[int, int, int]]], shrink: float = 1.0) -> None:
    """Replace the entries (the scene legend's swatches); ``shrink`` the box's height with them."""
    legend.SetNumberOfEntries(len(entries))
    for i, (text, rgb) in enumerate(entries):
        legend.SetEntry(i, legend_swatch(rgb), str(text), rgb01(TEXT_COLOR))
    if shrink != 1.0:
        pos2 = legend.GetPosition2Coordinate()
        w, h, z = pos2.GetValue()
        pos1 = legend.GetPositionCoordinate()
        x, y, z1 = pos1.GetValue()
        pos1.SetValue(x, y + h * (1 - shrink), z1)
        pos2.SetValue(w, h * shrink, z)
