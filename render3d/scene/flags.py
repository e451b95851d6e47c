"""Health flags on the scene: which blocks get a mark, the legend entries and the note under the title.

A block is flagged with every flag of the trace nodes it stands for (a conv→BN→ReLU block whose ReLU
is dead is a dead block; a ``×6`` block with one exploding member is exploding), so folding never
hides a problem. The flags themselves come from :func:`render3d.health.layer_flags`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from render3d.health import FLAGS, flag_summary, layer_flags
from render3d.scene.camera import camera_basis, project_points, world_per_px
from render3d.scene.labels import label_box_px
from render3d.scene.model import Blocks, Camera

if TYPE_CHECKING:
    from render3d.graph import Trace

#: the marks' colour: a pure red used by no category, colour map or NaN/Inf colour, so it reads as an alarm
FLAG_RGB = (235, 16, 16)

#: the badge's bold text size and its red margin each side, in pixels at a 1080-pixel-high image
BADGE_FONT_PX = 16
BADGE_MARGIN_PX = 3
#: pixels kept clear between a badge and the image's right edge
BADGE_EDGE_PX = 6.0
BOLD_WIDTH = 1.15  # bold DejaVu Sans is this much wider than the regular advance widths labels measure

#: what each flag means, for its legend entry
MEANINGS = {
    "dead": "no signal",
    "nan": "NaN starts here",
    "inf": "±Inf starts here",
    "exploding": ">100× the median layer",
    "saturated": "pinned at limits",
    "constant": "one value",
}


def scene_flags(
    trace: Trace, members: list[tuple[str, ...]]
) -> tuple[list[tuple[str, ...]], list[tuple[str, tuple[int, int, int]]], str]:
    """Flags per block (``members``: the trace node ids each block stands for), one legend entry per
    flag present and the one-line note (``"1 layer dead, 1 nan, 1 exploding"``; empty when healthy)."""
    per_node = layer_flags(trace)
    blocks = [tuple(f for f in FLAGS if any(f in per_node.get(m, ()) for m in ms)) for ms in members]
    present = {f for b in blocks for f in b}
    legend = [(f"{f}: {MEANINGS[f]}", FLAG_RGB) for f in FLAGS if f in present]
    return blocks, legend, flag_summary(per_node)


@dataclass(frozen=True)
class Badges:
    """Where the flag badges go for one camera and image size: the renderer draws them there and the
    label placement keeps every label off them (a flagged block's own name stays readable)."""

    index: np.ndarray  # (N,) the flagged blocks
    anchors: np.ndarray  # (N, 3) lower-left of each badge's text: its block's bottom front edge
    texts: list[str]  # the block's flags, space-separated
    font_px: int
    margin: int  # pixels of red around the text
    boxes: np.ndarray  # (N, 4) screen rectangle of each badge (x0, y0, x1, y1; y down)


def flag_badges(blocks: Blocks, camera: Camera, size: tuple[int, int]) -> Badges:
    """The badges of the flagged ``blocks`` seen by ``camera`` in an image of ``size`` (width, height).

    A badge starts at its block's bottom front edge, over the geometry (a small or distant flagged block
    is still unmissable), and is moved left along the screen where it would run off the image's right
    edge (a flagged output layer is often the right-most block)."""
    index = np.array([i for i, flags in enumerate(blocks.flags) if flags], dtype=np.int64)
    texts = [" ".join(blocks.flags[i]) for i in index]
    scale = size[1] / 1080
    font_px, margin = max(9, round(BADGE_FONT_PX * scale)), max(1, round(BADGE_MARGIN_PX * scale))
    lower, upper = blocks.lower[index], blocks.upper[index]
    anchors = np.column_stack([blocks.centers[index, 0], lower[:, 1], upper[:, 2]]).reshape(-1, 3)
    text_px = label_box_px(texts, font_px).reshape(-1, 2)
    wide, high = BOLD_WIDTH * text_px[:, 0] + 2 * margin, text_px[:, 1] + 2 * margin
    px = project_points(camera, anchors, size).reshape(-1, 2)
    shift = np.clip(px[:, 0] + wide - (size[0] - BADGE_EDGE_PX), 0.0, None)
    shift[~np.isfinite(shift)] = 0.0
    right = camera_basis(camera)[1]
    anchors = anchors - right * (shift * world_per_px(camera, anchors, size[1]))[:, None]
    x0, y1 = px[:, 0] - shift - 1 - margin, px[:, 1] + 1 + margin  # the quad starts a pixel and a margin out
    boxes = np.column_stack([x0, y1 - high, x0 + wide, y1])
    return Badges(index, anchors, texts, font_px, margin, boxes)
