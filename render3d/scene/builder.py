"""``build_scene``: a :class:`~render3d.graph.Trace` in, a :class:`~render3d.scene.model.Scene` out.

Pure numpy: this module (and everything it imports) never loads torch, VTK or PyVista.

Pipeline: the graph passes (:data:`render3d.passes.pipeline.SCENE_PASSES`: key/value caches as one
badge, call sites, fold repeated blocks and auto-collapse to ``max_blocks``, unfold, expand) and the
primary output (:mod:`.outputs`) → fold chains into blocks (:mod:`.fold`)
→ box sizes (:mod:`.geometry`) → encoder/decoder stacks (:mod:`.stacks`) → layout and connectors
(:mod:`.layout`) → feature maps (:mod:`.activations`) → camera (:mod:`.camera`) → labels (:mod:`.labels`).
"""

from __future__ import annotations

from collections.abc import Collection
from functools import partial
from typing import Any

import numpy as np

from render3d.graph import Trace
from render3d.passes import PassContext, group_call_sites, original_members, run_passes
from render3d.scene.activations import attention_map, feature_map, stack_depth
from render3d.scene.camera import box_corners, camera_basis, choose_camera, focal_px, project, project_points
from render3d.scene.colour import settle_colours
from render3d.scene.connectors import route_connectors
from render3d.scene.fit import MARGIN, framing_points, refit_camera
from render3d.scene.flags import scene_flags
from render3d.scene.fold import BlockGraph, build_block_graph
from render3d.scene.geometry import box_sizes, shape_dims, shape_text
from render3d.scene.labels import PAD_PX, label_box_px, place_labels
from render3d.scene.layout import layout_graph, residual_branches
from render3d.scene.model import MAX_SHADOWS, Blocks, Camera, Labels, Scene, feature_map_bounds, repeat_shadows
from render3d.scene.names import block_names
from render3d.scene.outputs import primary_output
from render3d.scene.stacks import seq2seq_stacks
from render3d.scene.style import (
    AUTO_AZIMUTHS,
    AUTO_ELEVATIONS,
    CATEGORIES,
    WRAP_AZIMUTHS,
    SceneStyle,
    check_mode,
    short_type,
)

__all__ = ["SceneStyle", "build_scene", "project"]

LABEL_LIFT = 0.1  # world gap between a block's top face and its label anchor


