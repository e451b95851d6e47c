"""Health-flag marks: a red outline around each flagged block and a red badge with the flag words.

Both are drawn in the plotter itself, so a PNG, the window and every MP4 frame show them; a scene
with no flagged block (``scene.blocks.flags`` all empty) gets no actor at all. The badge sits on the
bottom front edge of its block, over the geometry, so a small or distant flagged block is still
unmissable. Badges are one textured mesh like the block labels (rasterised once: point labels with
a box cost ~0.5 ms a badge every frame on CPU GL).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyvista as pv

from render3d.rendering.labels import (
    _pack_atlas,
    add_overlay_mesh,
    labels_mesh,
    rasterise_texts,
    text_property,
    tile_coords,
)
from render3d.rendering.meshes import box_outlines_mesh
from render3d.scene.camera import camera_basis, project, world_per_px
from render3d.scene.flags import FLAG_RGB
from render3d.scene.labels import text_width
from render3d.scene.model import Camera, Scene

__all__ = ["add_flag_marks"]

#: the outline stands this fraction of the block's largest side off its faces (no z-fighting with edges)
OUTLINE_PAD = 0.04
#: pixels kept clear between a badge and the image's right edge
PAD_PX = 6.0
BOLD_WIDTH = 1.15  # bold DejaVu Sans is this much wider than the regular advance widths labels measure
BADGE_FONT_PX = 16  # at a 1080-pixel-high image


def add_flag_marks(plotter: pv.Plotter, scene: Scene, scale: float) -> list[Any]:
    """Add the outline and badge actors for the flagged blocks of ``scene``; ``scale`` is the image
    height / 1080. Returns the actors added (none for a healthy scene)."""
    blocks = scene.blocks
    idx = np.array([i for i, flags in enumerate(blocks.flags) if flags], dtype=np.int64)
    if not len(idx):
        return []
    lower, upper = blocks.lower[idx], blocks.upper[idx]
    pad = OUTLINE_PAD * (upper - lower).max(axis=1, keepdims=True)
    colors = np.tile(np.asarray(FLAG_RGB, dtype=np.uint8), (len(idx), 1))
    outline = plotter.add_mesh(
        box_outlines_mesh(lower - pad, upper + pad, colors, idx),
        scalars="rgb",
        rgb=True,
        show_scalar_bar=False,
        lighting=False,
        line_width=max(2.0, 4.0 * scale),
        pickable=False,
        name="flags:outline",
        reset_camera=False,
        render=False,
    )
    anchors = np.column_stack([blocks.centers[idx, 0], lower[:, 1], upper[:, 2]])  # bottom front edge
    texts = [" ".join(blocks.flags[i]) for i in idx]
    font_px = max(9, round(BADGE_FONT_PX * scale))
    margin = max(1, round(3 * scale))
    anchors = _inside_frame(scene, anchors, texts, font_px + 0.0, margin)
    return [outline, _add_badges(plotter, scene.camera, anchors, texts, font_px, margin)]


def _add_badges(
    plotter: pv.Plotter, camera: Camera, anchors: np.ndarray, texts: list[str], font_px: int, margin: int
) -> Any:
    """White bold text on a flag-red box ``margin`` pixels wider than the text each side, one quad per
    badge facing the camera, the text starting at its anchor."""
    prop = text_property(None, font_px)
    prop.BoldOn()
    ink = rasterise_texts(prop, texts)
    tiles = []
    for cover in ink:
        tile = np.empty((cover.shape[0] + 2 * margin, cover.shape[1] + 2 * margin, 4), dtype=np.uint8)
        tile[...] = (*FLAG_RGB, 255)
        a = cover[..., None].astype(np.float32) / 255.0
        red = np.asarray(FLAG_RGB, dtype=np.float32)
        tile[margin:-margin, margin:-margin, :3] = np.round(red + (255.0 - red) * a).astype(np.uint8)
        tiles.append(tile)
    # one channel at a time: the packing depends only on the tiles' shapes, so every channel lands alike
    packed = [_pack_atlas([t[..., c] for t in tiles], 2) for c in range(4)]
    rgba, origin = np.stack([atlas for atlas, _ in packed], axis=-1), packed[0][1]
    tile_hw = np.array([t.shape[:2] for t in tiles], dtype=float)
    offset = (-1.0 - margin, -1.0 - margin)  # where the point label's box began
    mesh = labels_mesh(anchors, tile_hw[:, ::-1], camera, plotter.window_size, offset_px=offset)
    mesh.active_texture_coordinates = tile_coords(origin, tile_hw, rgba.shape)
    return add_overlay_mesh(plotter, mesh, rgba, "flags:badges")


def _inside_frame(scene: Scene, anchors: np.ndarray, texts: list[str], font_px: float, margin: int) -> np.ndarray:
    """``anchors`` moved left along the screen where a badge starting there would run off the image's
    right edge (a flagged output layer is often the right-most block)."""
    width, height = scene.size
    px = project(scene, anchors, scene.size)
    badge_px = np.array([BOLD_WIDTH * text_width(t, font_px) + 2 * margin for t in texts])
    shift = np.clip(px[:, 0] + badge_px - (width - PAD_PX), 0.0, None)
    shift[~np.isfinite(shift)] = 0.0
    right = camera_basis(scene.camera)[1]
    return anchors - right * (shift * world_per_px(scene.camera, anchors, height))[:, None]
