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
#: a badge overlapping the end of another by at most this share of its own width moves right past it
NUDGE_SHARE = 0.25

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
    edge (a flagged output layer is often the right-most block). Badges of neighbouring flagged blocks
    are moved apart, never drawn over one another (:func:`_separated`)."""
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
    x0, y1 = px[:, 0] - shift - 1 - margin, px[:, 1] + 1 + margin  # the quad starts a pixel and a margin out
    boxes = np.column_stack([x0, y1 - high, x0 + wide, y1])
    offset = _separated(boxes, size, gap=max(1, margin))
    offset[~np.isfinite(offset)] = 0.0
    boxes += np.tile(offset, 2)
    _, right, up, _ = camera_basis(camera)
    world = world_per_px(camera, anchors, size[1])[:, None]
    anchors = anchors + right * (offset[:, :1] - shift[:, None]) * world - up * offset[:, 1:] * world  # y runs down
    return Badges(index, anchors, texts, font_px, margin, boxes)


def _separated(boxes: np.ndarray, size: tuple[int, int], gap: float) -> np.ndarray:
    """(N, 2) pixels each badge moves (x to the right, y down the screen) so that no two overlap.

    Left to right: a badge clipping the end of one already placed moves right just past it when that is
    at most :data:`NUDGE_SHARE` of its width and keeps it inside the image (the row stays a row and no
    label loses its place); any other goes under the lowest badge it meets, ``gap`` pixels apart, so
    neighbouring flagged blocks read as a column ("dead constant" twice, not "dead con|dead constant"),
    or above them where below would leave the image."""
    offsets = np.zeros((len(boxes), 2))
    placed: list[np.ndarray] = []
    for i in np.argsort(boxes[:, 0], kind="stable"):
        box = boxes[i]
        moved = _nudged(box, placed, size[0], gap)
        if moved is None:
            moved = _stacked(box, placed, size[1], gap)
        offsets[i] = moved[:2] - box[:2]
        placed.append(moved)
    return offsets


def _nudged(box: np.ndarray, placed: list[np.ndarray], width: int, gap: float) -> np.ndarray | None:
    """``box`` moved right past the badges it meets, or None when that is too far or leaves the image."""
    hit = [p for p in placed if _overlap(box, p, gap)]
    if not hit:
        return box
    dx = max(p[2] for p in hit) + gap - box[0]
    moved = box + np.array([dx, 0.0, dx, 0.0])
    if dx > NUDGE_SHARE * (box[2] - box[0]) or moved[2] > width - BADGE_EDGE_PX:
        return None
    return None if any(_overlap(moved, p, gap) for p in placed) else moved


def _stacked(box: np.ndarray, placed: list[np.ndarray], height: int, gap: float) -> np.ndarray:
    """``box`` moved under the badges it meets (above them where under would leave the image)."""
    for direction in (1.0, -1.0):
        moved = box.copy()
        for _ in range(len(placed)):
            hit = [p for p in placed if _overlap(moved, p, gap)]
            if not hit:
                break
            lowest, highest = max(p[3] for p in hit), min(p[1] for p in hit)
            moved[[1, 3]] += (lowest + gap - moved[1]) if direction > 0 else (highest - gap - moved[3])
        if moved[3] <= height:
            break
    return moved


def _overlap(a: np.ndarray, b: np.ndarray, gap: float) -> bool:
    return bool(a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap)