def build_scene(
    trace: Trace,
    mode: str = "architecture",
    *,
    style: SceneStyle | None = None,
    expanded: Collection[str] = (),
    **overrides: Any,
) -> Scene:
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
    expanded
        Ids of ``×N`` blocks (``scene.blocks.node_ids`` of a scene built without it) to draw as their
        N repeats, one block each: a window's click on a ``×N`` block. Other ids are ignored.

    Examples
    --------
    >>> from render3d.scene.builder import build_scene
    >>> scene = build_scene(trace, fold=False)  # doctest: +SKIP
    >>> scene.blocks.node_ids[:2]  # doctest: +SKIP
    ['input.0', 'conv1#1']
    """
    check_mode(mode)
    style = (style or SceneStyle()).with_overrides(**overrides)
    original = group_call_sites(trace)  # ops grouped by the function/loop that ran them
    passes = PassContext.for_trace(
        original,
        max_blocks=style.max_blocks,
        fold_repeats=style.fold_repeats,
        unfold=style.unfold_first,
        expand=expanded,
    )
    trace = run_passes(original, passes)
    notes, title = passes.notes, passes.title
    primary = primary_output(original)
    expand = original_members(original, trace)

    graph = build_block_graph(trace, fold=style.fold)
    n = len(graph)
    shapes = [node.shape for node in graph.last]
    dims, cls = shape_dims(shapes)
    sizes = box_sizes(shapes, graph.glyph, style.sizing)
    is_input = np.array([h.kind == "input" for h in graph.head], dtype=bool)
    # the main path ends at the primary output (logits, last_hidden_state), else at any output
    is_output = np.array([h.kind == "output" for h in graph.head], dtype=bool)
    if primary in graph.ids:
        is_output = np.array([i == primary for i in graph.ids], dtype=bool)
    residuals = None
    if style.spine:
        residuals = residual_branches(n, graph.src, graph.dst, graph.categories, [h.type for h in graph.head])

    reps = np.array([h.repeats for h in graph.head], dtype=np.int64)
    stacks = None
    if style.layout == "auto":
        stacks = seq2seq_stacks([h.scope for h in graph.head], graph.src, graph.dst, is_input)
    # rows are cut with the architecture sizes: feature-map stacks never move a block to another row
    plan_sizes = sizes.copy()

    def do_layout(sz: np.ndarray):
        # how far the stacked copies behind a ×N block reach above it (see repeat_shadows)
        rise = np.clip(0.08 * np.maximum(sz[:, 0], sz[:, 1]), 0.14, 0.5) * np.clip(reps - 1, 0, MAX_SHADOWS)
        return layout_graph(
            n,
            graph.src,
            graph.dst,
            sz,
            dims,
            cls,
            is_input,
            is_output,
            mode=style.layout,
            layer_gap=style.layer_gap,
            lane_gap=style.lane_gap,
            residuals=residuals,
            wrap=style.wrap,
            image_size=style.image_size,
            rise=rise,
            stacks=stacks,
            plan_sizes=plan_sizes,
        )

    styles: dict[int, SceneStyle] = {}
    if mode == "activations" and not style.volume:
        if style.lod == "auto":
            styles = _screen_lods(graph, sizes, do_layout(sizes), style)
        _deepen_for_planes(graph, sizes, style, styles)
    layout = do_layout(sizes)
    if layout.u_shape:
        notes.append("encoder–decoder detected from shapes: drawn as a U")
    if stacks is not None:
        notes.append("encoder–decoder: encoder row above, decoder row below, cross-attention bridges between")
    elif layout.n_rows > 1:
        notes.append(f"wrapped into {layout.n_rows} rows, read top to bottom")

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
        repeats=np.array([h.repeats for h in graph.head], dtype=np.int64),
        # in terms of the trace given: a ×N or collapsed block lists every node it stands for
        members=[tuple(m for k in ms for m in expand.get(k, (k,))) for ms in graph.members],
        folded=[h.folded for h in graph.head],
    )
    blocks.flags, flag_legend, flag_note = scene_flags(original, blocks.members)
    blocks.info = [f"{text}\nflags: {', '.join(f)}" if f else text for text, f in zip(blocks.info, blocks.flags)]
    legend += flag_legend
    if flag_note:
        notes.insert(0, f"flags: {flag_note}")
    connectors = route_connectors(
        graph.ids, layout, sizes, graph.src, graph.dst, residuals.edges if residuals is not None else None
    )
    if residuals is not None and residuals.edges:
        notes.append(f"residual stream drawn as a spine: {len(residuals.edges)} side-car branches")

    feature_maps = []
    if mode == "activations":
        feature_maps = _feature_maps(graph, blocks, style, styles)
        colour = settle_colours(feature_maps, dict(zip(graph.ids, graph.last)), style)
        notes += colour.notes
        legend += colour.legend
        if not any(node.activation is not None for node in graph.last):
            notes.append("no activations captured: trace with capture='reduced' or 'full' to see them")

    width, height = style.image_size  # a list given as an override becomes the Scene's tuple
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
        colorbar_title=style.colorbar_text if mode == "activations" else "",
        notes=notes,
        size=(width, height),
    )
    texts, anchors = _label_texts(graph, blocks)
    scene.camera = _default_camera(scene, anchors, texts, style, layout.n_rows > 1)
    scene.labels = _labels(graph, layout, blocks, texts, anchors, scene.camera, style, scene)
    if style.azimuth is None or style.elevation is None or len(scene.labels):
        # refit with the labels that were actually kept (dropped ones made room for nothing), then place
        # them again for the final camera
        scene.camera = refit_camera(scene)
        scene.labels = _labels(graph, layout, blocks, texts, anchors, scene.camera, style, scene)
    return scene


# --- steps ------------------------------------------------------------------------------------

#: ``lod="auto"``: a block's on-screen size (pixels, the larger side of its screen box) below which it
#: shows one slab, and above which it shows up to AUTO_ALL_PLANES channel planes
SLAB_PX = 60.0
ALL_PX = 260.0
AUTO_ALL_PLANES = 16


def _screen_lods(graph: BlockGraph, sizes: np.ndarray, layout, style: SceneStyle) -> dict[int, SceneStyle]:
    """Level of detail per feature-map block from its projected size under a first camera."""
    blocks = _feature_map_blocks(graph, style)
    if not blocks:
        return {}
    lo, hi = layout.centers - sizes / 2, layout.centers + sizes / 2
    size = style.image_size
    camera = choose_camera(
        box_corners(lo, hi),
        layout.centers,
        size=size,
        view_angle=style.view_angle,
        azimuths=_azimuths(style, layout.n_rows > 1),
        elevations=AUTO_ELEVATIONS if style.elevation is None else (float(style.elevation),),
        margin=MARGIN * size[1],
    )
    idx = np.asarray(blocks)
    px = project_points(camera, box_corners(lo[idx], hi[idx]), size).reshape(8, len(idx), 2)
    extent = np.nanmax(np.stack([px[..., 0].max(0) - px[..., 0].min(0), px[..., 1].max(0) - px[..., 1].min(0)]), axis=0)
    slab = style.with_overrides(lod="slab")
    every = style.with_overrides(lod="all", max_planes=min(style.max_planes, AUTO_ALL_PLANES))
    out: dict[int, SceneStyle] = {}
    for i, e in zip(idx.tolist(), extent.tolist()):
        if not np.isfinite(e) or e < SLAB_PX:
            out[i] = slab
        elif e > ALL_PX:
            out[i] = every
    return out


def _deepen_for_planes(graph: BlockGraph, sizes: np.ndarray, style: SceneStyle, styles: dict[int, SceneStyle]) -> None:
    """Give blocks that will show a stack of channel planes the depth to spread them apart."""
    for i in _feature_map_blocks(graph, style):
        act = graph.last[i].activation  # set: _feature_map_blocks keeps blocks with an activation
        if act is None or act.data is None or act.layout not in ("map", "volume") or act.data.ndim not in (3, 4):
            continue
        data = act.data
        shape = (data.shape[0], *data.shape[-2:])
        sizes[i, 2] = max(sizes[i, 2], stack_depth(styles.get(i, style), shape, sizes[i]))


def _feature_map_blocks(graph: BlockGraph, style: SceneStyle) -> list[int]:
    candidates = [i for i in range(len(graph)) if not graph.glyph[i] and graph.last[i].activation is not None]
    main_first = sorted(candidates, key=lambda i: i)
    return sorted(main_first[: style.max_feature_maps])


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _info(graph: BlockGraph, i: int) -> str:
    head, last = graph.head[i], graph.last[i]
    members = graph.members[i]
    types = " + ".join(graph.types[i])
    lines = [
        head.id if len(members) == 1 else f"{head.id} … {last.id}",
        f"type: {types}",
        f"category: {graph.categories[i]}",
        f"shape: {shape_text(last.shape)}",
        f"params: {int(graph.params[i]):,}",
    ]
    if len(members) > 1:
        lines.append(f"folded: {', '.join(members)}")
    if head.repeats > 1:
        lines.append(f"repeats: ×{head.repeats} ({', '.join(head.folded)})")
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
    for i, name in enumerate(block_names(graph.head)):
        if graph.head[i].repeats > 1:
            name = f"{name} ×{graph.head[i].repeats}"
        tail = graph.types[i][1:]
        folded = f"+{'+'.join(short_type(t) for t in tail)}\n" if tail else ""
        texts.append(f"{name}\n{folded}{shape_text(graph.last[i].shape)}")
    # above the top face's back edge: the highest point of the box seen from above
    anchors = blocks.centers.copy()
    anchors[:, 1] += blocks.sizes[:, 1] / 2 + LABEL_LIFT
    anchors[:, 2] -= blocks.sizes[:, 2] / 2
    s_lo, s_hi, s_owner = repeat_shadows(blocks)
    if len(s_owner):  # above the last copy behind a ×N block
        top = blocks.upper[:, 1].copy()
        np.maximum.at(top, s_owner, s_hi[:, 1])
        back = blocks.lower[:, 2].copy()
        np.minimum.at(back, s_owner, s_lo[:, 2])
        anchors[:, 1] = top + LABEL_LIFT
        anchors[:, 2] = back
    return texts, anchors


def _feature_maps(graph: BlockGraph, blocks: Blocks, style: SceneStyle, styles: dict[int, SceneStyle]) -> list:
    maps = []
    for i in _feature_map_blocks(graph, style):
        fm = feature_map(graph.ids[i], graph.last[i], blocks.lower[i], blocks.sizes[i], styles.get(i, style))
        if fm is not None:
            maps.append(fm)
        att = attention_map(graph.ids[i], graph.last[i], blocks.lower[i], blocks.sizes[i], style)
        if att is not None:
            maps.append(att)
    return maps


def _azimuths(style: SceneStyle, wrapped: bool) -> tuple[float, ...]:
    """Candidate azimuths: rows of a wrapped layout are seen nearly face on, so they stay apart on
    screen instead of slanting into each other."""
    if style.azimuth is not None:
        return (float(style.azimuth),)
    return WRAP_AZIMUTHS if wrapped else AUTO_AZIMUTHS


def _default_camera(
    scene: Scene, anchors: np.ndarray, texts: list[str], style: SceneStyle, wrapped: bool = False
) -> Camera:
    """Frame blocks, connectors, feature maps and the label boxes tightly, clear of the overlays.

    With ``azimuth``/``elevation`` left at ``None`` the view is chosen among a few three-quarter views
    (:func:`~render3d.scene.camera.choose_camera`): long chains get a more oblique view, so they
    recede diagonally and use the image's height instead of being a thin strip across its middle.
    """
    pts = framing_points(scene, anchors)
    size = scene.size
    choose = partial(
        choose_camera,
        size=size,
        view_angle=style.view_angle,
        azimuths=_azimuths(style, wrapped),
        elevations=AUTO_ELEVATIONS if style.elevation is None else (float(style.elevation),),
        margin=MARGIN * size[1],
        keepouts=scene.overlays.keepouts(),
    )
    probes = scene.blocks.centers
    camera = choose(pts, probes)
    if style.labels == "none" or not len(anchors):
        return camera
    # make room for each label's text box, measured with the first camera
    boxes = label_box_px(texts, style.font_px * size[1] / 1080)
    _, right, up, _ = camera_basis(camera)
    wpp = np.linalg.norm(anchors - np.asarray(camera.position), axis=1) / focal_px(style.view_angle, size[1])
    top = anchors + up * ((boxes[:, 1] + 2 * PAD_PX) * wpp)[:, None]
    half = right * (boxes[:, 0] / 2 * wpp)[:, None]
    directions = [np.subtract(camera.position, camera.focal_point)]
    return choose(np.concatenate([pts, top - half, top + half]), probes, directions=directions)


def _labels(
    graph: BlockGraph,
    layout,
    blocks: Blocks,
    texts: list[str],
    anchors: np.ndarray,
    camera: Camera,
    style: SceneStyle,
    scene: Scene,
) -> Labels:
    if style.labels == "none":
        return Labels(positions=np.zeros((0, 3)), texts=[], node_ids=[])
    main = layout.main
    keep = np.ones(len(graph), dtype=bool)
    if style.labels == "main":
        keep = main.copy()
    idx = np.flatnonzero(keep)
    # priority: main path, then branches, then glyph ops; left to right within each
    # ×N blocks first: the badge is the point of folding
    folded = np.array([graph.head[i].repeats > 1 for i in idx], dtype=bool)
    priority = (graph.glyph[idx] * 2 + (~main[idx]) * 1 - folded * 3) * (len(graph) + 1) + np.argsort(
        np.lexsort((blocks.centers[idx, 0], layout.layer[idx])), kind="stable"
    )
    size = style.image_size
    # under the bottom face's front edge, the lowest point of the box
    below = blocks.centers.copy()
    below[:, 1] -= blocks.sizes[:, 1] / 2 + LABEL_LIFT
    below[:, 2] += blocks.sizes[:, 2] / 2
    # screen boxes of every block (and feature map) and of the overlays: labels stay off them
    n = len(blocks)
    lo, hi = blocks.lower.copy(), blocks.upper.copy()
    for fm in scene.feature_maps:
        k = blocks.index(fm.block_id)
        f_lo, f_hi = feature_map_bounds(fm)
        lo[k], hi[k] = np.minimum(lo[k], f_lo), np.maximum(hi[k], f_hi)
    s_lo, s_hi, s_owner = repeat_shadows(blocks)
    np.minimum.at(lo, s_owner, s_lo)
    np.maximum.at(hi, s_owner, s_hi)
    px = project(scene, box_corners(lo, hi), size).reshape(8, n, 2)
    obstacles = np.column_stack(
        [px[..., 0].min(axis=0), px[..., 1].min(axis=0), px[..., 0].max(axis=0), px[..., 1].max(axis=0)]
    )
    keepouts = np.asarray(scene.overlays.keepouts(), dtype=float).reshape(-1, 4)
    return place_labels(
        [texts[i] for i in idx],
        [graph.ids[i] for i in idx],
        anchors[idx],
        priority,
        camera,
        size=size,
        font_px=style.font_px * size[1] / 1080,
        thin=style.labels != "all",
        below=below[idx],
        obstacles=np.concatenate([obstacles, keepouts]),
        owner=idx,
    )
