"""An :class:`~render3d.scene.explain.ExplainerScene` on a plotter, stepped frame by frame.

:class:`ExplainerView` draws the fixed part once (planes as textured quads with nearest sampling,
cell grid lines, plane labels, title, colour bar) and :meth:`ExplainerView.show` changes only what a
frame changes: plane textures in place (reveal, new values), the boxes (kernel prism, lit cell,
bars, receptive-field rectangles), the connector lines, the caption and the operands card. It can
own an offscreen plotter (videos, stills) or draw into a given one (the interactive window).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyvista as pv

from render3d.limits import check_size
from render3d.rendering.actors import colour_bar
from render3d.rendering.glcheck import gl_max_size
from render3d.rendering.labels import TEXT_COLOR, font_file, rgb01
from render3d.rendering.meshes import (
    box_outlines_mesh,
    boxes_mesh,
    colormap_lut,
    polylines_mesh,
    tiled_planes_mesh,
    values_rgb,
)
from render3d.scene.explain import Box, ExplainerScene, Frame, Plane, frame_values

__all__ = ["ExplainerView", "explain_frames"]

BLANK_RGB = (232, 232, 232)  # cells not computed yet
GRID_RGB = (190, 190, 190)
FRAME_RGB = (90, 90, 90)
CARD_RGB = (40, 40, 40)
LINE_RGB = (120, 120, 120)
#: meshes drawn over the planes (the kernel prism runs through a stack of opaque planes): their vertices
#: are moved to the near plane, as the block labels are
ON_TOP = ("explain:glass", "explain:outlines", "explain:rays")
_ON_TOP_VS = "//VTK::CustomEnd::Impl\n  gl_Position.z = -0.999999 * gl_Position.w;\n"


def _mono_font() -> str | None:
    """DejaVuSansMono beside matplotlib's DejaVuSans: the card's columns of numbers line up."""
    sans = font_file()
    if sans is None:
        return None
    mono = Path(sans).with_name("DejaVuSansMono.ttf")
    return str(mono) if mono.is_file() else sans


def _text(
    plotter: pv.Plotter,
    text: str,
    at: tuple[float, float],
    size: int,
    *,
    font: str | None,
    anchor: tuple[str, str],
    name: str,
) -> pv.Text:
    """A 2-D text at display pixel ``at``, which is its ``anchor`` (vertical, horizontal), e.g.
    ``("top", "right")``: its top right corner."""
    actor = pv.Text(text=text, position=at)
    prop = actor.prop
    prop.color = rgb01(TEXT_COLOR)
    prop.font_size = size
    if font:
        prop.set_font_file(font)
    prop.justification_vertical, prop.justification_horizontal = anchor
    plotter.add_actor(actor, reset_camera=False, name=name, pickable=False, render=False)
    return actor


def _boxes_mesh(boxes: list[Box], build: Callable[..., pv.PolyData]) -> pv.PolyData:
    """``boxes`` as one mesh made by ``build`` (:func:`boxes_mesh` or :func:`box_outlines_mesh`), each in
    its colour; an empty mesh for none."""
    if not boxes:
        return pv.PolyData()
    return build(
        np.array([b.lower for b in boxes]).reshape(-1, 3),
        np.array([b.upper for b in boxes]).reshape(-1, 3),
        np.array([b.rgb for b in boxes], dtype=np.uint8).reshape(-1, 3),
        np.zeros(len(boxes), dtype=np.int64),
    )


def _grid_lines(p: Plane) -> list[np.ndarray]:
    h, w = p.values.shape
    ox, oy, oz = p.origin
    sx, sy = p.size
    z = oz + 1e-3 * max(sx, sy)
    lines = [np.array([[ox + sx * i / w, oy, z], [ox + sx * i / w, oy + sy, z]]) for i in range(1, w)]
    lines += [np.array([[ox, oy + sy * j / h, z], [ox + sx, oy + sy * j / h, z]]) for j in range(1, h)]
    return lines


def _frame_lines(p: Plane) -> np.ndarray:
    ox, oy, oz = p.origin
    sx, sy = p.size
    z = oz + 2e-3 * max(sx, sy)
    return np.array([[ox, oy, z], [ox + sx, oy, z], [ox + sx, oy + sy, z], [ox, oy + sy, z], [ox, oy, z]])


def _offscreen_plotter(size: tuple[int, int]) -> pv.Plotter:
    """An offscreen plotter of ``size`` (checked against what the GPU can draw), white, no lights or
    anti-aliasing (the house style of stills)."""
    width, height = check_size(size, max_side=gl_max_size())
    plotter = pv.Plotter(off_screen=True, window_size=(width, height), lighting="none")
    plotter.disable_anti_aliasing()
    plotter.set_background("white")
    return plotter


class ExplainerView:
    """An explainer scene drawn on a plotter; :meth:`show` (k) displays frame ``k``.

    ``plotter=None`` makes an offscreen plotter of ``size`` owned by the view (closed by :meth:`close`);
    a given plotter (a window) is drawn into as it is, and :meth:`close` only removes what was added.
    """

    def __init__(
        self, scene: ExplainerScene, *, size: tuple[int, int] = (1280, 720), plotter: pv.Plotter | None = None
    ) -> None:
        self.scene = scene
        self.own = plotter is None
        self.plotter = _offscreen_plotter(size) if plotter is None else plotter
        self.scale = self.plotter.window_size[1] / 720
        self._names: list[str] = []
        self._lut = colormap_lut(scene.cmap)
        self._images: dict[str, pv.ImageData] = {}
        self._dynamic: dict[str, pv.PolyData] = {}
        self.position = -1
        self._add_planes()
        self.title_actor, self.caption_actor, self.card_actor = self._add_texts()
        self._scalar_bar(self.plotter.window_size[0], round(14 * self.scale))
        self._set_camera()
        self._place_labels(font_file())

    def _add_planes(self) -> None:
        """The planes as textures, their cell grid lines and their frames."""
        planes = self.scene.planes
        for p in planes:
            self._add_plane(p)
        grid = [ln for p in planes if p.grid_lines for ln in _grid_lines(p)]
        if grid:
            self._add("explain:grid", polylines_mesh(grid), color=rgb01(GRID_RGB), line_width=1.0)
        self._add(
            "explain:frames",
            polylines_mesh([_frame_lines(p) for p in planes]),
            color=rgb01(FRAME_RGB),
            line_width=max(1.0, 1.5 * self.scale),
        )

    def _add_texts(self) -> tuple[pv.Text, pv.Text, pv.Text]:
        """The title (top left), the caption (bottom left, empty until a frame is shown) and the operands
        card (top right, in the monospaced font so its columns line up)."""
        width, height = self.plotter.window_size
        font = font_file()
        m = round(14 * self.scale)
        title = self._text(
            self.scene.title,
            (m, height - m),
            max(10, round(20 * self.scale)),
            font=font,
            anchor=("top", "left"),
            name="explain:title",
        )
        caption = self._text(
            "",
            (m, m + round(8 * self.scale)),
            max(9, round(17 * self.scale)),
            font=font,
            anchor=("bottom", "left"),
            name="explain:caption",
        )
        card = self._text(
            "",
            (width - m, height - round(52 * self.scale)),
            max(8, round(15 * self.scale)),
            font=_mono_font(),
            anchor=("top", "right"),
            name="explain:card",
        )
        return title, caption, card

    def _set_camera(self) -> None:
        """The scene's fixed camera (30° view angle, as the scene fitted it for)."""
        plotter = self.plotter
        cam = self.scene.camera
        plotter.camera_position = [cam[0], cam[1], cam[2]]
        plotter.camera.view_angle = 30.0
        plotter.renderer.ResetCameraClippingRange()
        first = getattr(plotter, "_on_first_render_request", None)
        if first is not None:
            first()

    def _place_labels(self, font: str | None) -> None:
        """Plane labels as 2-D text centred on their anchors' screen positions (the camera is fixed;
        VTK's point-label placement would drop labels whose boxes touch)."""
        ren = self.plotter.renderer
        size = max(9, round(15 * self.scale))
        for i, (pos, text) in enumerate(self.scene.labels):
            ren.SetWorldPoint(*pos, 1.0)
            ren.WorldToDisplay()
            x, y, _ = ren.GetDisplayPoint()
            self._text(text, (x, y), size, font=font, anchor=("bottom", "center"), name=f"explain:label{i}")

    # -- building -----------------------------------------------------------------------------------
    def _add(self, name: str, mesh: pv.PolyData, **kw: Any) -> Any:
        self._names.append(name)
        return self.plotter.add_mesh(
            mesh, name=name, lighting=False, pickable=False, reset_camera=False, render=False, **kw
        )

    def _text(self, *args: Any, name: str, **kw: Any) -> pv.Text:
        self._names.append(name)
        return _text(self.plotter, *args, name=name, **kw)

    def _rgb(self, values: np.ndarray, clim: tuple[float, float] | None = None) -> np.ndarray:
        rgb = values_rgb(values, clim or self.scene.clim, self._lut)
        rgb[np.isnan(values)] = BLANK_RGB  # an explainer's NaN is a cell not shown yet
        return rgb

    def _add_plane(self, p: Plane) -> None:
        values = frame_values(p, self.scene.frames[0]) if self.scene.frames else p.values
        h, w = values.shape
        mesh = tiled_planes_mesh(np.asarray(p.origin), np.asarray(p.size), 0.0, 1, (1, 1))
        image = pv.ImageData(dimensions=(w, h, 1))
        image.point_data["rgb"] = self._rgb(values, p.clim)[::-1].reshape(-1, 3)
        texture = pv.Texture(image)
        texture.interpolate = False
        texture.repeat = False
        self._add(f"explain:plane:{p.key}", mesh, texture=texture)
        self._images[p.key] = image

    def _scalar_bar(self, width: int, margin: int) -> None:
        label = max(8, round(13 * self.scale))
        bar_w, bar_h = round(260 * self.scale), round(50 * self.scale)
        x0, y0 = width - 3 * margin - bar_w, margin + round(60 * self.scale)
        bar = colour_bar(
            pv.LookupTable(cmap=self.scene.cmap, scalar_range=self.scene.clim),
            labels=3,
            label_format="%.3g",
            label_size=label,
            box=(x0, y0, x0 + bar_w, y0 + bar_h),
        )
        font = font_file()
        self._names.append("explain:colorbar")
        self.plotter.add_actor(bar, reset_camera=False, name="explain:colorbar", pickable=False, render=False)
        self._text(
            self.scene.colorbar_title,
            (x0 + bar_w / 2, y0 - round(3 * self.scale)),
            label,
            font=font,
            anchor=("top", "center"),
            name="explain:colorbar-title",
        )

    def _set_mesh(self, name: str, mesh: pv.PolyData, **kw: Any) -> None:
        """Replace the mesh drawn under ``name`` (in place once it exists: no new actor per frame)."""
        held = self._dynamic.get(name)
        if held is None:
            if mesh.n_points == 0:
                return
            self._dynamic[name] = mesh
            actor = self._add(name, mesh, **kw)
            if name in ON_TOP:
                actor.GetShaderProperty().AddVertexShaderReplacement("//VTK::CustomEnd::Impl", True, _ON_TOP_VS, False)
        else:
            held.copy_from(mesh if mesh.n_points else pv.PolyData())
            held.Modified()

    # -- frames ----------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.scene.frames)

    def show(self, k: int) -> None:
        """Display frame ``k`` (0 .. len - 1)."""
        frame: Frame = self.scene.frames[k]
        for p in self.scene.planes:
            if p.key in frame.reveal or p.key in frame.values:
                image = self._images[p.key]
                image.point_data["rgb"][:] = self._rgb(frame_values(p, frame), p.clim)[::-1].reshape(-1, 3)
                image.Modified()
        self._show_boxes(frame.boxes)
        lines = polylines_mesh([np.array([a, b]) for a, b in frame.lines]) if frame.lines else pv.PolyData()
        self._set_mesh("explain:rays", lines, color=rgb01(LINE_RGB), line_width=max(1.0, 1.5 * self.scale))
        self.caption_actor.SetInput(frame.caption)
        rows = frame.card.split("\n")
        width = max(len(ln) for ln in rows)
        self.card_actor.SetInput("\n".join(ln.ljust(width) for ln in rows))  # right-aligned as one block
        self.position = k

    def _show_boxes(self, boxes: list[Box]) -> None:
        """The frame's boxes as three meshes: opaque fills, glass (drawn over the planes) and outlines."""
        fills = [b for b in boxes if not b.outline and b.opacity >= 1.0]
        glass = [b for b in boxes if not b.outline and b.opacity < 1.0]
        opacity = min((b.opacity for b in fills), default=1.0)
        self._set_mesh("explain:solid", _boxes_mesh(fills, boxes_mesh), scalars="rgb", rgb=True, opacity=opacity)
        self._set_mesh("explain:glass", _boxes_mesh(glass, boxes_mesh), scalars="rgb", rgb=True, opacity=0.35)
        edges = _boxes_mesh([b for b in boxes if b.outline], box_outlines_mesh)
        self._set_mesh("explain:outlines", edges, scalars="rgb", rgb=True, line_width=max(1.5, 3 * self.scale))

    def image(self) -> np.ndarray:
        """Render and read back the current frame, (H, W, 3) uint8."""
        self.plotter.render()
        return self.plotter.screenshot(None, return_img=True)

    def close(self) -> None:
        """Close an owned plotter; on a given one, remove every actor this view added."""
        if self.own:
            self.plotter.close()
            return
        for name in self._names:
            self.plotter.remove_actor(name, render=False)


def explain_frames(view: ExplainerView, frames: range | None = None) -> Iterator[np.ndarray]:
    """The view's frames (default all) as (H, W, 3) uint8 images."""
    for k in frames if frames is not None else range(len(view)):
        view.show(k)
        yield view.image()
