"""``build_scene``: a :class:`~render3d.graph.Trace` in, a :class:`~render3d.scene.model.Scene` out.

Pure numpy: this module (and everything it imports) never loads torch, VTK or PyVista.

Pipeline: auto-collapse to ``max_blocks`` → fold chains into blocks (:mod:`.fold`) → box sizes
(:mod:`.geometry`) → layout and connectors (:mod:`.layout`) → feature maps (:mod:`.activations`)
→ camera (:mod:`.camera`) → labels (:mod:`.labels`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from render3d.graph import Trace
from render3d.scene.activations import feature_map
from render3d.scene.camera import box_corners, frame_camera, project
from render3d.scene.fold import BlockGraph, build_block_graph
from render3d.scene.geometry import box_sizes, shape_dims, shape_text
from render3d.scene.labels import LINE_HEIGHT, display_name, place_labels
from render3d.scene.layout import layout_graph, route_connectors
from render3d.scene.model import Blocks, Camera, Labels, Scene, feature_map_bounds
from render3d.scene.style import CATEGORIES, SceneStyle, check_mode, short_type

__all__ = ["SceneStyle", "build_scene", "project"]

LABEL_LIFT = 0.1  # world gap between a block's top face and its label anchor


def build_scene(trace: Trace, mode: str = "architecture", *, style: SceneStyle | None = None,
                **overrides: Any) -> Scene:
    """Lay out ``trace`` as a 3D scene of blocks, connectors, labels and (optionally) feature maps.

    Parameters
    ----------
    trace
        The traced graph, as given (collapse it first with ``trace.collapse(depth)`` if wanted). When
        it has more than ``style.max_blocks`` nodes it is collapsed to the deepest module depth that
        fits, and ``scene.notes`` says so.
    mode
        ``"architecture"`` (blocks only) or ``"activations"`` (feature maps from captured activations).
    style
        A :class:`SceneStyle`; keyword ``overrides`` replace its fields (``fold=False``, ``lod="topk"``).

    Examples
    --------
    >>> from render3d.scene.builder import build_scene
    >>> scene = build_scene(trace, fold=False)  # doctest: +SKIP
    >>> scene.blocks.node_ids[:2]  # doctest: +SKIP
    ['input.0', 'conv1#1']
    """
    check_mode(mode)
    style = (style or SceneStyle()).with_overrides(**overrides)
    notes: list[str] = []
    trace, title = _fit_block_budget(trace, style.max_blocks, notes)

    graph = build_block_graph(trace, fold=style.fold)
    n = len(graph)
    shapes = [node.shape for node in graph.last]
    dims, cls = shape_dims(shapes)
    sizes = box_sizes(shapes, graph.glyph, style.sizing)
    is_input = np.array([h.kind == "input" for h in graph.head], dtype=bool)
    is_output = np.array([h.kind == "output" for h in graph.head], dtype=bool)
    layout = layout_graph(n, graph.src, graph.dst, sizes, dims, cls, is_input, is_output, mode=style.layout,
                          layer_gap=style.layer_gap, lane_gap=style.lane_gap)
    if layout.u_shape:
        notes.append("encoder–decoder detected from shapes: drawn as a U")

    palette = style.colors
    colors = np.array([palette[c] for c in graph.categories], dtype=np.uint8).reshape(-1, 3)
    present = set(graph.categories)
    legend = [(c, palette[c]) for c in CATEGORIES if c in present]
    blocks = Blocks(
        node_ids=list(graph.ids),
        centers=layout.centers,
        sizes=sizes,
        colors=colors,
        categories=list(graph.categories),
        info=[_info(graph, i) for i in range(n)],
        repeats=np.ones(n, dtype=np.int64),
        members=list(graph.members),
    )
    connectors = route_connectors(graph.ids, layout, sizes, graph.src, graph.dst)

    feature_maps = []
    if mode == "activations":
        feature_maps = _feature_maps(graph, layout.main, blocks, style)
        if not any(node.activation is not None for node in graph.last):
            notes.append("no activations captured: trace with capture='reduced' or 'full' to see them")

    scene = Scene(
        title=title,
        mode=mode,
        blocks=blocks,
        connectors=connectors,
        labels=Labels(positions=np.zeros((0, 3)), texts=[], node_ids=[]),
        legend=legend,
        camera=Camera(position=(0.0, 0.0, 1.0), focal_point=(0.0, 0.0, 0.0)),
        feature_maps=feature_maps,
        cmap=style.cmap,
        colorbar_title=style.colorbar_title if mode == "activations" else "",
        notes=notes,
    )
    texts, anchors = _label_texts(graph, blocks)
    scene.camera = _default_camera(scene, anchors, texts, style)
    scene.labels = _labels(graph, layout.main, blocks, texts, anchors, scene.camera, style)
    return scene


# --- steps ------------------------------------------------------------------------------------

def _fit_block_budget(trace: Trace, max_blocks: int, notes: list[str]) -> tuple[Trace, str]:
    title = trace.model if trace.depth is None else f"{trace.model} (depth {trace.depth})"
    if len(trace) <= max_blocks:
        return trace, title
    if not trace.modules:
        notes.append(f"{len(trace)} blocks > max_blocks={max_blocks}, but the trace has no module calls "
                     "to collapse")
        return trace, title
    deepest = max(m.depth for m in trace.modules.values())
    start = deepest if trace.depth is None else min(deepest, trace.depth - 1)
    collapsed = trace
    depth = start
    for depth in range(start, 0, -1):
        collapsed = trace.collapse(depth)
        if len(collapsed) <= max_blocks:
            break
    notes.append(f"collapsed to depth {depth}: {len(trace)} blocks > {max_blocks}")
    if len(collapsed) > max_blocks:
        notes.append(f"still {len(collapsed)} blocks at depth 1")
    return collapsed, f"{trace.model} (depth {depth})"


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _info(graph: BlockGraph, i: int) -> str:
    head, last = graph.head[i], graph.last[i]
    members = graph.members[i]
    types = " + ".join(graph.types[i])
    lines = [head.id if len(members) == 1 else f"{head.id} … {last.id}", f"type: {types}",
             f"category: {graph.categories[i]}", f"shape: {shape_text(last.shape)}",
             f"params: {int(graph.params[i]):,}"]
    if len(members) > 1:
        lines.append(f"folded: {', '.join(members)}")
    st = last.stats
    if st is not None:
        lines.append(f"min / max: {_fmt(st.min)} / {_fmt(st.max)}")
        lines.append(f"p1 / p99: {_fmt(st.p1)} / {_fmt(st.p99)}")
        lines.append(f"mean ± std: {_fmt(st.mean)} ± {_fmt(st.std)}")
        lines.append(f"zero fraction: {st.zero_fraction:.1%}")
        if st.nan_count or st.inf_count:
            lines.append(f"NaN: {st.nan_count:,}  Inf: {st.inf_count:,}")
    return "\n".join(lines)


def _label_texts(graph: BlockGraph, blocks: Blocks) -> tuple[list[str], np.ndarray]:
    texts = []
    for i in range(len(graph)):
        name = display_name(graph.head[i])
        tail = graph.types[i][1:]
        folded = f"+{'+'.join(short_type(t) for t in tail)}\n" if tail else ""
        texts.append(f"{name}\n{folded}{shape_text(graph.last[i].shape)}")
    anchors = blocks.centers.copy()
    anchors[:, 1] += blocks.sizes[:, 1] / 2 + LABEL_LIFT
    return texts, anchors


def _feature_maps(graph: BlockGraph, main: np.ndarray, blocks: Blocks, style: SceneStyle) -> list:
    candidates = [i for i in range(len(graph)) if not graph.glyph[i] and graph.last[i].activation is not None]
    candidates.sort(key=lambda i: (not main[i], i))
    chosen = sorted(candidates[: style.max_feature_maps])
    if not chosen:
        return []
    lower, upper = blocks.lower, blocks.upper
    extent = float(max(np.ptp(np.concatenate([lower[:, 0], upper[:, 0]])),
                       np.ptp(np.concatenate([lower[:, 1], upper[:, 1]])), 1e-9))
    maps = []
    for i in chosen:
        fm = feature_map(graph.ids[i], graph.last[i], lower[i], blocks.sizes[i], style, extent)
        if fm is not None:
            maps.append(fm)
    return maps


def _framing_points(scene: Scene, anchors: np.ndarray) -> np.ndarray:
    pts = [box_corners(scene.blocks.lower, scene.blocks.upper), anchors]
    if scene.connectors:
        pts.append(np.concatenate([c.points for c in scene.connectors]))
    for fm in scene.feature_maps:
        lo, hi = feature_map_bounds(fm)
        pts.append(box_corners(lo, hi))
    return np.concatenate(pts)


def _default_camera(scene: Scene, anchors: np.ndarray, texts: list[str], style: SceneStyle) -> Camera:
    """Frame blocks, connectors, feature maps and the first row of labels."""
    pts = _framing_points(scene, anchors)
    kw = dict(size=style.image_size, view_angle=style.view_angle, azimuth=style.azimuth,
              elevation=style.elevation)
    camera = frame_camera(pts, **kw)
    if style.labels == "none" or not len(anchors):
        return camera
    # leave room above each anchor for one row of text (two lines), measured at the first framing
    lines = np.array([t.count("\n") + 1 for t in texts], dtype=float)
    height_px = style.image_size[1]
    focal_px = (height_px / 2) / np.tan(np.radians(style.view_angle) / 2)
    dist = np.linalg.norm(anchors - np.asarray(camera.position), axis=1)
    lift = lines * LINE_HEIGHT * style.font_px * dist / focal_px * 1.1
    tops = anchors.copy()
    tops[:, 1] += lift
    return frame_camera(np.concatenate([pts, tops]), **kw)


def _labels(graph: BlockGraph, main: np.ndarray, blocks: Blocks, texts: list[str], anchors: np.ndarray,
            camera: Camera, style: SceneStyle) -> Labels:
    if style.labels == "none":
        return Labels(positions=np.zeros((0, 3)), texts=[], node_ids=[])
    keep = np.ones(len(graph), dtype=bool)
    if style.labels == "main":
        keep = main.copy()
    idx = np.flatnonzero(keep)
    # priority: main path, then branches, then glyph ops; left to right within each
    priority = (graph.glyph[idx] * 2 + (~main[idx]) * 1) * (len(graph) + 1) + np.argsort(
        np.argsort(blocks.centers[idx, 0], kind="stable"), kind="stable")
    return place_labels([texts[i] for i in idx], [graph.ids[i] for i in idx], anchors[idx], priority, camera,
                        size=style.image_size, font_px=style.font_px, thin=style.labels != "all")
