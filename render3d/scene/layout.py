"""Graph layout: layers along x from the graph, branch lanes along z, U-Nets as a U, connectors.

1. **Layers.** Longest-path layering in topological order: a block sits one layer after its latest
   parent, so parallel branches start side by side whatever order they ran in.
2. **Main path.** The longest input→output path (back-tracked from the last layer) is lane 0.
3. **Lanes.** Every other block takes its parent's lane when that lane is free in its layer, else the
   nearest free lane (behind the main path first: -1, +1, -2, ...), so a branch stays in one lane.
   Each lane is as deep as its deepest box (:func:`lane_depths`): neighbouring lanes never touch.
4. **U shape.** When a long edge joins two main-path blocks of equal H×W on either side of the main
   path's lowest resolution, the graph is an encoder–decoder: blocks are put on y-levels by resolution
   (encoder descending, decoder ascending) and those edges become bridges across the U.
   **Two stacks.** A sequence-to-sequence model (:mod:`.stacks`: T5, BART, Whisper) is no U: its
   encoder is one row, its decoder the row below, each layered on its own, and the cross-attention
   edges are routed between the rows like the connectors of a wrapped layout.
5. **Connectors** are routed on this layout by :mod:`.connectors` (flow elbows, skip arcs above the
   blocks they span, dense fans bundled into shared trunks).

6. **Residual spine.** A residual add ``x + f(norm(x))`` whose branch ``f`` holds a norm and a
   linear or attention block (transformer layers, ConvNeXt blocks) puts ``x`` and the add on the
   spine (lane 0) and the branch beside it: attention branches behind (lane -1), MLPs in front
   (lane +1). The residual edge becomes a straight segment along the spine, so consecutive layers
   read as one stream with side-cars.

All steps are O(blocks + edges); the per-edge geometry is vectorised. Their inputs (edges, boxes,
options) come as one :class:`LayoutParams`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from render3d.scene.connectors import ARC_CLEARANCE, ARC_STEP, RangeMax
from render3d.scene.geometry import GLYPH, MAP
from render3d.scene.model import shadow_rise
from render3d.scene.wrap import LABEL_ROOM_PX, LayerSlots, estimate_scale, plan_rows

SIDE_CATEGORIES = frozenset({"Linear", "Attention/RNN"})


@dataclass(frozen=True)
class Residuals:
    """Residual side-cars found by :func:`residual_branches`."""

    spine: np.ndarray  # (N,) bool: stream sources and residual adds
    side: np.ndarray  # (N,) int: lane of side-car blocks (0 = not in a side-car)
    edges: list[tuple[int, int]]  # (stream source, add): drawn straight along the spine


def residual_branches(n: int, src: np.ndarray, dst: np.ndarray, categories: list[str], types: list[str]) -> Residuals:
    """Residual adds whose branch is a clean side-car holding a norm and a linear/attention block."""
    spine = np.zeros(n, dtype=bool)
    side = np.zeros(n, dtype=np.int64)
    straight: list[tuple[int, int]] = []
    if n == 0:
        return Residuals(spine, side, straight)
    parents, children = adjacency(n, src, dst)
    order = topological_order(n, parents, children)
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    taken = np.zeros(n, dtype=bool)
    for v in order:
        if categories[v] != "Merge" or "add" not in types[v].lower() or len(set(parents[v])) != 2:
            continue
        p, q = sorted(set(parents[v]), key=lambda k: pos[k])
        # the branch: blocks after p that p reaches and that reach q (q included)
        window = range(pos[p] + 1, pos[v])
        if len(window) > 64:
            continue
        reach = {p}
        for k in window:
            u = order[k]
            if any(w in reach for w in parents[u]):
                reach.add(u)
        if q not in reach:
            continue
        back = {q}
        for k in reversed(window):
            u = order[k]
            if u in reach and any(c in back for c in children[u]):
                back.add(u)
        branch = sorted(reach & back, key=lambda k: pos[k])
        inside = set(branch) | {p, v}
        clean = all(all(w in inside for w in parents[u]) and all(c in inside for c in children[u]) for u in branch)
        cats = {categories[u] for u in branch}
        if not clean or taken[branch].any() or "Norm" not in cats or not cats & SIDE_CATEGORIES:
            continue
        taken[branch] = True
        spine[[p, v]] = True
        side[branch] = -1 if "Attention/RNN" in cats else 1
        straight.append((p, v))
    spine &= side == 0
    return Residuals(spine, side, straight)


@dataclass(frozen=True)
class Layout:
    """Where :func:`layout_graph` put every block, and the layer slots and row corridors connectors use."""

    layer: np.ndarray  # (N,) int
    lane: np.ndarray  # (N,) int
    level: np.ndarray  # (N,) int, resolution level (0 unless U layout)
    main: np.ndarray  # (N,) bool, on the main path
    centers: np.ndarray  # (N, 3)
    u_shape: bool
    layer_left: np.ndarray  # (L,) x of each layer slot's left edge (within its row)
    layer_right: np.ndarray  # (L,)
    #: (N,) row of every block (0 = top row); rows hold contiguous layers, see :mod:`.wrap`
    row: np.ndarray | None = None
    #: (R - 1,) y of the free corridor between row r and row r + 1 (cross-row connectors run there)
    corridors: np.ndarray | None = None
    layer_gap: float = 1.6

    @property
    def n_rows(self) -> int:
        return int(self.row.max()) + 1 if self.row is not None and len(self.row) else 1


def adjacency(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[list[list[int]], list[list[int]]]:
    """(parents, children) lists of block indices from the edge arrays."""
    parents: list[list[int]] = [[] for _ in range(n)]
    children: list[list[int]] = [[] for _ in range(n)]
    for a, b in zip(src.tolist(), dst.tolist()):
        parents[b].append(a)
        children[a].append(b)
    return parents, children


def topological_order(n: int, parents: list[list[int]], children: list[list[int]]) -> list[int]:
    """Kahn's algorithm, ties broken by execution order; blocks left on a cycle follow in order."""
    indeg = [len(p) for p in parents]
    ready = deque(i for i in range(n) if indeg[i] == 0)
    order: list[int] = []
    while ready:
        v = ready.popleft()
        order.append(v)
        for c in children[v]:
            indeg[c] -= 1
            if indeg[c] == 0:
                ready.append(c)
    if len(order) < n:
        placed = set(order)
        order.extend(i for i in range(n) if i not in placed)
    return order


