"""Row wrapping: a long main path is cut into rows stacked downwards, read like lines of text.

Layers (the x slots of :func:`~render3d.scene.layout.layout_graph`) are split into contiguous runs;
each run is one row, drawn left to right from x = 0, and row ``r + 1`` sits below row ``r``. Where to
cut is chosen by a small dynamic programme over the layer boundaries:

* a boundary crossed by one edge only (a cut vertex of the graph) is cheap; every further edge that
  crosses it costs more, since it becomes a connector that leaves one row for another;
* a boundary where the main path changes resolution (a transition layer, a pooling or patch-merge
  step) is cheaper still, so rows tend to be stages;
* rows much wider than the average are penalised (the widest row sets the scale of the picture).

``wrap="auto"`` compares the estimated on-screen size of the blocks for 1..``MAX_ROWS`` rows and
wraps only when one row would draw the typical block smaller than ``WRAP_MIN_PX`` pixels and rows
draw it clearly larger. An integer ``wrap`` is the most layers (main-path blocks) per row.

Pure numpy; O(candidates² · rows) with at most ``MAX_CANDIDATES`` candidate boundaries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_ROWS = 8
MAX_CANDIDATES = 600
#: below this on-screen size (pixels at 1080 p, larger side of the median block) one row is too small
WRAP_MIN_PX = 22.0
#: rows must draw blocks at least this many times larger than one row does to be worth it
WRAP_GAIN = 1.3
CROSS_COST = 4.0  # per edge beyond the first that crosses a cut
OFF_STAGE_COST = 1.5  # a cut that is not at a resolution change
OVERFLOW_COST = 12.0  # (width / target - 1)² of a row wider than the target
UNDERFLOW_COST = 3.0  # (1 - width / target)² of a narrower one
MIN_ROW = 0.3  # no row narrower than this share of the average row (a lone block on a row)


@dataclass(frozen=True)
class LayerSlots:
    """The layered graph rows are cut from: the layer of every block, the edges, and the x extent and
    stage key (the main path's shape class and H×W) of every layer slot."""

    layer: np.ndarray  # (N,) int
    src: np.ndarray  # (E,) int
    dst: np.ndarray  # (E,) int
    left: np.ndarray  # (L,) x of each layer slot's left edge
    right: np.ndarray  # (L,) x of its right edge
    stage_key: np.ndarray  # (L, 3): a change between neighbouring layers marks a stage boundary

    @property
    def n_layers(self) -> int:
        return len(self.left)


def boundary_costs(slots: LayerSlots) -> tuple[np.ndarray, np.ndarray]:
    """(L + 1,) number of tensors crossing each boundary (boundary b lies between layers b - 1 and b)
    and the cost of cutting there (``inf`` at 0 and L).

    A tensor read by several blocks past the boundary crosses it once: the cut before a residual
    block (its input feeds the block and its shortcut) costs one crossing, a cut inside it two."""
    n_layers, layer, src, dst, stage_key = slots.n_layers, slots.layer, slots.src, slots.dst, slots.stage_key
    diff = np.zeros(n_layers + 2, dtype=np.int64)
    n = int(max(src.max(), dst.max())) + 1 if len(src) else 0
    lo = np.full(n, n_layers, dtype=np.int64)
    hi = np.full(n, -1, dtype=np.int64)
    np.minimum.at(lo, src, np.minimum(layer[src], layer[dst]))
    np.maximum.at(hi, src, np.maximum(layer[src], layer[dst]))
    used = hi >= 0
    np.add.at(diff, lo[used] + 1, 1)
    np.add.at(diff, hi[used] + 1, -1)
    crossing = np.cumsum(diff)[: n_layers + 1]
    stage = np.zeros(n_layers + 1, dtype=bool)
    if n_layers > 1:
        stage[1:n_layers] = np.any(stage_key[1:] != stage_key[:-1], axis=1)
    cost = CROSS_COST * np.maximum(crossing - 1, 0) + np.where(stage, 0.0, OFF_STAGE_COST)
    cost = cost.astype(float)
    cost[0] = cost[n_layers] = np.inf
    return crossing, cost


def _partition(
    left: np.ndarray, right: np.ndarray, cuts: np.ndarray, cut_cost: np.ndarray, n_rows: int, max_layers: int | None
) -> tuple[list[int], float] | None:
    """Best ``n_rows`` rows (start layers) over the candidate ``cuts``; None if infeasible."""
    n_layers = len(left)
    pos = np.concatenate([[0], cuts, [n_layers]])  # candidate row starts/ends
    bc = np.concatenate([[0.0], cut_cost, [0.0]])
    # width of a row from pos[i] to pos[j] (exclusive)
    start_x = left[np.minimum(pos, n_layers - 1)]
    end_x = right[np.maximum(pos - 1, 0)]
    width = end_x[None, :] - start_x[:, None]
    total = right[-1] - left[0]
    target = total / n_rows
    ratio = width / max(target, 1e-9)
    row_cost = np.where(ratio > 1, OVERFLOW_COST * (ratio - 1) ** 2, UNDERFLOW_COST * (1 - ratio) ** 2)
    idx = np.arange(len(pos))
    valid = (idx[None, :] > idx[:, None]) & (ratio >= MIN_ROW)
    if max_layers is not None:
        valid &= (pos[None, :] - pos[:, None]) <= max_layers
    row_cost = np.where(valid, row_cost, np.inf)
    m = len(pos)
    dp = np.full(m, np.inf)
    dp[0] = 0.0
    back = []
    for r in range(n_rows):
        extra = bc if r else np.zeros(m)
        total_cost = (dp + extra)[:, None] + row_cost
        arg = np.argmin(total_cost, axis=0)
        dp = total_cost[arg, idx]
        back.append(arg)
    if not np.isfinite(dp[-1]):
        return None
    starts = []
    j = m - 1
    for r in range(n_rows - 1, -1, -1):
        i = int(back[r][j])
        starts.append(int(pos[i]))
        j = i
    starts = starts[::-1]
    if starts[0] != 0:
        return None
    return starts, float(dp[-1])


def _candidates(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cuts = np.flatnonzero(np.isfinite(cost))
    if len(cuts) > MAX_CANDIDATES:
        # keep the cheapest boundaries and an even spread of the rest
        order = np.argsort(cost[cuts], kind="stable")
        cheap = cuts[order[: MAX_CANDIDATES // 2]]
        spread = cuts[np.linspace(0, len(cuts) - 1, MAX_CANDIDATES // 2).astype(np.int64)]
        cuts = np.unique(np.concatenate([cheap, spread]))
    return cuts, cost[cuts]


#: pixels (at 1080 p) between rows for the labels of the row below, whatever the scale
LABEL_ROOM_PX = 80.0


def estimate_scale(row_widths: np.ndarray, row_pitch: float, size: tuple[int, int]) -> float:
    """Rough pixels per world unit of a three-quarter view of rows ``row_widths`` wide, ``row_pitch`` apart.

    Every row after the first also costs ``LABEL_ROOM_PX`` of the image height (its labels' room,
    which does not shrink with the scale), so many narrow rows are not mistaken for a larger picture."""
    width, height = size
    if len(row_widths) == 1:
        # one row recedes diagonally across the image
        return 0.8 * math.hypot(width, height) / max(float(row_widths[0]), 1e-9)
    w = float(np.max(row_widths))
    horiz = 0.93 * w
    vert = 0.91 * row_pitch * len(row_widths) + 0.15 * w
    free = 0.8 * height - LABEL_ROOM_PX * height / 1080 * (len(row_widths) - 1)
    return min(0.8 * width / horiz, max(free, 0.1 * height) / vert)


def plan_rows(
    slots: LayerSlots, *, wrap: str | int, block_px: float, row_pitch: float, size: tuple[int, int]
) -> np.ndarray:
    """(L,) row of every layer. ``block_px`` is the typical block's larger side in world units."""
    n_layers, left, right = slots.n_layers, slots.left, slots.right
    one = np.zeros(n_layers, dtype=np.int64)
    if wrap == "never" or n_layers < 4:
        return one
    crossing, cost = boundary_costs(slots)
    cuts, cut_cost = _candidates(cost)
    if not len(cuts):
        return one

    def rows_from(starts: list[int]) -> np.ndarray:
        row = np.zeros(n_layers, dtype=np.int64)
        for s in starts[1:]:
            row[s:] += 1
        return row

    def widths(starts: list[int]) -> np.ndarray:
        ends = starts[1:] + [n_layers]
        return np.array([right[e - 1] - left[s] for s, e in zip(starts, ends)])

    if isinstance(wrap, int) and not isinstance(wrap, bool):
        if n_layers <= wrap:
            return one
        for n_rows in range(math.ceil(n_layers / wrap), min(n_layers, len(cuts) + 1) + 1):
            got = _partition(left, right, cuts, cut_cost, n_rows, wrap)
            if got is not None:
                return rows_from(got[0])
        return one

    # auto
    scale_1 = estimate_scale(widths([0]), row_pitch, size)
    if block_px * scale_1 * 1080 / size[1] >= WRAP_MIN_PX:
        return one
    best = (scale_1 * WRAP_GAIN, [0])
    for n_rows in range(2, min(MAX_ROWS, len(cuts) + 1) + 1):
        got = _partition(left, right, cuts, cut_cost, n_rows, None)
        if got is None:
            continue
        starts = got[0]
        extra = float(np.sum(np.maximum(crossing[starts[1:]] - 1, 0)))
        score = estimate_scale(widths(starts), row_pitch, size) / (1.0 + 0.05 * extra)
        if score > best[0]:
            best = (score, starts)
    return rows_from(best[1])
