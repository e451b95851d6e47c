"""Connectors: the polylines between blocks, routed on a :class:`~render3d.scene.layout.Layout`.

* An edge between consecutive layers is a ``"flow"`` polyline (straight, or an elbow in the gap
  between the layers).
* An edge that jumps over at least one layer is a ``"skip"`` arc that rises above the tallest block
  in the layers it spans, so it clears every box; residual-spine edges are straight.
* An edge between rows of a wrapped layout runs down the corridor between the rows.
* **Dense fans are bundled.** Where a group of skip edges says "every block on the left feeds every
  block on its right" (DenseNet's concatenations: each layer's output goes to every later concat),
  the arcs share one trunk (a bus) above the group: one riser per source, one drop per destination
  (:func:`bundle_dense_fans`). That is what the picture should say, and drawing 1,803 arcs at 1,803
  heights (DenseNet-201 unfolded) was a grey fog that cost most of a frame. Only a group in which
  *every* left-to-right pair is an edge is bundled, so a trunk never suggests an edge that is not
  there. Each edge keeps its own :class:`~render3d.scene.model.Connector` (its polyline follows the
  trunk, stopping at every riser and drop), so whatever reads edges off connectors is unchanged; the
  renderer draws each shared segment once.

All steps are O(blocks + edges) except the bundling check, O(sources × destinations) per group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from render3d.scene.model import Connector

if TYPE_CHECKING:
    from render3d.scene.layout import Layout

__all__ = ["ARC_CLEARANCE", "ARC_STEP", "MIN_BUNDLE", "RangeMax", "bundle_dense_fans", "route_connectors"]

ARC_CLEARANCE = 0.9  # gap between the tallest spanned box and a skip arc
ARC_STEP = 0.45  # extra height per doubling of a skip's span (longer skips fly higher)
#: a group of skip edges is bundled into a trunk from this many edges on (3 arcs read fine as arcs)
MIN_BUNDLE = 6
#: groups with more source × destination pairs than this are left as arcs (the check is quadratic)
MAX_BUNDLE_PAIRS = 1_000_000


class RangeMax:
    """Sparse table: max of ``values[lo..hi]`` (inclusive) for arrays of ranges in O(1) each."""

    def __init__(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=float)
        table = [values]
        k = 1
        while (1 << k) <= len(values):
            prev = table[-1]
            half = 1 << (k - 1)
            table.append(np.maximum(prev[:-half], prev[half:]))
            k += 1
        self.table = table

    def query(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        lo = np.asarray(lo, dtype=np.int64)
        hi = np.asarray(hi, dtype=np.int64)
        out = np.empty(len(lo), dtype=float)
        if len(lo) == 0:
            return out
        length = hi - lo + 1
        k = np.floor(np.log2(np.maximum(length, 1))).astype(np.int64)
        for kk in np.unique(k):
            sel = k == kk
            row = self.table[kk]
            out[sel] = np.maximum(row[lo[sel]], row[hi[sel] - (1 << kk) + 1])
        return out


def route_connectors(
    ids: list[str],
    layout: Layout,
    sizes: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    straight: list[tuple[int, int]] | None = None,
) -> list[Connector]:
    """One connector per edge: flow polylines between consecutive layers, skip arcs over the rest
    (dense fans bundled, :func:`bundle_dense_fans`); ``straight`` edges (residual spine) are one
    straight ``"skip"`` segment face to face."""
    if len(src) == 0:
        return []
    half = sizes / 2
    span = layout.layer[dst] - layout.layer[src]
    routed = _spine_connectors(ids, layout.centers, half, src, dst, set(straight or ()))
    # a spine edge that crosses rows follows the corridors after all, as a skip
    kinds = ["flow" if span[e] == 1 and e not in routed else "skip" for e in range(len(src))]
    routed.update(_row_crossing_connectors(ids, layout, half, src, dst, kinds))
    flow = np.array([e for e in np.flatnonzero(span == 1).tolist() if e not in routed], dtype=np.int64)
    routed.update(_flow_connectors(ids, layout, half, src, dst, flow))
    arcs = np.array([e for e in range(len(src)) if e not in routed], dtype=np.int64)
    routed.update(_skip_connectors(ids, layout, half, src, dst, arcs, span))
    return [routed[e] for e in range(len(src))]


def _spine_connectors(
    ids: list[str], c: np.ndarray, half: np.ndarray, src: np.ndarray, dst: np.ndarray, straight: set[tuple[int, int]]
) -> dict[int, Connector]:
    """The residual spine: each ``straight`` edge one segment from src's right face to dst's left face."""
    out: dict[int, Connector] = {}
    for e, (a, b) in enumerate(zip(src.tolist(), dst.tolist())):
        if (a, b) in straight:
            p0, p1 = c[a].copy(), c[b].copy()
            p0[0] += half[a, 0]
            p1[0] -= half[b, 0]
            out[e] = Connector(ids[a], ids[b], np.stack([p0, p1]), "skip")
    return out


def _row_crossing_connectors(
    ids: list[str], layout: Layout, half: np.ndarray, src: np.ndarray, dst: np.ndarray, kinds: list[str]
) -> dict[int, Connector]:
    """Edges from one row of a wrapped layout to another: out of the right face into the gap after src's
    layer, down into the free corridor below its row, along it (round the right end of every row when
    it passes more rows), down the gap before dst's layer and into dst's left face."""
    c, layer, row, corridors = layout.centers, layout.layer, layout.row, layout.corridors
    if row is None or corridors is None or not len(row) or row.max() <= 0:
        return {}
    gap = layout.layer_gap
    x_out = float(layout.layer_right.max()) + gap
    top_y = float((c[:, 1] + half[:, 1]).max()) + ARC_CLEARANCE
    out: dict[int, Connector] = {}
    for e in np.flatnonzero(row[src] != row[dst]).tolist():
        a, b = int(src[e]), int(dst[e])
        ra, rb = int(row[a]), int(row[b])
        xa = layout.layer_right[layer[a]] + gap / 2
        xb = layout.layer_left[layer[b]] - gap / 2
        ya = corridors[ra] if ra < len(corridors) else float(c[:, 1].min() - half[:, 1].max() - gap)
        yb = corridors[rb - 1] if rb > 0 else top_y
        (xs, ys, zs), (xd, yd, zd) = c[a], c[b]
        route = [(xs + half[a, 0], ys, zs), (xa, ys, zs), (xa, ya, zs)]
        if rb != ra + 1:
            route += [(x_out, ya, zs), (x_out, yb, zs)]
        route += [(xb, yb, zs), (xb, yb, zd), (xb, yd, zd), (xd - half[b, 0], yd, zd)]
        out[e] = Connector(ids[a], ids[b], _without_repeats(np.asarray(route, dtype=float)), kinds[e])
    return out


def _without_repeats(points: np.ndarray) -> np.ndarray:
    """``points`` without each point that repeats the one before it (a zero-length segment)."""
    keep = np.concatenate([[True], np.any(np.abs(np.diff(points, axis=0)) > 1e-9, axis=1)])
    return points[keep]


def _flow_connectors(
    ids: list[str], layout: Layout, half: np.ndarray, src: np.ndarray, dst: np.ndarray, edges: np.ndarray
) -> dict[int, Connector]:
    """Flow ``edges``: right face of src to left face of dst, with an elbow in the gap between the two
    layers unless the faces are level."""
    if not len(edges):
        return {}
    c, layer = layout.centers, layout.layer
    s, d = src[edges], dst[edges]
    p0 = c[s].copy()
    p0[:, 0] += half[s, 0]
    p3 = c[d].copy()
    p3[:, 0] -= half[d, 0]
    xm = (layout.layer_right[layer[s]] + layout.layer_left[layer[d]]) / 2
    p1 = np.column_stack([xm, p0[:, 1], p0[:, 2]])
    p2 = np.column_stack([xm, p3[:, 1], p3[:, 2]])
    level = np.isclose(p0[:, 1], p3[:, 1]) & np.isclose(p0[:, 2], p3[:, 2])
    pts = np.stack([p0, p1, p2, p3], axis=1)
    return {
        e: Connector(ids[src[e]], ids[dst[e]], pts[k][[0, 3]] if level[k] else pts[k], "flow")
        for k, e in enumerate(edges.tolist())
    }


def _skip_connectors(  # 7 parameters: the routing inputs every step shares, and this step's edges and spans
    ids: list[str],
    layout: Layout,
    half: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    edges: np.ndarray,
    span: np.ndarray,
) -> dict[int, Connector]:
    """Skip ``edges``: up from the top of src, across above everything spanned (longer spans higher),
    down onto the top of dst; dense fans among them share a trunk (:func:`bundle_dense_fans`)."""
    if not len(edges):
        return {}
    c, layer = layout.centers, layout.layer
    s, d = src[edges], dst[edges]
    top = c[:, 1] + half[:, 1]
    layer_top = np.full(int(layer.max()) + 1, -np.inf)
    np.maximum.at(layer_top, layer, top)
    lo = np.minimum(layer[s], layer[d])
    hi = np.maximum(layer[s], layer[d])
    highest = RangeMax(layer_top).query(lo, hi)
    y_arc = highest + ARC_CLEARANCE + ARC_STEP * np.log2(np.maximum(np.abs(span[edges]), 1))
    xs, xd = c[s, 0], c[d, 0]
    sign = np.where(xd >= xs, 1.0, -1.0)
    r = np.minimum(0.5 * ARC_CLEARANCE, np.abs(xd - xs) / 4)
    zs, zd = c[s, 2], c[d, 2]
    pts = np.empty((len(edges), 7, 3))
    pts[:, 0] = np.column_stack([xs, top[s], zs])
    pts[:, 1] = np.column_stack([xs, y_arc - r, zs])
    pts[:, 2] = np.column_stack([xs + sign * r, y_arc, zs])
    pts[:, 3] = np.column_stack([xd - sign * r, y_arc, zs])
    pts[:, 4] = np.column_stack([xd - sign * r, y_arc, zd])
    pts[:, 5] = np.column_stack([xd, y_arc - r, zd])
    pts[:, 6] = np.column_stack([xd, top[d], zd])
    same_z = np.isclose(zs, zd)
    keep_same = np.array([0, 1, 2, 3, 5, 6])  # one depth: no step across in z
    arcs = {e: pts[k][keep_same] if same_z[k] else pts[k] for k, e in enumerate(edges.tolist())}
    arcs.update(bundle_dense_fans(edges, src, dst, c, top, layer, RangeMax(layer_top)))
    return {e: Connector(ids[src[e]], ids[dst[e]], points, "skip") for e, points in arcs.items()}


def _groups(edges: np.ndarray, src: np.ndarray, dst: np.ndarray) -> list[np.ndarray]:
    """``edges`` split into groups connected through shared blocks (union-find over their ends)."""
    parent: dict[int, int] = {}

    def find(a: int) -> int:
        root = a
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[a] != root:
            parent[a], a = root, parent[a]
        return root

    for e in edges.tolist():
        ra, rb = find(int(src[e])), find(int(dst[e]))
        if ra != rb:
            parent[ra] = rb
    roots = np.array([find(int(src[e])) for e in edges.tolist()], dtype=np.int64)
    return [edges[roots == r] for r in np.unique(roots)]


def bundle_dense_fans(
    arcs: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    centers: np.ndarray,
    top: np.ndarray,
    layer: np.ndarray,
    layer_top: RangeMax,
) -> dict[int, np.ndarray]:
    """Trunk polylines (edge index → (K, 3) points) for the skip ``arcs`` (edge indices) that form
    dense fans; arcs not in one keep their own arc (not returned).

    A group (arcs connected through shared blocks, at least MIN_BUNDLE) is a dense fan when, for
    every source ``s`` and destination ``d`` of its arcs with ``d`` in a later layer, ``s → d`` is an
    edge of the graph (an arc, or a flow edge to the next layer). Its trunk runs at one height (a
    short arc's clearance above the tallest block under the group), at the depth of the first
    source; the edge ``s → d`` rises from the top of ``s``, runs along the trunk through every riser
    and drop between them and drops onto the top of ``d``.
    """
    out: dict[int, np.ndarray] = {}
    if len(arcs) < MIN_BUNDLE:
        return out
    every = set(zip(src.tolist(), dst.tolist()))
    for group in _groups(arcs, src, dst):
        if len(group) < MIN_BUNDLE:
            continue
        sources = np.unique(src[group])
        targets = np.unique(dst[group])
        if len(sources) * len(targets) > MAX_BUNDLE_PAIRS or np.any(layer[dst[group]] <= layer[src[group]]):
            continue
        if any((s, d) not in every for s in sources.tolist() for d in targets.tolist() if layer[d] > layer[s]):
            continue
        ends = np.concatenate([sources, targets])
        lo, hi = int(layer[ends].min()), int(layer[ends].max())
        y = float(layer_top.query(np.array([lo]), np.array([hi]))[0]) + ARC_CLEARANCE + ARC_STEP
        z = float(centers[sources[np.argmin(layer[sources])], 2])
        stops = np.unique(centers[ends, 0])
        for e in group.tolist():
            s, d = int(src[e]), int(dst[e])
            (xs, _, zs), (xd, _, zd) = centers[s], centers[d]
            along = stops[(stops >= xs) & (stops <= xd)]
            pts = [(xs, top[s], zs), (xs, y, zs), *[(x, y, z) for x in along], (xd, y, zd), (xd, top[d], zd)]
            out[e] = _without_repeats(np.asarray(pts, dtype=float))
    return out