def longest_path_layers(
    order: list[int], parents: list[list[int]], children: list[list[int]], is_input: np.ndarray
) -> np.ndarray:
    n = len(order)
    pos = [0] * n
    for k, v in enumerate(order):
        pos[v] = k
    layer = [0] * n
    for v in order:
        best = -1
        for p in parents[v]:
            if pos[p] < pos[v] and layer[p] > best:
                best = layer[p]
        layer[v] = best + 1
    # blocks no input reaches (constants made inside forward and what is computed from them alone, a
    # decoder's cross-attention keys fed only by the other stack) sit just before their first consumer
    fed = np.asarray(is_input, dtype=bool).copy()
    for v in order:
        fed[v] |= any(fed[p] for p in parents[v])
    for v in order[::-1]:
        if not fed[v] and children[v]:
            layer[v] = max(0, min(layer[c] for c in children[v]) - 1)
    return np.asarray(layer, dtype=np.int64)


def main_path(layer: np.ndarray, parents: list[list[int]], prefer_end: np.ndarray) -> np.ndarray:
    """Back-track the longest path from the deepest ``prefer_end`` block (the primary output), or from
    the deepest block when none is preferred."""
    n = len(layer)
    main = np.zeros(n, dtype=bool)
    if n == 0:
        return main
    v = int(np.argmax(np.where(prefer_end, layer, -1) if prefer_end.any() else layer))
    main[v] = True
    while parents[v]:
        want = layer[v] - 1
        candidates = [p for p in parents[v] if layer[p] == want]
        if not candidates:
            break
        v = candidates[0]
        main[v] = True
    return main


