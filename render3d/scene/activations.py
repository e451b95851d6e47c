"""Feature maps for ``mode="activations"``: which blocks get one, level of detail, colour limits.

Which blocks: every visible block that is not a glyph op and whose last node carries an activation
(so a folded conv+bn+relu shows the relu output, and bare relu/view/add/cat ops show none), at most
``max_feature_maps`` of them (the first in execution order). Where: inside the block's own box (inset by 2 % so
no plane coincides with a face), which the planes replace — the renderer draws such blocks as an
outline over a pale backdrop; planes span the box's x (W) and y (H) and are stacked front to back
along z (C), the last one on the front face, so no feature map can overlap another block. In
activations mode the builder deepens such boxes (:func:`stack_depth`) so that consecutive planes
stand ``PLANE_GAP`` of the face apart and each shows a band, LeNet style.

Level of detail for (C, H, W) maps (``lod``):

* ``"slab"``: one plane, the mean over channels (FeatureMap style ``"slab"``);
* ``"topk"``: the ``topk`` channels with the largest mean |activation|, in channel order;
* ``"all"``: every channel, or the ``max_planes`` largest by mean |activation| when there are more;
* ``"auto"``: the ``min(topk, 6)`` strongest channels for maps at least 4×4, ``"slab"`` below.

With ``lod="auto"`` the scene builder refines this by screen size: a block drawn under ~60 pixels
shows a slab, one over ~260 pixels up to 16 planes (``"all"``), the rest the strongest few.

Attention blocks that captured per-head maps (``Activation.attention``, (heads, T, S)) get a second
feature map (:func:`attention_map`): one small plane per head, in a grid standing on the block.

Vectors become a row of ``"bars"`` (at most ``max_bar_cells``, by averaging neighbours), tokens one
(T, D) plane, videos (C, T, H, W) their mean over T. ``volume=True`` draws maps as ``"volume"``.
Colour limits come from the node's stats (p1, p99), falling back to min/max, then to the data, and
never have zero width; :func:`render3d.scene.colour.settle_colours` then places constant layers and
applies ``scale="global"`` once every map of the scene exists.
"""

from __future__ import annotations

import numpy as np

from render3d.graph import Node, Stats
from render3d.scene.model import FeatureMap
from render3d.scene.style import SceneStyle

AUTO_PLANES = 6  # planes per map with lod="auto"
PLANE_GAP = 0.2  # gap between planes / the plane's larger side: each plane shows a readable band
MAX_STACK = 1.6  # deepest plane stack, in faces
ATTENTION_FILL = 0.88  # an attention head's plane fills this much of its grid cell
ATTENTION_LIFT = 0.35  # gap between an attention block's top and its heads' grid
INSET = 0.02  # planes sit this fraction inside the box faces, so they never z-fight with them


def color_limits(stats: Stats | None, values: np.ndarray) -> tuple[float, float]:
    lo = hi = float("nan")
    if stats is not None:
        lo, hi = float(stats.p1), float(stats.p99)
        if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
            lo, hi = float(stats.min), float(stats.max)
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        finite = values[np.isfinite(values)]
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
        else:
            lo, hi = 0.0, 1.0
    if not hi > lo:
        pad = 0.5 * max(abs(lo), 1.0) * 1e-3 if lo != 0 else 0.5
        lo, hi = lo - pad, hi + pad
    return lo, hi


def choose_lod(style: SceneStyle, data_shape: tuple[int, ...]) -> str:
    """Level of detail for a (C, H, W) map: ``style.lod``, or for ``"auto"`` a stack of the strongest
    channels when the map is at least 4×4, else one slab (the channel mean)."""
    if style.lod != "auto":
        return style.lod
    h, w = data_shape[-2:]
    return "topk" if min(h, w) >= 4 and data_shape[0] > 1 else "slab"


def plane_count(style: SceneStyle, data_shape: tuple[int, ...]) -> int:
    """How many channel planes a (C, H, W) map shows (1 for a slab)."""
    lod = choose_lod(style, data_shape)
    c = int(data_shape[0])
    if lod == "slab":
        return 1
    if lod == "topk":
        k = style.topk if style.lod == "topk" else min(style.topk, AUTO_PLANES)
        return min(c, k)
    return min(c, style.max_planes)


def stack_depth(style: SceneStyle, data_shape: tuple[int, ...], block_size: np.ndarray) -> float:
    """The z-depth a block needs so that its planes stand ``PLANE_GAP`` × its face size apart (closer
    for deep stacks: a stack is never deeper than ``MAX_STACK`` × its face)."""
    k = plane_count(style, data_shape)
    face = float(max(block_size[0], block_size[1]))
    return min((k - 1) * PLANE_GAP, MAX_STACK) * face / (1 - 2 * INSET)


