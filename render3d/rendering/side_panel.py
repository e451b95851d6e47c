"""The window's side panel: one block up close (its channels enlarged, its numbers, what it does).

A 2-D overlay over the right :data:`PANEL_WIDTH` of the window, drawn with the scene's own colour map
and limits, so a colour in the panel means what it means on the block in the 3-D view. The channel
grid is the block's feature-map atlas (:func:`~render3d.rendering.actors.atlas_rgb`) enlarged with
nearest sampling and a gap between channels; a colour strip under it gives the limits in numbers.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np
import pyvista as pv
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkRenderingCore import vtkActor2D, vtkImageMapper, vtkPolyDataMapper2D

from render3d.rendering.actors import SceneActors, atlas_grid, atlas_rgb
from render3d.rendering.labels import TEXT_COLOR, font_file, rgb01
from render3d.rendering.meshes import box_outlines_mesh
from render3d.scene.flags import MEANINGS

__all__ = ["PANEL_WIDTH", "SidePanel", "channel_grid_image", "text_box"]

#: the panel's share of the window width
PANEL_WIDTH = 0.28
PANEL_RGB = (248, 248, 245)
BORDER_RGB = (170, 170, 170)
HIGHLIGHT_RGB = (0, 0, 0)
GAP_PX = 2  # between channel tiles in the enlarged grid
#: vectors longer than this are wrapped into a square-ish grid instead of one long row
ROW_CELLS = 64


def channel_grid_image(
    values: np.ndarray,
    clim: tuple[float, float],
    lut: np.ndarray,
    max_size: tuple[int, int],
    background: tuple[int, int, int] = PANEL_RGB,
) -> np.ndarray:
    """(H, W, 3) uint8 image of ``values`` (K, H, W channels, or a vector) as a near-square grid of
    tiles, each enlarged (or shrunk) by one nearest-sampling factor to fit ``max_size`` (width, height),
    ``GAP_PX`` of ``background`` between tiles; coloured like the 3-D view (``lut`` over ``clim``)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 2:
        values = values[None]
    padding = None
    if values.ndim != 3 or values.shape[0] == 1 and values.shape[1] == 1:
        values, padding = _vector_grid(values.reshape(-1))
    k, h, w = values.shape
    rows, cols = atlas_grid(k)
    atlas = atlas_rgb(values, clim, lut, (rows, cols))
    if padding is not None:
        atlas[padding] = background
    tile = np.full((rows, cols), True)
    tile.reshape(-1)[k:] = False  # the grid's unused tail
    max_w, max_h = max_size
    scale = min((max_w - (cols - 1) * GAP_PX) / (cols * w), (max_h - (rows - 1) * GAP_PX) / (rows * h))
    scale = max(scale, 1.0 / max(h, w))  # at least one pixel per tile
    r_src, r_tile = _enlarged(rows, h, scale)
    c_src, c_tile = _enlarged(cols, w, scale)
    out = atlas[np.maximum(r_src, 0)][:, np.maximum(c_src, 0)]
    blank = (r_src[:, None] < 0) | (c_src[None, :] < 0)
    blank |= ~tile[np.maximum(r_tile, 0)][:, np.maximum(c_tile, 0)]
    out[blank] = background
    return out


