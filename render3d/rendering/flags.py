"""Health-flag marks: a red outline around each flagged block and a red badge with the flag words.

Both are drawn in the plotter itself, so a PNG, the window and every MP4 frame show them; a scene
with no flagged block (``scene.blocks.flags`` all empty) gets no actor at all. The badge sits on the
bottom front edge of its block, over the geometry (label placement draws it as an overlay), so a
small or distant flagged block is still unmissable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyvista as pv

from render3d.rendering.labels import rgb01
from render3d.rendering.meshes import box_outlines_mesh
from render3d.scene.camera import camera_basis, project, world_per_px
from render3d.scene.flags import FLAG_RGB
from render3d.scene.labels import text_width
from render3d.scene.model import Scene

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
    badges = plotter.add_point_labels(
        _inside_frame(scene, anchors, texts, font_px + 0.0, margin),
        texts,
        font_size=font_px,
        bold=True,
        text_color="white",
        shape="rect",
        shape_color=rgb01(FLAG_RGB),
        shape_opacity=1.0,
        fill_shape=True,
        margin=margin,
        show_points=False,
        always_visible=True,
        pickable=False,
        name="flags:badges",
        reset_camera=False,
        render=False,
    )
    return [outline, badges]


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
