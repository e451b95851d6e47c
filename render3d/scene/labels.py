"""Block labels: text boxes, anchors, and screen-space placement so that no two labels overlap.

A label's position is the lower-left corner of its text (as VTK's point labels draw it). Its pixel
box is computed from DejaVu Sans advance widths (the font the renderer uses), measured once against
real renders: a line is ``font_px`` high and the widths below are per em, so a label's estimated box
matches what is drawn to within a pixel or two (``tests/test_render_images.py`` checks this).

With ``labels="auto"`` labels are placed greedily, main-path blocks first, then side branches, then
glyph ops, left to right. Each tries, in order: just above its block, just below it, one text row
higher (all centred on the block), then above and below flush with the block's left edge, then its
right edge; a place is taken only if its box overlaps no label already placed, no other block's screen
box and no 2-D overlay, and stays in the image; otherwise the label is dropped. Fewer, readable
labels beat many overlapping ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from render3d.scene.camera import camera_basis, project_points, world_per_px
from render3d.scene.model import Camera, Labels

#: advance width / font size of DejaVu Sans (the renderer's label font), printable ASCII and a few more
_WIDTHS = {
    " ": 0.318,
    "!": 0.401,
    '"': 0.46,
    "#": 0.838,
    "$": 0.636,
    "%": 0.95,
    "&": 0.78,
    "'": 0.275,
    "(": 0.39,
    ")": 0.39,
    "*": 0.5,
    "+": 0.838,
    ",": 0.318,
    "-": 0.361,
    ".": 0.318,
    "/": 0.337,
    ":": 0.337,
    ";": 0.337,
    "<": 0.838,
    "=": 0.838,
    ">": 0.838,
    "?": 0.531,
    "@": 1.0,
    "A": 0.684,
    "B": 0.686,
    "C": 0.698,
    "D": 0.77,
    "E": 0.632,
    "F": 0.575,
    "G": 0.775,
    "H": 0.752,
    "I": 0.295,
    "J": 0.295,
    "K": 0.656,
    "L": 0.557,
    "M": 0.863,
    "N": 0.748,
    "O": 0.787,
    "P": 0.603,
    "Q": 0.787,
    "R": 0.695,
    "S": 0.635,
    "T": 0.611,
    "U": 0.732,
    "V": 0.684,
    "W": 0.989,
    "X": 0.685,
    "Y": 0.611,
    "Z": 0.685,
    "[": 0.39,
    "\\": 0.337,
    "]": 0.39,
    "^": 0.838,
    "_": 0.5,
    "`": 0.5,
    "a": 0.613,
    "b": 0.635,
    "c": 0.55,
    "d": 0.635,
    "e": 0.615,
    "f": 0.352,
    "g": 0.635,
    "h": 0.634,
    "i": 0.278,
    "j": 0.278,
    "k": 0.579,
    "l": 0.278,
    "m": 0.974,
    "n": 0.634,
    "o": 0.612,
    "p": 0.635,
    "q": 0.635,
    "r": 0.411,
    "s": 0.521,
    "t": 0.392,
    "u": 0.634,
    "v": 0.592,
    "w": 0.818,
    "x": 0.592,
    "y": 0.592,
    "z": 0.525,
    "{": 0.636,
    "|": 0.337,
    "}": 0.636,
    "~": 0.838,
    "×": 0.838,
    "…": 1.0,
    "–": 0.5,
    "·": 0.318,
    "→": 0.838,
}
_WIDTHS.update({str(d): 0.636 for d in range(10)})
DEFAULT_WIDTH = 0.7  # anything not in the table
LINE_HEIGHT = 0.95  # measured line pitch / font size (3 lines of 19 px text: 50 px)
PAD_PX = 4.0  # clear space kept around every label box
MAX_TRIES = 400  # labels tried when thinning, by priority


def text_width(line: str, font_px: float) -> float:
    return sum(_WIDTHS.get(ch, DEFAULT_WIDTH) for ch in line) * font_px


def label_box_px(texts: list[str], font_px: float) -> np.ndarray:
    """(N, 2) width and height in pixels of each label as the renderer draws it."""
    out = np.empty((len(texts), 2))
    for i, t in enumerate(texts):
        lines = t.split("\n")
        out[i] = (max(text_width(line, font_px) for line in lines), len(lines) * LINE_HEIGHT * font_px)
    return out


@dataclass(frozen=True)
class _BlockSpan:
    """Where each label's block is on screen (pixels): the column its labels centre on, the rows just
    above and below it, and the left corners that put a label flush with its left or right edge. The
    anchors' projections come with it, to turn pixels back into world points at the anchors' depth."""

    top_px: np.ndarray
    bottom_px: np.ndarray
    centre_u: np.ndarray
    top_v: np.ndarray
    bottom_v: np.ndarray
    flush_left: np.ndarray
    flush_right: np.ndarray


def _block_span(
    camera: Camera,
    size: tuple[int, int],
    ends: tuple[np.ndarray, np.ndarray],
    widths: np.ndarray,
    own_rect: np.ndarray | None,
) -> _BlockSpan:
    """The blocks' screen spans from the ``ends`` (top and bottom anchors); where ``own_rect`` (N, 4)
    holds a block's whole screen box, that box, so a label clears the block as drawn, not just its anchor."""
    top_px, bottom_px = project_points(camera, ends[0], size), project_points(camera, ends[1], size)
    centre_u = top_px[:, 0].copy()
    top_v, bottom_v = top_px[:, 1].copy(), bottom_px[:, 1].copy()
    rect = np.full((len(widths), 4), np.nan) if own_rect is None else own_rect
    ok = np.isfinite(rect).all(axis=1)
    centre_u[ok] = (rect[ok, 0] + rect[ok, 2]) / 2
    top_v[ok] = np.minimum(top_v[ok], rect[ok, 1])
    bottom_v[ok] = np.maximum(bottom_v[ok], rect[ok, 3])
    flush_left, flush_right = centre_u - widths / 2, centre_u - widths / 2
    flush_left[ok], flush_right[ok] = rect[ok, 0], rect[ok, 2] - widths[ok]
    return _BlockSpan(top_px, bottom_px, centre_u, top_v, bottom_v, flush_left, flush_right)