def attention_map(
    block_id: str, node: Node, lower: np.ndarray, size: np.ndarray, style: SceneStyle
) -> FeatureMap | None:
    """Per-head attention maps (heads, T', S') of an attention block as a grid of small planes
    standing on top of the block (row 0 of each plane = query 0, column 0 = key 0)."""
    act = node.activation
    att = None if act is None else act.attention
    if att is None or not style.attention or np.ndim(att) != 3 or np.size(att) == 0:
        return None
    values = np.asarray(att, dtype=np.float32)
    heads, t, s = values.shape
    cols = int(np.ceil(np.sqrt(heads)))
    rows = int(np.ceil(heads / cols))
    lower = np.asarray(lower, dtype=float)
    size = np.asarray(size, dtype=float)
    cell = float(max(size[0], 2.0)) / cols
    side = ATTENTION_FILL * cell
    plane = np.array([side * s / max(t, s), side * t / max(t, s)])
    i = np.arange(heads)
    r, c = np.divmod(i, cols)
    offsets = np.column_stack([c * cell, (rows - 1 - r) * cell, np.zeros(heads)])
    origin = np.array(
        [lower[0] + (size[0] - cols * cell) / 2, lower[1] + size[1] + ATTENTION_LIFT, lower[2] + size[2] / 2]
    )
    finite = values[np.isfinite(values)]
    # at least twice the uniform weight: a head that attends evenly (random init) reads as the middle
    # of the colour bar, not as its top, and only real focus on a few keys reaches the bright end
    hi = max(float(np.percentile(finite, 99)) if finite.size else 0.0, 2.0 / s)
    clim = (0.0, hi)
    return FeatureMap(
        f"{block_id}:attention",
        "planes",
        values,
        origin,
        plane,
        0.0,
        clim,
        np.arange(heads),
        offsets=offsets,
        block=block_id,
    )


def _strongest(data: np.ndarray, k: int) -> np.ndarray:
    """Indices (ascending) of the ``k`` channels with the largest mean |activation| (NaN/Inf first)."""
    if k >= data.shape[0]:
        return np.arange(data.shape[0])
    score = np.abs(data.astype(np.float32)).reshape(data.shape[0], -1).mean(axis=1)
    score = np.nan_to_num(score, nan=np.inf)  # a channel holding NaN/Inf is the one to see
    top = np.argpartition(-score, k - 1)[:k]
    return np.sort(top)


def _bars(values: np.ndarray, cap: int) -> np.ndarray:
    """At most ``cap`` cells, each the mean of neighbouring values; a NaN or Inf stays in its cell's mean."""
    f = values.shape[0]
    if f <= cap:
        return values.astype(np.float32)
    group = -(-f // cap)
    cells = -(-f // group)
    padded = np.zeros(group * cells, dtype=np.float32)
    padded[:f] = values
    counts = np.minimum(group, f - np.arange(cells) * group)  # the last cell may be short
    return (padded.reshape(cells, group).sum(axis=1) / counts).astype(np.float32)


def feature_map(node_id: str, node: Node, lower: np.ndarray, size: np.ndarray, style: SceneStyle) -> FeatureMap | None:
    """The feature map of one block whose box spans ``lower`` .. ``lower + size``."""
    act = node.activation
    if act is None or act.data is None or act.data.size == 0:
        return None
    lower = np.asarray(lower, dtype=float) + INSET * np.asarray(size, dtype=float)
    size = np.asarray(size, dtype=float) * (1 - 2 * INSET)
    data = act.values() if act.scale != 1.0 else np.asarray(act.data)  # stats and limits are in true units
    layout = act.layout
    center_z = lower[2] + size[2] / 2
    plane = np.array([size[0], size[1]], dtype=float)
    if layout == "volume" and data.ndim == 4:
        data = data.astype(np.float32).mean(axis=1)
        layout = "map"
    if layout == "map" and data.ndim == 3:
        data = data.astype(np.float32)
        if style.volume:
            c, h, w = data.shape
            spacing = float(min(size[0] / w, size[1] / h, size[2] / c))
            extent = np.array([w, h, c]) * spacing
            origin = lower + (size - extent) / 2
            return FeatureMap(
                node_id, "volume", data, origin, plane, spacing, color_limits(node.stats, data), np.arange(c)
            )
        lod = choose_lod(style, data.shape)
        if lod == "slab":
            values = data.mean(axis=0, keepdims=True)
            origin = np.array([lower[0], lower[1], center_z])
            return FeatureMap(node_id, "slab", values, origin, plane, 0.0, color_limits(node.stats, data), None)
        channels = _strongest(data, plane_count(style, data.shape))
        values = data[channels]
        if len(channels) == 1:
            origin = np.array([lower[0], lower[1], center_z])
            spacing = 0.0
        else:
            origin = lower.astype(float).copy()
            spacing = float(size[2]) / (len(channels) - 1)
        return FeatureMap(node_id, "planes", values, origin, plane, spacing, color_limits(node.stats, data), channels)
    if layout == "tokens" and data.ndim == 2:
        values = data.astype(np.float32)[None]
        origin = np.array([lower[0], lower[1], center_z])
        return FeatureMap(node_id, "planes", values, origin, plane, 0.0, color_limits(node.stats, values), None)
    flat = data.reshape(-1)
    values = _bars(flat, style.max_bar_cells)[None, None, :]
    origin = np.array([lower[0], lower[1], center_z])
    return FeatureMap(node_id, "bars", values, origin, plane, 0.0, color_limits(node.stats, flat), None)