def _vector_grid(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A vector as one tile: one row of cells, or (past :data:`ROW_CELLS`) the rows of a square-ish
    block; with the mask of the padding cells that fill its last row."""
    n = values.size
    cols = n if n <= ROW_CELLS else math.ceil(math.sqrt(n))
    padded = np.zeros(math.ceil(n / cols) * cols)
    padded[:n] = values
    padding = np.arange(padded.size) >= n
    return padded.reshape(1, -1, cols), padding.reshape(-1, cols)


def _enlarged(tiles: int, size: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """For each output pixel along one axis: the atlas pixel it samples (-1 in a gap) and its tile."""
    px = max(1, math.floor(size * scale))
    inside = np.minimum((np.arange(px) / scale).astype(np.int64), size - 1)
    src, tile = [], []
    for t in range(tiles):
        src += [t * size + inside, np.full(GAP_PX if t < tiles - 1 else 0, -1)]
        tile += [np.full(px, t), np.full(GAP_PX if t < tiles - 1 else 0, -1)]
    return np.concatenate(src).astype(np.int64), np.concatenate(tile).astype(np.int64)


def _shown(fm: Any) -> str:
    """What the enlarged grid shows of the layer's output."""
    if fm.style == "slab":
        return "below: the mean over all channels"
    if fm.style == "bars":
        return "below: the output vector, one cell per value"
    if fm.channels is None:
        return "below: the output, tokens top to bottom"
    if fm.style == "volume" or len(fm.channels) == 1:
        return f"below: all {len(fm.channels)} channels"
    return (
        f"below: the {len(fm.channels)} channels with the largest mean magnitude "
        f"({', '.join(str(int(c)) for c in fm.channels)})"
    )


class SidePanel:
    """The panel and the highlight of the block it shows; hidden until :meth:`open`.

    Everything is in display pixels of the window's size when the panel was made (a window rebuilt at
    another size makes a new panel).
    """

    def __init__(self, plotter: pv.Plotter) -> None:
        self.plotter = plotter
        width, height = plotter.window_size
        self.x0 = round(width * (1 - PANEL_WIDTH))
        self.margin = max(6, round(14 * height / 900))
        self.node_id: str | None = None  # the block shown
        self.background = _rectangle(plotter, self.x0, 0, width, height, PANEL_RGB, BORDER_RGB)
        self.title = self._text(20, bold=True)
        self.body = self._text(15)
        self.grid_image = pv.ImageData(dimensions=(1, 1, 1))
        self.grid_mapper = vtkImageMapper()
        self.grid_mapper.SetInputData(self.grid_image)
        self.grid_mapper.SetColorWindow(255.0)
        self.grid_mapper.SetColorLevel(127.5)
        self.grid_actor = vtkActor2D()
        self.grid_actor.SetMapper(self.grid_mapper)
        self.grid_actor.SetVisibility(False)
        plotter.add_actor(self.grid_actor, reset_camera=False, name="panel:grid", pickable=False, render=False)
        self.strip = self._text(13)  # the colour strip's limits, drawn under it
        self.strip_image = pv.ImageData(dimensions=(1, 1, 1))
        self.strip_mapper = vtkImageMapper()
        self.strip_mapper.SetInputData(self.strip_image)
        self.strip_mapper.SetColorWindow(255.0)
        self.strip_mapper.SetColorLevel(127.5)
        self.strip_actor = vtkActor2D()
        self.strip_actor.SetMapper(self.strip_mapper)
        self.strip_actor.SetVisibility(False)
        plotter.add_actor(self.strip_actor, reset_camera=False, name="panel:strip", pickable=False, render=False)
        self.strip_hi = self._text(13)
        self.strip_hi.prop.justification_horizontal = "right"
        self.highlight: Any = None
        self._grid: tuple[Any, np.ndarray, tuple[int, int]] | None = None  # map, values shown, size

    def _text(self, font_900p: float, *, bold: bool = False) -> pv.Text:
        text = pv.Text(text="", position=(0, 0))
        prop = text.prop
        prop.color = rgb01(TEXT_COLOR)
        prop.font_size = max(8, round(font_900p * self.plotter.window_size[1] / 900))
        font = font_file()
        if font:
            prop.set_font_file(font)
        prop.bold = bold
        prop.justification_vertical = "top"
        text.SetVisibility(False)
        self.plotter.add_actor(text, reset_camera=False, name=f"panel:text{id(text)}", pickable=False, render=False)
        return text

    @property
    def visible(self) -> bool:
        return self.node_id is not None

    def contains(self, x: float, _y: float = 0.0) -> bool:
        """Whether display pixel x falls on the panel while it is open."""
        return self.visible and x >= self.x0

    def actors_2d(self) -> list[Any]:
        """Its overlay actors, bottom first (a window re-adds them over a rebuilt scene)."""
        return [self.background, self.grid_actor, self.strip_actor, self.title, self.body, self.strip, self.strip_hi]

    def open(self, actors: SceneActors, block: int, *, explanation: str | None = None, hint: str = "") -> None:
        """Show block ``block`` of ``actors.scene``: name, type, shape, numbers, its channels enlarged
        (when the scene has its feature map) and ``explanation``; outline it in the 3-D view."""
        scene = actors.scene
        blocks = scene.blocks
        self.node_id = blocks.node_ids[block]
        width, height = self.plotter.window_size
        m = self.margin
        inner = width - self.x0 - 2 * m
        chars = max(16, int(inner / (0.55 * self.body.prop.font_size)))
        lines = actors.block_info(block).splitlines()
        self.title.SetInput("\n".join(textwrap.wrap(lines[0], max(12, int(chars * 0.7)))))
        body = [line for line in lines[1:] if not line.startswith("flags:")]
        flags = blocks.flags[block] if block < len(blocks.flags) else ()
        if flags:
            body.append("flags: " + ", ".join(f"{f} ({MEANINGS[f]})" for f in flags))
        fm = next((f for f in scene.feature_maps if f.node_id == self.node_id), None)
        if fm is None:
            body += ["", hint or "no activations in this scene"]
        else:
            body += ["", _shown(fm)]
        wrapped = [w for line in body for w in (textwrap.wrap(line, chars, subsequent_indent="  ") or [""])]
        if explanation:  # what it computes first: the sentence a teacher reads out
            wrapped = [*textwrap.wrap(explanation, chars), "", *wrapped]
        self.body.SetInput("\n".join(wrapped))
        y = height - m
        self.title.SetPosition(self.x0 + m, y)
        y -= _text_height(self.title, self.plotter) + m // 2
        self.body.SetPosition(self.x0 + m, y)
        y -= _text_height(self.body, self.plotter) + m
        for actor in (self.title, self.body, self.background):
            actor.SetVisibility(True)
        for actor in (self.grid_actor, self.strip_actor, self.strip, self.strip_hi):
            actor.SetVisibility(False)
        self._grid = None
        if fm is not None:
            self._show_grid(actors, fm, y, inner)
        self._outline(blocks.lower[block], blocks.upper[block], height)

    def _show_grid(self, actors: SceneActors, fm: Any, top: float, inner: int) -> None:
        m = self.margin
        strip_h = max(6, round(inner / 24))
        label_h = self.strip.prop.font_size * 1.6
        room = int(top - m - strip_h - label_h - m)
        if room < 16:
            return
        values = actors.feature_values(fm.node_id)
        assert values is not None  # fm is one of the scene's feature maps, so the actors hold its values
        self._grid = (fm, values, (inner, room))
        image = channel_grid_image(values, fm.clim, actors.lut, (inner, room))
        _set_image(self.grid_image, image)
        self.grid_actor.SetPosition(self.x0 + m, top - image.shape[0])
        self.grid_actor.SetVisibility(True)
        strip = np.repeat(actors.lut[None, :, :], strip_h, axis=0)
        strip = strip[:, np.minimum((np.arange(inner) * 256 / inner).astype(int), 255)]
        _set_image(self.strip_image, strip)
        strip_y = top - image.shape[0] - m - strip_h
        self.strip_actor.SetPosition(self.x0 + m, strip_y)
        self.strip_actor.SetVisibility(True)
        lo, hi = fm.clim
        self.strip.SetInput(f"{lo:.3g}")
        self.strip.SetPosition(self.x0 + m, strip_y - 2)
        self.strip_hi.SetInput(f"{hi:.3g}")
        self.strip_hi.SetPosition(self.x0 + m + inner, strip_y - 2)
        for actor in (self.strip, self.strip_hi):
            actor.SetVisibility(True)

    def refresh(self, actors: SceneActors) -> None:
        """Redraw the channel grid if the block's feature map shows other values now (a recording
        window moved to another epoch); cheap when nothing changed, so it can run before every frame."""
        if self.node_id is None or self._grid is None:
            return
        fm, shown, max_size = self._grid
        values = actors.feature_values(fm.node_id)
        if values is None or values is shown:
            return
        self._grid = (fm, values, max_size)
        _set_image(self.grid_image, channel_grid_image(values, fm.clim, actors.lut, max_size))

    def _outline(self, lower: np.ndarray, upper: np.ndarray, height: int) -> None:
        pad = 0.04 * (upper - lower) + 0.02
        mesh = box_outlines_mesh(
            (lower - pad)[None], (upper + pad)[None], np.array([HIGHLIGHT_RGB], np.uint8), np.array([0])
        )
        self.highlight = self.plotter.add_mesh(
            mesh,
            scalars="rgb",
            rgb=True,
            show_scalar_bar=False,
            lighting=False,
            pickable=False,
            line_width=max(2.0, 4.0 * height / 1080),
            name="panel:highlight",
            reset_camera=False,
            render=False,
        )

    def close(self) -> None:
        """Hide the panel and the highlight."""
        self.node_id = None
        self._grid = None
        for actor in self.actors_2d():
            actor.SetVisibility(False)
        if self.highlight is not None:
            self.plotter.remove_actor("panel:highlight", reset_camera=False, render=False)
            self.highlight = None


def text_box(text: pv.Text, renderer: Any) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) display pixels (y up) that ``text`` covers: VTK gives its box relative to the
    actor's position, justification applied."""
    box = [0.0] * 4
    text.GetBoundingBox(renderer, box)
    x, y = text.GetPosition()
    return box[0] + x, box[1] + x, box[2] + y, box[3] + y