def _candidate_corners(
    camera: Camera,
    size: tuple[int, int],
    ends: tuple[np.ndarray, np.ndarray],
    boxes: np.ndarray,
    span: _BlockSpan,
    *,
    thin: bool,
) -> list[np.ndarray]:
    """Each label's places, best first, as world points of the text's lower left corner: above its block
    (the only one unless ``thin``), below it, a row higher, then flush left and flush right, above and below."""
    top, bottom = ends

    def corner_at(base: np.ndarray, base_px: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        # the world point at ``base``'s depth that projects to pixel (u, v)
        _, right, up, _ = camera_basis(camera)
        wpp = world_per_px(camera, base, size[1])
        return base + right * ((u - base_px[:, 0]) * wpp)[:, None] + up * ((base_px[:, 1] - v) * wpp)[:, None]

    def above(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return corner_at(top, span.top_px, u, v)

    def under(u: np.ndarray) -> np.ndarray:
        return corner_at(bottom, span.bottom_px, u, span.bottom_v + PAD_PX + boxes[:, 1])

    centred = span.centre_u - boxes[:, 0] / 2
    first = above(centred, span.top_v - PAD_PX)
    if not thin:
        return [first]
    # a small block tucked between big ones (the input plane, a pool) often has room only to one side
    # of its centre: flush with its left or right edge
    out = [first, under(centred), above(centred, span.top_v - 2 * PAD_PX - boxes[:, 1])]
    for x in (span.flush_left, span.flush_right):
        out += [above(x, span.top_v - PAD_PX), under(x)]
    return out


class _Occupied:
    """Pixel rectangles already taken (placed labels, blocks, overlays), bucketed in square cells about
    a label wide so that a test looks only at its neighbours. A rectangle is (x0, y0, x1, y1, owner)."""

    def __init__(self, cell: float) -> None:
        self.cell = cell
        self.grid: dict[tuple[int, int], list[tuple[float, float, float, float, int]]] = {}

    def cells_of(self, x0: float, y0: float, x1: float, y1: float) -> list[tuple[int, int]]:
        cell = self.cell
        return [
            (cx, cy)
            for cx in range(int(x0 // cell), int(x1 // cell) + 1)
            for cy in range(int(y0 // cell), int(y1 // cell) + 1)
        ]

    def add(self, cells: list[tuple[int, int]], rect: tuple[float, float, float, float, int]) -> None:
        for c in cells:
            self.grid.setdefault(c, []).append(rect)

    def hits(self, cells: list[tuple[int, int]], x0: float, y0: float, x1: float, y1: float, own: int) -> bool:
        """Whether the rectangle (in ``cells``) overlaps one taken by anything but obstacle ``own`` (the
        label's block)."""
        return any(
            x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 and b[4] != own
            for c in cells
            for b in self.grid.get(c, ())
        )


def _occupied_by(obstacles: np.ndarray | None, cell: float, size: tuple[int, int]) -> _Occupied:
    """The obstacles (M, 4) as taken rectangles, each owned by its index; empty or infinite ones left out
    and the rest clipped to a cell beyond the image."""
    width, height = size
    taken = _Occupied(cell)
    if obstacles is None:
        return taken
    x0, y0, x1, y1 = obstacles.T
    valid = np.isfinite(obstacles).all(axis=1) & (x1 > x0) & (y1 > y0)
    clipped = np.column_stack(
        [np.maximum(x0, -cell), np.maximum(y0, -cell), np.minimum(x1, width + cell), np.minimum(y1, height + cell)]
    )
    for k in np.flatnonzero(valid).tolist():
        a, b, c, d = clipped[k].tolist()
        taken.add(taken.cells_of(a, b, c, d), (a, b, c, d, k))
    return taken


def _first_free(
    rows: list[tuple[np.ndarray, np.ndarray]],
    boxes: np.ndarray,
    order: list[int],
    own: np.ndarray,
    taken: _Occupied,
    size: tuple[int, int],
) -> dict[int, np.ndarray]:
    """Label index → the world corner of its first place (``rows``: (world corners, pixels) per place)
    inside the image whose padded box is free, labels taken in ``order``; a label with none is left out."""
    width, height = size
    keep_pos: dict[int, np.ndarray] = {}
    sizes = boxes.tolist()
    pixels = [px.tolist() for _, px in rows]  # plain floats: the loop below compares thousands of them
    for i in order:
        w, h = sizes[i]
        for (cand, _), px in zip(rows, pixels):
            u, v = px[i]
            if not (math.isfinite(u) and math.isfinite(v)):
                continue
            x0, x1 = u - PAD_PX, u + w + PAD_PX
            y0, y1 = v - h - PAD_PX, v + PAD_PX
            if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
                continue
            cells = taken.cells_of(x0, y0, x1, y1)
            if taken.hits(cells, x0, y0, x1, y1, int(own[i])):
                continue
            taken.add(cells, (x0, y0, x1, y1, -1))
            keep_pos[i] = cand[i]
            break
    return keep_pos


def place_labels(  # 11 parameters: the builder's one call names each of its per-label arrays
    texts: list[str],
    node_ids: list[str],
    anchors: np.ndarray,
    priority: np.ndarray,
    camera: Camera,
    *,
    size: tuple[int, int],
    font_px: float,
    thin: bool,
    below: np.ndarray | None = None,
    obstacles: np.ndarray | None = None,
    owner: np.ndarray | None = None,
) -> Labels:
    """Place each label just above its ``anchor`` (or under its ``below`` anchor) and, if ``thin``, keep
    only labels whose pixel boxes overlap no other label and none of the ``obstacles`` (M, 4) pixel
    rectangles, except obstacle ``owner[i]`` (the label's own block); lower ``priority`` goes first.

    ``font_px`` is the font size in pixels at ``size``.
    """
    anchors = np.asarray(anchors, dtype=float).reshape(-1, 3)
    n = len(texts)
    font_1080 = font_px * 1080.0 / size[1]
    if n == 0:
        return Labels(positions=np.zeros((0, 3)), texts=[], node_ids=[], font_px=font_1080)
    ends = (anchors, anchors if below is None else np.asarray(below, dtype=float).reshape(-1, 3))
    boxes = label_box_px(texts, font_px)
    own = np.full(n, -2, dtype=np.int64) if owner is None else np.asarray(owner, dtype=np.int64)
    obstacles = None if obstacles is None else np.asarray(obstacles, dtype=float).reshape(-1, 4)
    own_rect = obstacles[own] if obstacles is not None and owner is not None else None
    span = _block_span(camera, size, ends, boxes[:, 0], own_rect)
    candidates = _candidate_corners(camera, size, ends, boxes, span, thin=thin)
    if not thin:
        return Labels(positions=candidates[0], texts=list(texts), node_ids=list(node_ids), font_px=font_1080)
    rows = [(c, project_points(camera, c, size)) for c in candidates]
    taken = _occupied_by(obstacles, max(float(np.median(boxes[:, 0])), 16.0), size)
    # an image holds a few dozen readable labels; trying thousands only costs time
    order = np.argsort(priority, kind="stable")[:MAX_TRIES].tolist()
    keep_pos = _first_free(rows, boxes, order, own, taken, size)
    keep = sorted(keep_pos)
    positions = np.array([keep_pos[i] for i in keep]).reshape(-1, 3)
    return Labels(
        positions=positions, texts=[texts[i] for i in keep], node_ids=[node_ids[i] for i in keep], font_px=font_1080
    )


def label_pixel_boxes(labels: Labels, camera: Camera, size: tuple[int, int], font_px: float) -> np.ndarray:
    """(N, 4) pixel boxes (x0, y0, x1, y1) of placed labels; ``font_px`` at 1080 p (``Labels.font_px``)."""
    boxes = label_box_px(labels.texts, font_px * size[1] / 1080.0)
    px = project_points(camera, labels.positions, size)
    return np.column_stack([px[:, 0], px[:, 1] - boxes[:, 1], px[:, 0] + boxes[:, 0], px[:, 1]])
