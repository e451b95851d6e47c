"""The activations mode's level of detail: which blocks show feature maps, as how many channel
planes, and how deep their boxes must be to hold them.

``lod="auto"`` decides per block from its size on screen in a first layout (:func:`activation_detail`),
before the final layout, so that a block close to the camera shows its planes and a far one a slab.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from render3d.scene.activations import attention_map, feature_map, stack_depth
from render3d.scene.camera import box_corners, choose_camera, project_points
from render3d.scene.colour import settle_colours
from render3d.scene.fit import MARGIN
from render3d.scene.fold import BlockGraph
from render3d.scene.framing import candidate_views
from render3d.scene.layout import Layout, LayoutParams, layout_graph
from render3d.scene.model import Blocks, FeatureMap
from render3d.scene.style import SceneStyle

#: ``lod="auto"``: a block's on-screen size (pixels, the larger side of its screen box) below which it
#: shows one slab, and above which it shows up to AUTO_ALL_PLANES channel planes
SLAB_PX = 60.0
ALL_PX = 260.0
AUTO_ALL_PLANES = 16


@dataclass(frozen=True)
class FeatureMaps:
    """Feature maps with colour limits settled, and the notes and legend entries they need."""

    feature_maps: list[FeatureMap]
    notes: list[str]
    legend: list[tuple[str, tuple[int, int, int]]]


def activation_detail(
    graph: BlockGraph, params: LayoutParams, style: SceneStyle, mode: str
) -> tuple[LayoutParams, dict[int, SceneStyle]]:
    """In activations mode, each feature-map block's level of detail (``lod="auto"``: from its size on
    screen in a first layout) and the depth its stack of channel planes needs. Rows are still cut with
    the architecture sizes, so deeper stacks never move a block to another row."""
    if mode != "activations" or style.volume:
        return params, {}
    lods = _screen_lods(graph, params.sizes, layout_graph(params), style) if style.lod == "auto" else {}
    return replace(params, sizes=_deepened(graph, params.sizes, style, lods), plan_sizes=params.sizes), lods


def draw_feature_maps(
    graph: BlockGraph, blocks: Blocks, style: SceneStyle, lods: dict[int, SceneStyle], mode: str
) -> FeatureMaps:
    """The activations mode's feature maps beside their blocks, on colour scales settled together."""
    if mode != "activations":
        return FeatureMaps([], [], [])
    maps = []
    for i in _feature_map_blocks(graph, style):
        fm = feature_map(graph.ids[i], graph.last[i], blocks.lower[i], blocks.sizes[i], lods.get(i, style))
        if fm is not None:
            maps.append(fm)
        att = attention_map(graph.ids[i], graph.last[i], blocks.lower[i], blocks.sizes[i], style)
        if att is not None:
            maps.append(att)
    colour = settle_colours(maps, dict(zip(graph.ids, graph.last)), style)
    notes = list(colour.notes)
    if not any(node.activation is not None for node in graph.last):
        notes.append("no activations captured: trace with capture='reduced' or 'full' to see them")
    return FeatureMaps(maps, notes, list(colour.legend))


def _screen_lods(graph: BlockGraph, sizes: np.ndarray, layout: Layout, style: SceneStyle) -> dict[int, SceneStyle]:
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
        directions=candidate_views(style, layout.n_rows > 1),
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


def _deepened(graph: BlockGraph, sizes: np.ndarray, style: SceneStyle, lods: dict[int, SceneStyle]) -> np.ndarray:
    """``sizes`` with blocks that will show a stack of channel planes made deep enough to spread them apart."""
    sizes = sizes.copy()
    for i in _feature_map_blocks(graph, style):
        act = graph.last[i].activation  # set: _feature_map_blocks keeps blocks with an activation
        if act is None or act.data is None or act.layout not in ("map", "volume") or act.data.ndim not in (3, 4):
            continue
        data = act.data
        shape = (data.shape[0], *data.shape[-2:])
        sizes[i, 2] = max(sizes[i, 2], stack_depth(lods.get(i, style), shape, sizes[i]))
    return sizes


def _feature_map_blocks(graph: BlockGraph, style: SceneStyle) -> list[int]:
    """The first ``max_feature_maps`` blocks (in execution order) that have an activation to show."""
    candidates = [i for i in range(len(graph)) if not graph.glyph[i] and graph.last[i].activation is not None]
    return candidates[: style.max_feature_maps]