def _text_height(text: pv.Text, plotter: pv.Plotter) -> float:
    x0, x1, y0, y1 = text_box(text, plotter.renderer)
    return y1 - y0


def _set_image(image: pv.ImageData, rgb: np.ndarray) -> None:
    """Replace ``image``'s pixels by ``rgb`` (rows top first, as numpy shows it)."""
    h, w, _ = rgb.shape
    image.dimensions = (w, h, 1)
    image.point_data["rgb"] = np.ascontiguousarray(rgb[::-1]).reshape(-1, 3)
    image.point_data.active_scalars_name = "rgb"
    image.Modified()


def _rectangle(
    plotter: pv.Plotter,
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    fill: tuple[int, int, int],
    border: tuple[int, int, int],
) -> vtkActor2D:
    """A filled display-pixel rectangle with a one-pixel left border line, hidden."""
    points = vtkPoints()
    for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0), (x0 + 1, y0), (x0 + 1, y1), (x0, y1)):
        points.InsertNextPoint(x, y, 0)
    cells = vtkCellArray()
    for quad in ((0, 1, 2, 3), (4, 5, 6, 7)):
        cells.InsertNextCell(4, quad)
    poly = vtkPolyData()
    poly.SetPoints(points)
    poly.SetPolys(cells)
    colors = pv.convert_array(np.array([fill, border], dtype=np.uint8))
    colors.SetName("rgb")
    poly.GetCellData().SetScalars(colors)
    mapper = vtkPolyDataMapper2D()
    mapper.SetInputData(poly)
    mapper.SetColorModeToDirectScalars()
    actor = vtkActor2D()
    actor.SetMapper(mapper)
    actor.SetVisibility(False)
    plotter.add_actor(actor, reset_camera=False, name="panel:background", pickable=False, render=False)
    return actor