def _stacked_layers(
    order: list[int],
    parents: list[list[int]],
    children: list[list[int]],
    is_input: np.ndarray,
    is_output: np.ndarray,
    stacks: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Layers and main path of a two-stack layout: each stack layered from 0 on its own edges (the
    cross-stack edges are bridges, not dataflow that pushes the decoder right), the decoder's layers
    numbered after the encoder's."""
    own_parents = [[p for p in ps if stacks[p] == stacks[v]] for v, ps in enumerate(parents)]
    own_children = [[c for c in cs if stacks[c] == stacks[v]] for v, cs in enumerate(children)]
    layer = longest_path_layers(order, own_parents, own_children, is_input)
    main = np.zeros(len(order), dtype=bool)
    offset = 0
    for s in np.unique(stacks).tolist():
        inside = stacks == s
        layer[inside] += offset
        offset = int(layer[inside].max()) + 1
        # the stack's longest path: back-tracked from its primary output, else its deepest block
        main |= main_path(np.where(inside, layer, -1), own_parents, is_output & inside) & inside
    return layer, main


def assign_lanes(
    order: list[int],
    layer: np.ndarray,
    main: np.ndarray,
    parents: list[list[int]],
    side: np.ndarray | None = None,
) -> np.ndarray:
    """Lane 0 for the main path; others keep their parent's lane if free in their layer.

    ``side`` (N,) is the lane a residual side-car asks for (0 = none): parallel blocks of one side-car
    (an attention's q, k and v) stack outwards from it, one lane each, so no two share a slot."""
    n = len(order)
    side = np.zeros(n, dtype=np.int64) if side is None else side
    by_layer: dict[int, list[int]] = {}
    for v in order:
        by_layer.setdefault(int(layer[v]), []).append(v)
    lane_of = [0] * n
    for lay in sorted(by_layer):
        members = by_layer[lay]
        taken = {0}
        for v in members:
            if side[v] and not main[v]:
                lane = int(side[v])
                while lane in taken:
                    lane += 1 if lane > 0 else -1
                lane_of[v] = lane
                taken.add(lane)
        rest = [(lane_of[parents[v][0]] if parents[v] else 0, v) for v in members if not main[v] and not side[v]]
        # blocks that can keep their parent's side lane go first, so branches stay straight
        rest.sort(key=lambda t: t[0] == 0)
        for pref, v in rest:
            lane_of[v] = pref if pref not in taken else _nearest_free(pref, taken)
            taken.add(lane_of[v])
    return np.asarray(lane_of, dtype=np.int64)


def _nearest_free(pref: int, taken: set[int]) -> int:
    step = 1
    while True:
        for cand in (pref - step, pref + step):
            if cand not in taken:
                return cand
        step += 1


def lane_depths(lane: np.ndarray, sizes: np.ndarray, lane_gap: float) -> np.ndarray:
    """(N,) z of every block: lane 0 at 0, each further lane ``lane_gap`` clear of its neighbour's
    deepest box, so lanes of thin token blocks sit close and only a lane of deep maps is wide."""
    if not len(lane):
        return np.zeros(0)
    lo = int(lane.min())
    thick = np.zeros(int(lane.max()) - lo + 1)
    np.maximum.at(thick, lane - lo, sizes[:, 2])
    step = thick[:-1] / 2 + lane_gap + thick[1:] / 2  # centre to centre, lane k to lane k + 1
    centre = np.concatenate([[0.0], np.cumsum(step)])
    return (centre - centre[-lo])[lane - lo]


def detect_u_bridges(
    layer: np.ndarray, main: np.ndarray, dims: np.ndarray, cls: np.ndarray, src: np.ndarray, dst: np.ndarray
) -> np.ndarray:
    """Edges that bridge an encoder–decoder: equal H×W ends on the main path, one before and one after
    its lowest resolution, and a lower resolution on the main path between.

    Both ends must straddle the main path's bottom: a recurrent refinement (RAFT's update loop) that
    reads a feature map again after a correlation pyramid is not an encoder–decoder."""
    if len(src) == 0 or not main.any():
        return np.zeros(len(src), dtype=bool)
    n_layers = int(layer.max()) + 1
    spatial = cls == MAP
    h = np.where(spatial, dims[:, 1] * dims[:, 0], np.inf)  # H·W, inf for non-maps
    main_area = np.full(n_layers, np.inf)
    main_area[layer[main]] = h[main]
    # the lowest real map on the main path (a 1×1 gate or an N×1 column of coordinates is no bottom)
    real = main & spatial & (np.minimum(dims[:, 0], dims[:, 1]) > 1)
    bottom = int(layer[real][np.argmin(h[real])]) if real.any() else -1
    span = layer[dst] - layer[src]
    cand = (span > 1) & spatial[src] & spatial[dst] & main[src] & main[dst]
    cand &= (layer[src] < bottom) & (layer[dst] > bottom)
    cand &= (dims[src, 0] == dims[dst, 0]) & (dims[src, 1] == dims[dst, 1])
    result = np.zeros(len(src), dtype=bool)
    if not cand.any():
        return result
    lo = layer[src][cand] + 1
    hi = layer[dst][cand] - 1
    min_between = -RangeMax(-main_area).query(lo, hi)
    # a squeeze-excitation gate (pool to 1×1, then scale the map) is not a U: the path between
    # must stay a real map
    result[np.flatnonzero(cand)] = (min_between < h[src][cand]) & (min_between > 1)
    return result


def resolution_levels(order: list[int], parents: list[list[int]], dims: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """Level 0 at the finest resolution, +1 per halving of H; non-maps inherit their parent's."""
    n = len(order)
    level = np.zeros(n, dtype=np.int64)
    spatial = cls == MAP
    if not spatial.any():
        return level
    h = dims[:, 1]
    hmax = h[spatial].max()
    lv = np.round(np.log2(hmax / np.maximum(h, 1.0))).astype(np.int64)
    for v in order:
        if spatial[v]:
            level[v] = lv[v]
        elif parents[v]:
            level[v] = level[parents[v][0]]
    return level


@dataclass(frozen=True)
class LayoutParams:
    """Everything :func:`layout_graph` places blocks from: the block graph's edges and ends, its boxes
    and the layout options, as one value. The builder lays the same graph out twice in activations
    mode (first with the architecture boxes, to measure them on screen, then with deeper ones) by
    replacing ``sizes`` only."""

    src: np.ndarray  # (E,) int, block index of each edge's source
    dst: np.ndarray  # (E,) int, block index of each edge's destination
    sizes: np.ndarray  # (N, 3) box sizes as drawn
    dims: np.ndarray  # (N, 3) W, H, C of each block's output (:func:`~render3d.scene.geometry.shape_dims`)
    cls: np.ndarray  # (N,) shape class of each block's output (``MAP``, ``GLYPH``, ...)
    is_input: np.ndarray  # (N,) bool
    is_output: np.ndarray  # (N,) bool: where the main path ends
    repeats: np.ndarray  # (N,) int, ``×N`` of each block: its stacked copies rise above it
    image_size: tuple[int, int]
    #: (N, 3) sizes the rows are cut with (the architecture sizes, so deeper feature-map stacks never
    #: move a block to another row); None: ``sizes``
    plan_sizes: np.ndarray | None = None
    residuals: Residuals | None = None
    #: (N,) stack of every block (:mod:`.stacks`): an encoder–decoder drawn as two rows, each laid out
    #: from its own first layer, the edges between them (cross-attention) routed as row-to-row bridges
    stacks: np.ndarray | None = None
    mode: str = "auto"  # "auto" | "u" | "flat"
    layer_gap: float = 1.6
    lane_gap: float = 1.6
    wrap: str | int = "never"  # "never", "auto" or the most layers per row (:mod:`.wrap`)

    @property
    def n(self) -> int:
        return len(self.is_input)

    @property
    def rise(self) -> np.ndarray:
        """(N,) how far above a block's top something of it is drawn (the copies behind a ``×N`` block)."""
        return shadow_rise(self.sizes, self.repeats)

    @property
    def row_sizes(self) -> np.ndarray:
        return self.sizes if self.plan_sizes is None else self.plan_sizes

    @property
    def straight(self) -> set[tuple[int, int]]:
        """Residual edges drawn straight along the spine (no skip arc)."""
        return set(self.residuals.edges) if self.residuals is not None else set()


def layout_graph(p: LayoutParams) -> Layout:
    """Place every block: layers along x, lanes along z, U levels or rows along y (module docstring)."""
    parents, children = adjacency(p.n, p.src, p.dst)
    order = topological_order(p.n, parents, children)
    layer, main = _layers_and_main(p, order, parents, children)
    lane = assign_lanes(order, layer, main, parents, p.residuals.side if p.residuals is not None else None)
    level, u_shape = _u_levels(p, order, parents, layer, main)

    n_layers = int(layer.max()) + 1 if p.n else 0
    width = np.zeros(n_layers)
    np.maximum.at(width, layer, p.sizes[:, 0])
    left = np.concatenate([[0.0], np.cumsum(width + p.layer_gap)[:-1]])
    z = lane_depths(lane, p.sizes, p.lane_gap)
    y = _level_heights(p, level)[level] if u_shape else np.zeros(p.n)

    row = np.zeros(p.n, dtype=np.int64)
    corridors = np.zeros(0)
    row_of_layer, row_pitch = _row_plan(p, layer, main, lane, u_shape, n_layers)
    if row_of_layer is not None and row_of_layer.max() > 0:
        row, left, y, corridors = _rows(p, row_of_layer, row_pitch, layer, left, width, z)
    x = left[layer] + width[layer] / 2

    centers = np.stack([x, y, z], axis=1) if p.n else np.zeros((0, 3))
    return Layout(
        layer=layer,
        lane=lane,
        level=level,
        main=main,
        centers=centers,
        u_shape=u_shape,
        layer_left=left,
        layer_right=left + width,
        row=row,
        corridors=corridors,
        layer_gap=p.layer_gap,
    )


def _layers_and_main(
    p: LayoutParams, order: list[int], parents: list[list[int]], children: list[list[int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Layer of every block and the main path: the stacks' own layers, edge-less badges beside the
    output, and the residual spine (not its side-cars) on the main path."""
    if p.stacks is not None:
        layer, main = _stacked_layers(order, parents, children, p.is_input, p.is_output, p.stacks)
    else:
        layer = longest_path_layers(order, parents, children, p.is_input)
        main = main_path(layer, parents, p.is_output)
    # a block with no edges at all (a folded cache badge) goes at the end of its row, beside the output
    alone = np.array([not parents[v] and not children[v] for v in range(p.n)], dtype=bool) & ~p.is_input
    for v in np.flatnonzero(alone).tolist():
        peers = ~alone if p.stacks is None else ~alone & (p.stacks == p.stacks[v])
        layer[v] = int(layer[peers].max()) if peers.any() else 0
    if p.residuals is not None and p.residuals.spine.any():
        cars = p.residuals.side != 0
        main = (main & ~cars) | p.residuals.spine
    return layer, main


def _u_levels(
    p: LayoutParams, order: list[int], parents: list[list[int]], layer: np.ndarray, main: np.ndarray
) -> tuple[np.ndarray, bool]:
    """Resolution level of every block and whether the layout is a U (an encoder–decoder by shape)."""
    level = np.zeros(p.n, dtype=np.int64)
    if p.stacks is not None:
        return level, False
    if p.mode == "u" or p.mode == "auto" and detect_u_bridges(layer, main, p.dims, p.cls, p.src, p.dst).any():
        level = resolution_levels(order, parents, p.dims, p.cls)
        return level, bool(level.max() > 0)
    return level, False


def _level_heights(p: LayoutParams, level: np.ndarray) -> np.ndarray:
    """y of every resolution level of a U: each band as tall as its tallest box, stepping down."""
    n_levels = int(level.max()) + 1
    band = np.zeros(n_levels)
    np.maximum.at(band, level, p.sizes[:, 1])
    gap = 0.6 * p.layer_gap
    level_y = np.zeros(n_levels)
    for k in range(1, n_levels):
        level_y[k] = level_y[k - 1] - band[k - 1] / 2 - gap - band[k] / 2
    return level_y


def _row_plan(
    p: LayoutParams, layer: np.ndarray, main: np.ndarray, lane: np.ndarray, u_shape: bool, n_layers: int
) -> tuple[np.ndarray | None, float]:
    """Row of every layer slot and the height of one row, or None when the layout is one row: the two
    stacks of an encoder–decoder are two rows, a long layout may wrap (not a U)."""
    if p.stacks is not None:
        row_of_layer = np.zeros(n_layers, dtype=np.int64)
        row_of_layer[layer] = p.stacks
        return row_of_layer, _row_pitch(p, layer, lane)
    if p.n and not u_shape and p.wrap != "never":
        return _plan(p, layer, main, lane, n_layers)
    return None, 0.0


def _rows(
    p: LayoutParams,
    row_of_layer: np.ndarray,
    row_pitch: float,
    layer: np.ndarray,
    left: np.ndarray,
    width: np.ndarray,
    z: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Row of every block, the layer slots' left edges within their rows, the blocks' y and the
    corridors between rows."""
    row = row_of_layer[layer]
    starts = np.flatnonzero(np.diff(np.concatenate([[-1], row_of_layer])))
    left = left - left[starts][row_of_layer]
    row_width = np.zeros(int(row.max()) + 1)
    np.maximum.at(row_width, row_of_layer, left + width)
    # room between rows for one two-line label at the scale the rows will roughly be drawn at
    width_px, height_px = p.image_size
    scale = estimate_scale(row_width, row_pitch, p.image_size)
    min_gap = max(ROW_GAP, LABEL_ROOM_PX * height_px / 1080 / max(scale, 1e-9))
    fill = ROW_FILL * height_px / width_px * float(row_width.max())
    row_y, corridors = _row_heights(p, row, layer, z, fill=fill, min_gap=min_gap)
    return row, left, row_y[row], corridors


#: free height between one row's lowest box and the next row's highest arc, plus a share of the rows'
#: depth so that a row's front does not hide the next row's back in a view from above
ROW_GAP = 2.2
ROW_DEPTH_SLOPE = math.tan(math.radians(34.0))
#: total height (world, as a share of the widest row × image aspect) that the rows' gaps may grow towards
ROW_FILL = 0.5
ROW_SPREAD = 2.0  # most extra gap per row, in mean row heights


def _skip_tops(
    layer: np.ndarray, src: np.ndarray, dst: np.ndarray, top: np.ndarray, n_layers: int, straight: set[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Highest point of each skip arc (as :func:`route_connectors` draws it) and the arc's edges."""
    span = np.abs(layer[dst] - layer[src])
    keep = span > 1
    if straight:
        keep &= np.array([(a, b) not in straight for a, b in zip(src.tolist(), dst.tolist())], dtype=bool)
    e = np.flatnonzero(keep)
    if not len(e):
        return np.zeros(0), e
    layer_top = np.full(n_layers, -np.inf)
    np.maximum.at(layer_top, layer, top)
    lo = np.minimum(layer[src[e]], layer[dst[e]])
    hi = np.maximum(layer[src[e]], layer[dst[e]])
    return RangeMax(layer_top).query(lo, hi) + ARC_CLEARANCE + ARC_STEP * np.log2(span[e]), e


def _row_pitch(p: LayoutParams, layer: np.ndarray, lane: np.ndarray) -> float:
    """Height a row takes with its arcs, the gap below it and the share of its depth seen from above
    (measured on the boxes the rows are planned with)."""
    sizes, rise = p.row_sizes, p.rise
    z = lane_depths(lane, sizes, p.lane_gap)
    half_y = sizes[:, 1] / 2
    arc_top, _ = _skip_tops(layer, p.src, p.dst, half_y, int(layer.max()) + 1, p.straight)
    top = max(float((half_y + rise).max()), float(arc_top.max()) if len(arc_top) else 0.0)
    depth = float((z + sizes[:, 2] / 2).max() - (z - sizes[:, 2] / 2 - rise).min())
    return top + float(half_y.max()) + ROW_GAP + ROW_DEPTH_SLOPE * depth


def _plan(
    p: LayoutParams, layer: np.ndarray, main: np.ndarray, lane: np.ndarray, n_layers: int
) -> tuple[np.ndarray, float]:
    """Row of every layer slot of a wrapped layout (:func:`~render3d.scene.wrap.plan_rows`) and the row
    height it was planned with."""
    sizes = p.row_sizes
    width = np.zeros(n_layers)
    np.maximum.at(width, layer, sizes[:, 0])
    left = np.concatenate([[0.0], np.cumsum(width + p.layer_gap)[:-1]])
    # the main path's resolution per layer: a change marks a stage boundary
    key = np.full((n_layers, 3), np.nan)
    m = np.flatnonzero(main)
    key[layer[m]] = np.column_stack([p.cls[m], p.dims[m, 0], p.dims[m, 1]]).astype(float)
    for k in range(1, n_layers):
        if np.isnan(key[k, 0]):
            key[k] = key[k - 1]
    key = np.nan_to_num(key, nan=-1.0)
    row_pitch = _row_pitch(p, layer, lane)
    # the typical block: glyph cubes of tiny ops (adds, reshapes) are small at any scale
    face = np.maximum(sizes[:, 0], sizes[:, 1])
    real = ~np.all(np.isclose(sizes, GLYPH), axis=1)
    block = float(np.median(face[real] if real.any() else face))
    slots = LayerSlots(layer=layer, src=p.src, dst=p.dst, left=left, right=left + width, stage_key=key)
    rows = plan_rows(slots, wrap=p.wrap, block_px=block, row_pitch=row_pitch, size=p.image_size)
    return rows, row_pitch


def _row_heights(
    p: LayoutParams, row: np.ndarray, layer: np.ndarray, z: np.ndarray, fill: float = 0.0, min_gap: float = ROW_GAP
) -> tuple[np.ndarray, np.ndarray]:
    """y of every row's centre line (row 0 at 0, later rows below) and of the corridors between rows.

    When the rows are wide for the image (the picture is width-bound), the gaps between them grow
    towards a total height of ``fill``, up to ``ROW_SPREAD`` times the rows' mean height each: the free
    height costs no scale and gives each row room for its labels."""
    sizes, rise = p.sizes, p.rise
    n_rows = int(row.max()) + 1
    half_y = sizes[:, 1] / 2
    top = np.full(n_rows, 0.0)
    np.maximum.at(top, row, half_y + rise)
    bottom = np.zeros(n_rows)
    np.maximum.at(bottom, row, half_y)
    arc_top, e = _skip_tops(layer, p.src, p.dst, half_y, int(layer.max()) + 1, p.straight)
    inside = row[p.src[e]] == row[p.dst[e]]
    np.maximum.at(top, row[p.src[e]][inside], arc_top[inside])
    z_front = np.full(n_rows, -np.inf)
    np.maximum.at(z_front, row, z + sizes[:, 2] / 2)
    z_back = np.full(n_rows, np.inf)
    np.minimum.at(z_back, row, z - sizes[:, 2] / 2 - rise)
    gaps = min_gap + ROW_DEPTH_SLOPE * np.maximum(0.0, z_front[:-1] - z_back[1:])
    height = float(np.sum(top + bottom))
    extra = (fill - height - gaps.sum()) / max(n_rows - 1, 1)
    gaps = gaps + float(np.clip(extra, 0.0, ROW_SPREAD * height / n_rows))
    row_y = np.zeros(n_rows)
    corridors = np.zeros(n_rows - 1)
    for r in range(n_rows - 1):
        gap = gaps[r]
        corridors[r] = row_y[r] - bottom[r] - gap / 2
        row_y[r + 1] = row_y[r] - bottom[r] - gap - top[r + 1]
    return row_y, corridors
