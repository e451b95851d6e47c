"""``build_scene``: a :class:`~render3d.graph.Trace` in, a :class:`~render3d.scene.model.Scene` out.

Pure numpy: this module (and everything it imports) never loads torch, VTK or PyVista.

Pipeline, one stage a function returning a value, the Scene constructed once at the end:

1. :func:`run_graph_passes`: the graph passes (:data:`render3d.passes.pipeline.SCENE_PASSES`: key/value
   caches as one badge, call sites, fold repeated blocks and auto-collapse to ``max_blocks``, unfold,
   expand) and the primary output (:mod:`.outputs`) → :class:`PassedGraph`;
2. :func:`~render3d.scene.fold.build_block_graph`: chains folded into blocks → ``BlockGraph``;
3. :func:`layout_inputs`: box sizes (:mod:`.geometry`), residual spine, encoder/decoder stacks
   (:mod:`.stacks`) → :class:`~render3d.scene.layout.LayoutParams`; in activations mode
   :func:`~render3d.scene.detail.activation_detail` picks each feature map's detail and deepens the
   boxes that show stacks of channel planes;
4. :func:`~render3d.scene.layout.layout_graph` → ``Layout``;
5. :func:`draw_geometry`: boxes, colours, health flags, connectors (:mod:`.connectors`) → :class:`Geometry`;
6. :func:`~render3d.scene.detail.draw_feature_maps` (:mod:`.activations`, :mod:`.colour`) → ``FeatureMaps``;
7. :func:`~render3d.scene.framing.label_candidates`: label texts, anchors and placement order;
8. :func:`~render3d.scene.framing.frame_and_label`: the camera (:mod:`.camera`, :mod:`.fit`) and the
   labels placed for it (:mod:`.labels`), clear of the overlays.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from render3d.graph import Trace
from render3d.passes import PassContext, group_call_sites, original_members, run_passes
from render3d.scene.camera import project
from render3d.scene.connectors import route_connectors
from render3d.scene.detail import activation_detail, draw_feature_maps
from render3d.scene.flags import scene_flags
from render3d.scene.fold import BlockGraph, build_block_graph
from render3d.scene.framing import Drawing, frame_and_label, label_candidates, scene_size
from render3d.scene.geometry import box_sizes, shape_dims, shape_text
from render3d.scene.layout import Layout, LayoutParams, layout_graph, residual_branches
from render3d.scene.model import Blocks, Connector, Scene, scene_overlays
from render3d.scene.outputs import primary_output
from render3d.scene.stacks import seq2seq_stacks
from render3d.scene.style import CATEGORIES, SceneStyle, check_mode

__all__ = ["SceneStyle", "build_scene", "project"]


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
    passed = run_graph_passes(trace, style, expanded)
    graph = build_block_graph(passed.trace, fold=style.fold)
    params = layout_inputs(graph, passed.primary, style)
    params, lods = activation_detail(graph, params, style, mode)
    layout = layout_graph(params)
    geometry = draw_geometry(graph, passed, layout, params, style)
    maps = draw_feature_maps(graph, geometry.blocks, style, lods, mode)
    notes = [*geometry.flag_notes, *passed.notes, *layout_notes(layout, params), *maps.notes]
    legend = [*geometry.legend, *maps.legend]
    size = scene_size(style)
    keepouts = scene_overlays(size, passed.title, notes, legend, maps.feature_maps).keepouts()
    drawing = Drawing(geometry.blocks, geometry.connectors, maps.feature_maps)
    candidates = label_candidates(graph, layout, geometry.blocks, style)
    camera, labels = frame_and_label(drawing, candidates, keepouts, style, layout.n_rows > 1)
    return Scene(
        title=passed.title,
        mode=mode,
        blocks=geometry.blocks,
        connectors=geometry.connectors,
        labels=labels,
        legend=legend,
        camera=camera,
        feature_maps=maps.feature_maps,
        cmap=style.cmap,
        colorbar_title=style.colorbar_text if mode == "activations" else "",
        notes=notes,
        size=size,
    )


# --- stage values -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PassedGraph:
    """The trace as the graph passes leave it, and what the scene says about them."""

    original: Trace  # call sites grouped: the trace the blocks' members and flags refer to
    trace: Trace  # folded, collapsed, expanded: one node per drawn block (before chains fold)
    title: str
    notes: list[str]
    primary: str | None  # the output the main path ends at (logits, last_hidden_state)
    #: each drawn node's nodes of ``original`` (empty when the passes changed nothing)
    members: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Geometry:
    """The boxes and the polylines between them, with their legend entries and the health note."""

    blocks: Blocks
    connectors: list[Connector]
    legend: list[tuple[str, tuple[int, int, int]]]  # one per category present, then one per health flag
    flag_notes: list[str]  # the health summary, shown first under the title (empty when healthy)


# --- stages -----------------------------------------------------------------------------------


def run_graph_passes(trace: Trace, style: SceneStyle, expanded: Collection[str]) -> PassedGraph:
    """Run the scene's graph passes: what is drawn is decided on the graph, before any geometry."""
    original = group_call_sites(trace)  # ops grouped by the function/loop that ran them
    context = PassContext.for_trace(
        original,
        max_blocks=style.max_blocks,
        fold_repeats=style.fold_repeats,
        unfold=style.unfold_first,
        expand=expanded,
    )
    drawn = run_passes(original, context)
    return PassedGraph(
        original=original,
        trace=drawn,
        title=context.title,
        notes=context.notes,
        primary=primary_output(original),
        members=original_members(original, drawn),
    )


