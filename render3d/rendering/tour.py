"""Drawing a tour (:mod:`render3d.scene.tour`): the scene's plotter plus the tour's own overlays.

On top of :func:`~render3d.rendering.actors.build_plotter`'s scene: a caption box bottom left (the
stop's title line and its narration, wrapped, on a white panel so it reads over the model), and top
right an inset with the current block's channels enlarged, each plane its own tile, on the scene's
colour scale. The current block keeps its colour and its feature maps; the others are washed towards
white and their maps faded, blending over the camera's travel to the stop.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
from vtkmodules.vtkRenderingCore import vtkActor, vtkActor2D, vtkImageMapper, vtkPolyDataMapper, vtkRenderer

from render3d.rendering.actors import atlas_grid, build_plotter
from render3d.rendering.labels import TEXT_COLOR, font_file, rgb01
from render3d.rendering.meshes import values_rgb
from render3d.scene.model import Camera, FeatureMap, Scene
from render3d.scene.tour import LINE_HEIGHT, Layout, Tour, wrap_caption

__all__ = ["TourView", "inset_image"]

DIM_WASH = 0.78  # other blocks: their colour this far towards white
DIM_OPACITY = 0.18  # other blocks' feature maps
PANEL_OPACITY = 0.88
GAP_PX = 4  # white gap between the inset's tiles
OUTLINE_COLOR = (20, 20, 20)  # the frame drawn around the current block
INSET_FONT = 0.62  # the inset's title, as a fraction of the caption font
OUTLINE_PAD = 0.03  # how far the frame stands off the block, as a fraction of its size


def inset_image(fm: FeatureMap, lut: np.ndarray, side: int) -> np.ndarray:
    """(H, W, 3) uint8, H and W at most ``side``: the map's channels (or its bar cells) as a grid of
    tiles, nearest-neighbour enlarged to fill the square, white between them."""
    values = np.asarray(fm.values, dtype=np.float32)
    if fm.style == "bars":  # a vector: its cells row by row in a near-square grid
        flat = values.reshape(-1)
        rows, cols = atlas_grid(flat.size)
        tiles = np.full(rows * cols, np.nan, dtype=np.float32)
        tiles[: flat.size] = flat
        values = tiles.reshape(1, rows, cols)
        blank = np.zeros((rows, cols), dtype=bool).reshape(-1)
        blank[flat.size :] = True
        blanks = [blank.reshape(rows, cols)]
    else:
        values = values.reshape((-1, *values.shape[-2:]))
        blanks = [np.zeros(values.shape[1:], dtype=bool)] * len(values)
    k, h, w = values.shape
    rows, cols = atlas_grid(k)
    cell = max(1, min((side - GAP_PX * (cols - 1)) // cols, (side - GAP_PX * (rows - 1)) // rows))
    scale = cell / max(h, w)
    th, tw = max(1, int(h * scale)), max(1, int(w * scale))
    used_h, used_w = rows * th + GAP_PX * (rows - 1), cols * tw + GAP_PX * (cols - 1)
    out = np.full((used_h, used_w, 3), 255, dtype=np.uint8)
    top = left = 0
    ys, xs = np.arange(th) * h // th, np.arange(tw) * w // tw
    for i in range(k):
        rgb = values_rgb(values[i], fm.clim, lut)
        rgb[blanks[i]] = 255
        r, c = divmod(i, cols)
        y0, x0 = top + r * (th + GAP_PX), left + c * (tw + GAP_PX)
        out[y0 : y0 + th, x0 : x0 + tw] = rgb[ys][:, xs]
    return out


class TourView:
    """A plotter drawing ``scene`` with the tour's caption, inset and highlight; :meth:`draw` shows one
    frame of ``tour`` and returns its pixels."""

    def __init__(self, scene: Scene, tour: Tour, *, off_screen: bool = True) -> None:
        self.scene, self.tour = scene, tour
        self.layout = Layout.for_scene(scene)
        # one actor per feature map: the highlight dims every map but the stop's own (_blend)
        self.plotter, self.actors = build_plotter(scene, off_screen=off_screen, separate_maps=True)
        self.base = np.asarray(scene.blocks.colors, dtype=np.float32)
        self._highlight: tuple[int | None, int | None] | None = None  # (from, to) stop blocks now blended
        self._shown_stop: int | None = None
        self.caption = self._panel_text()
        self.inset_actor, self.inset_mapper = self._inset_actor()
        self.inset_caption = self._small_text()
        self.outline, self.outline_actor, self.marker, self.marker_actor = self._front_layer()

    # --- overlays ----------------------------------------------------------------------------------
    def _panel_text(self) -> pv.Text:
        x0, _, _, y1 = self.layout.caption
        actor = pv.Text(text="", position=(x0, self.layout.size[1] - y1))
        prop = actor.prop
        prop.color = rgb01(TEXT_COLOR)
        prop.font_size = round(self.layout.font_px)
        if font_file():
            prop.set_font_file(font_file())
        prop.background_color = (1.0, 1.0, 1.0)
        prop.background_opacity = PANEL_OPACITY
        prop.frame = True
        prop.frame_color = (0.75, 0.75, 0.75)
        prop.line_spacing = LINE_HEIGHT
        self.plotter.add_actor(actor, reset_camera=False, name="tour-caption", pickable=False, render=False)
        return actor

    def _small_text(self) -> pv.Text:
        x0, y0, x1, _ = self.layout.inset
        actor = pv.Text(text="", position=(x0, self.layout.size[1] - y0 + 4))
        prop = actor.prop
        prop.color = rgb01(TEXT_COLOR)
        prop.font_size = max(9, round(INSET_FONT * self.layout.font_px))
        if font_file():
            prop.set_font_file(font_file())
        prop.background_color = (1.0, 1.0, 1.0)  # readable over the skip arcs behind it
        prop.background_opacity = PANEL_OPACITY
        self.plotter.add_actor(actor, reset_camera=False, name="tour-inset-title", pickable=False, render=False)
        return actor

    def _inset_actor(self) -> tuple[vtkActor2D, vtkImageMapper]:
        mapper = vtkImageMapper()
        mapper.SetColorWindow(255)
        mapper.SetColorLevel(127.5)
        actor = vtkActor2D()
        actor.SetMapper(mapper)
        actor.SetVisibility(False)
        self.plotter.add_actor(actor, reset_camera=False, name="tour-inset", pickable=False, render=False)
        return actor, mapper

    def _set_inset(self, block: int | None, title: str) -> None:
        fm = None
        if block is not None:
            bid = self.scene.blocks.node_ids[block]
            fm = next((f for f in self.actors.scene.feature_maps if f.node_id == bid), None)
        if fm is None:
            self.inset_actor.SetVisibility(False)
            self.inset_caption.SetInput("")
            return
        x0, y0, x1, _ = self.layout.inset
        lines, font = wrap_caption(title, INSET_FONT * self.layout.font_px, x1 - x0, max_lines=2)
        self.inset_caption.prop.font_size = round(font)
        self.inset_caption.SetInput("\n".join(lines))
        side = int(x1 - x0)
        rgb = inset_image(fm, self.actors.lut, side)
        image = pv.ImageData(dimensions=(rgb.shape[1], rgb.shape[0], 1))
        image.point_data["rgb"] = rgb[::-1].reshape(-1, 3)  # VTK rows go upwards
        self._inset_image = image
        self.inset_mapper.SetInputData(image)
        self.inset_actor.SetPosition(int(x1 - rgb.shape[1]), int(self.layout.size[1] - y0 - rgb.shape[0]))
        self.inset_actor.SetVisibility(True)

    def _front_layer(self) -> tuple[pv.PolyData, vtkActor, pv.PolyData, vtkActor]:
        """A second renderer drawn over the scene with the same camera, holding the current block's frame
        and, for a block without feature maps (an add or reshape cube), a copy of it: both stay in sight
        when bigger blocks stand between the camera and the block."""
        front = vtkRenderer()
        front.SetLayer(1)
        front.InteractiveOff()
        front.SetActiveCamera(self.plotter.renderer.GetActiveCamera())
        window = self.plotter.render_window
        window.SetNumberOfLayers(max(2, window.GetNumberOfLayers()))
        window.AddRenderer(front)
        self._front = front
        made = []
        for mesh, lines in ((pv.Box().extract_all_edges(), True), (pv.Box(), False)):
            mapper = vtkPolyDataMapper()
            mapper.SetInputData(mesh)
            actor = vtkActor()
            actor.SetMapper(mapper)
            prop = actor.GetProperty()
            prop.SetLighting(False)
            if lines:
                prop.SetColor(*rgb01(OUTLINE_COLOR))
                prop.SetLineWidth(3)
            actor.SetVisibility(False)
            actor.SetPickable(False)
            front.AddActor(actor)
            made += [mesh, actor]
        return made[0], made[1], made[2], made[3]

    def _set_outline(self, block: int | None) -> None:
        """The dark wire frame around the current block, and its solid copy when it has no feature map."""
        if block is None:
            self.outline_actor.SetVisibility(False)
            self.marker_actor.SetVisibility(False)
            return
        blocks = self.scene.blocks
        pad = OUTLINE_PAD * float(np.max(blocks.sizes[block]))
        lo, hi = blocks.lower[block] - pad, blocks.upper[block] + pad
        self.outline.copy_from(pv.Box(bounds=(lo[0], hi[0], lo[1], hi[1], lo[2], hi[2])).extract_all_edges())
        self.outline_actor.SetVisibility(True)
        bid = blocks.node_ids[block]
        bare = not any(fm.block_id == bid for fm in self.scene.feature_maps)
        if bare:
            lo, hi = blocks.lower[block], blocks.upper[block]
            self.marker.copy_from(pv.Box(bounds=(lo[0], hi[0], lo[1], hi[1], lo[2], hi[2])))
            self.marker_actor.GetProperty().SetColor(*rgb01(tuple(int(v) for v in self.base[block])))
        self.marker_actor.SetVisibility(bare)

    def _set_caption(self, heading: str, text: str) -> None:
        x0, y0, x1, _ = self.layout.caption
        lines, font = wrap_caption(text, self.layout.font_px, x1 - x0 - 0.8 * self.layout.font_px)
        self.caption.prop.font_size = round(font)
        self.caption.SetInput("\n".join([heading, *lines]) if heading else "\n".join(lines))

    # --- highlight -----------------------------------------------------------------------------------
    def _colors(self, block: int | None) -> np.ndarray:
        if block is None:
            return self.base
        out = self.base + (255.0 - self.base) * DIM_WASH
        out[block] = self.base[block]
        return out

    def _fade(self, block: int | None) -> dict[str, float]:
        ids = self.scene.blocks.node_ids
        keep = None if block is None else ids[block]
        return {
            k: 1.0 if keep is None or k == keep or k.startswith(f"{keep}:") else DIM_OPACITY
            for k in self.actors.feature_actors
        }

    def _blend(self, a: int | None, b: int | None, t: float) -> None:
        colors = self._colors(a) * (1 - t) + self._colors(b) * t
        self.actors.set_block_colors(np.round(colors).astype(np.uint8))
        fa, fb = self._fade(a), self._fade(b)
        for key, actor in self.actors.feature_actors.items():
            opacity = fa[key] * (1 - t) + fb[key] * t
            prop = actor.GetProperty()
            if abs(prop.GetOpacity() - opacity) > 1e-3:
                prop.SetOpacity(opacity)

    # --- frames --------------------------------------------------------------------------------------
    def _stop_block(self, k: int) -> int | None:
        return self.tour.stops[k].block if 0 <= k < len(self.tour.stops) else None

    def show(self, k: int, blend: float, camera: Camera) -> None:
        """Stop ``k``'s caption, inset and highlight (blended ``blend`` of the way from stop ``k - 1``'s),
        seen through ``camera``. ``k`` = -1 is the intro, ``len(stops)`` the outro."""
        if k != self._shown_stop:
            at_stop = 0 <= k < len(self.tour.stops)
            if at_stop:
                stop = self.tour.stops[k]
                self._set_caption(stop.title, stop.text)
                self._set_inset(stop.block, stop.inset)
            else:
                self._set_caption("", self.tour.intro if k < 0 else self.tour.outro)
                self._set_inset(None, "")
            self._set_outline(self._stop_block(k))
            # close up, world-placed labels grow and run off the image; the caption names the block
            self.actors.set_labels_visible(not at_stop)
            self._shown_stop = k
        pair = (self._stop_block(k - 1), self._stop_block(k))
        if blend < 1.0 or self._highlight != pair:
            self._blend(pair[0], pair[1], blend)
            self._highlight = pair if blend >= 1.0 else None
        self.plotter.camera_position = camera.as_pyvista()
        self.plotter.renderer.ResetCameraClippingRange()  # the front layer shares this camera

    def draw(self, frame: int) -> np.ndarray:
        """Frame ``frame`` of the tour as (H, W, 3) uint8."""
        f = self.tour.frames[frame]
        self.show(f.stop, f.blend, f.camera)
        self.plotter.render()
        return self.plotter.screenshot(None, return_img=True)

    def close(self) -> None:
        self.plotter.close()
