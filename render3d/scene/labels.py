"""Block labels: text, anchors, and screen-space thinning so that no two labels overlap.

A label's position is the lower-left corner of its text (as VTK's point labels draw it), chosen so
that the text is centred over its block, just above the top face. Its pixel box is estimated as
``longest line × 0.6·font_px`` wide and ``lines × 1.25·font_px`` tall (at the style's ``image_size``). With ``labels="auto"`` the labels are placed greedily, main-path
blocks first, then side branches, then glyph ops, left to right; a label that would overlap one
already placed is raised by one text row (staggered) and dropped if it still collides or
leaves the image.
"""

from __future__ import annotations

import math

import numpy as np

from render3d.graph import Node
from render3d.scene.camera import camera_basis, project_points
from render3d.scene.model import Camera, Labels

CHAR_WIDTH = 0.6  # average glyph width / font size
LINE_HEIGHT = 1.25
PAD_PX = 4.0  # the renderer's label margin
STAGGER_ROWS = 2  # try the label at its place, then one text row higher


def display_name(node: Node) -> str:
    """``"layer1.0.conv1#1"`` → ``"layer1.0.conv1"``; ``"relu#5"`` → ``"relu#5"``; ``"input.0"`` → ``"input"``."""
    if node.kind == "input":
        return "input" if node.id.endswith(".0") or node.id == "input" else node.id
    if node.kind == "output":
        return "output"
    base, _, call = node.id.partition("#")
    if node.kind == "function":
        base = base.rsplit(".", 1)[-1]
        # several calls of one op name: keep the index so the labels stay distinct
        return f"{base}#{call}" if call and call != "1" else base
    return f"{base}#{call}" if call and call != "1" else base


def label_box_px(texts: list[str], font_px: float) -> np.ndarray:
    """(N, 2) estimated width and height in pixels of each label."""
    out = np.empty((len(texts), 2))
    for i, t in enumerate(texts):
        lines = t.split("\n")
        out[i] = (max(len(line) for line in lines) * CHAR_WIDTH * font_px, len(lines) * LINE_HEIGHT * font_px)
    return out


def place_labels(
    texts: list[str],
    node_ids: list[str],
    anchors: np.ndarray,
    priority: np.ndarray,
    camera: Camera,
    *,
    size: tuple[int, int],
    font_px: float,
    thin: bool,
) -> Labels:
    """Lift each label half a text height above its ``anchor`` and, if ``thin``, keep (and stagger)
    labels so that their estimated pixel boxes do not overlap; lower ``priority`` is placed first."""
    anchors = np.asarray(anchors, dtype=float).reshape(-1, 3)
    n = len(texts)
    font_1080 = font_px * 1080.0 / size[1]
    if n == 0:
        return Labels(positions=np.zeros((0, 3)), texts=[], node_ids=[], font_px=font_1080)
    boxes = label_box_px(texts, font_px)
    width, height = size
    # world length of one pixel at each anchor, to lift labels by whole text rows
    focal = (height / 2) / math.tan(math.radians(camera.view_angle) / 2)
    cam_pos, right, up, _ = camera_basis(camera)
    world_per_px = np.linalg.norm(anchors - cam_pos, axis=1) / focal
    rows = []
    for k in range(STAGGER_ROWS if thin else 1):
        centre = anchors.copy()
        centre[:, 1] += (boxes[:, 1] / 2 + PAD_PX + k * (boxes[:, 1] + PAD_PX)) * world_per_px
        corner = (centre - right * (boxes[:, :1] / 2 * world_per_px[:, None])
                  - up * (boxes[:, 1:] / 2 * world_per_px[:, None]))
        rows.append((corner, project_points(camera, corner, size)))
    if not thin:
        return Labels(positions=rows[0][0], texts=list(texts), node_ids=list(node_ids), font_px=font_1080)

    cell = max(float(np.median(boxes[:, 0])), 16.0)
    grid: dict[tuple[int, int], list[tuple[float, float, float, float]]] = {}
    keep_pos: dict[int, np.ndarray] = {}
    for i in np.argsort(priority, kind="stable").tolist():
        w, h = boxes[i]
        for cand, px in rows:
            u, v = px[i]
            if not (np.isfinite(u) and np.isfinite(v)):
                break
            x0, x1 = u - PAD_PX, u + w + PAD_PX
            y0, y1 = v - h - PAD_PX, v + PAD_PX
            if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
                continue
            cells = [
                (cx, cy)
                for cx in range(int(x0 // cell), int(x1 // cell) + 1)
                for cy in range(int(y0 // cell), int(y1 // cell) + 1)
            ]
            if any(
                x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for c in cells for b in grid.get(c, ())
            ):
                continue
            for c in cells:
                grid.setdefault(c, []).append((x0, y0, x1, y1))
            keep_pos[i] = cand[i]
            break
    keep = sorted(keep_pos)
    positions = np.array([keep_pos[i] for i in keep]).reshape(-1, 3)
    return Labels(positions=positions, texts=[texts[i] for i in keep], node_ids=[node_ids[i] for i in keep],
                  font_px=font_1080)


def label_pixel_boxes(labels: Labels, camera: Camera, size: tuple[int, int], font_px: float) -> np.ndarray:
    """(N, 4) estimated pixel boxes (x0, y0, x1, y1) of placed labels, for tests and diagnostics."""
    boxes = label_box_px(labels.texts, font_px)
    px = project_points(camera, labels.positions, size)
    return np.column_stack([px[:, 0], px[:, 1] - boxes[:, 1], px[:, 0] + boxes[:, 0], px[:, 1]])