def layout_inputs(graph: BlockGraph, primary: str | None, style: SceneStyle) -> LayoutParams:
    """Box sizes from the output shapes, the main path's ends, the residual spine and encoder/decoder
    stacks: everything the layout reads, gathered once so it can be rerun with other box sizes."""
    shapes = [node.shape for node in graph.last]
    dims, cls = shape_dims(shapes)
    is_input = np.array([h.kind == "input" for h in graph.head], dtype=bool)
    # the main path ends at the primary output (logits, last_hidden_state), else at any output
    is_output = np.array([h.kind == "output" for h in graph.head], dtype=bool)
    if primary in graph.ids:
        is_output = np.array([i == primary for i in graph.ids], dtype=bool)
    residuals = None
    if style.spine:
        residuals = residual_branches(len(graph), graph.src, graph.dst, graph.categories, [h.type for h in graph.head])
    stacks = None
    if style.layout == "auto":
        stacks = seq2seq_stacks([h.scope for h in graph.head], graph.src, graph.dst, is_input)
    return LayoutParams(
        src=graph.src,
        dst=graph.dst,
        sizes=box_sizes(shapes, graph.glyph, style.sizing),
        dims=dims,
        cls=cls,
        is_input=is_input,
        is_output=is_output,
        repeats=np.array([h.repeats for h in graph.head], dtype=np.int64),
        image_size=style.image_size,
        residuals=residuals,
        stacks=stacks,
        mode=style.layout,
        layer_gap=style.layer_gap,
        lane_gap=style.lane_gap,
        wrap=style.wrap,
    )


def draw_geometry(
    graph: BlockGraph, passed: PassedGraph, layout: Layout, params: LayoutParams, style: SceneStyle
) -> Geometry:
    """The boxes where the layout put them, coloured by category and flagged by health, and the
    connectors routed between them."""
    palette = style.colors
    present = set(graph.categories)
    # in terms of the trace given: a ×N or collapsed block lists every node it stands for
    members = [tuple(m for k in ms for m in passed.members.get(k, (k,))) for ms in graph.members]
    flags, flag_legend, flag_note = scene_flags(passed.original, members)
    info = [_info(graph, i) for i in range(len(graph))]
    blocks = Blocks(
        node_ids=list(graph.ids),
        centers=layout.centers,
        sizes=params.sizes,
        colors=np.array([palette[c] for c in graph.categories], dtype=np.uint8).reshape(-1, 3),
        categories=list(graph.categories),
        info=[f"{text}\nflags: {', '.join(f)}" if f else text for text, f in zip(info, flags)],
        repeats=params.repeats,
        members=members,
        folded=[h.folded for h in graph.head],
        flags=flags,
    )
    residual_edges = params.residuals.edges if params.residuals is not None else None
    return Geometry(
        blocks=blocks,
        connectors=route_connectors(graph.ids, layout, params.sizes, graph.src, graph.dst, residual_edges),
        legend=[(c, palette[c]) for c in CATEGORIES if c in present] + flag_legend,
        flag_notes=[f"flags: {flag_note}"] if flag_note else [],
    )


def layout_notes(layout: Layout, params: LayoutParams) -> list[str]:
    """What the reader should know about the layout: a U, two stacks, wrapped rows, a residual spine."""
    notes = []
    if layout.u_shape:
        notes.append("encoder–decoder detected from shapes: drawn as a U")
    if params.stacks is not None:
        notes.append("encoder–decoder: encoder row above, decoder row below, cross-attention bridges between")
    elif layout.n_rows > 1:
        notes.append(f"wrapped into {layout.n_rows} rows, read top to bottom")
    if params.residuals is not None and params.residuals.edges:
        notes.append(f"residual stream drawn as a spine: {len(params.residuals.edges)} side-car branches")
    return notes


# --- steps ------------------------------------------------------------------------------------


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
