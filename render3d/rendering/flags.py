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
from render3d.scene.flags import FLAG_RGB, Badges, flag_badges
from render3d.scene.model import Camera, Scene

__all__ = ["add_flag_marks"]

#: the outline stands this fraction of the block's largest side off its faces (no z-fighting with edges)
OUTLINE_PAD = 0.04


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
    return [outline, _add_badges(plotter, scene.camera, flag_badges(blocks, scene.camera, scene.size))]


def _add_badges(plotter: pv.Plotter, camera: Camera, badges: Badges) -> Any:
    """White bold text on a flag-red box ``badges.margin`` pixels wider than the text each side, one quad
    per badge facing the camera, the text starting at its anchor (where the labels were kept off it)."""
    margin = badges.margin
    prop = text_property(None, badges.font_px)
    prop.BoldOn()
    ink = rasterise_texts(prop, badges.texts)
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
    mesh = labels_mesh(badges.anchors, tile_hw[:, ::-1], camera, plotter.window_size, offset_px=offset)
    mesh.active_texture_coordinates = tile_coords(origin, tile_hw, rgba.shape)
    return add_overlay_mesh(plotter, mesh, rgba, "flags:badges")
