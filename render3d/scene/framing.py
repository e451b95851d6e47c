"""The camera and the labels of a scene being built: which blocks get a label and in what order, a
first camera that makes room for every label, the labels placed for it, and the camera refitted to
the labels kept (:func:`frame_and_label`).

Everything here works on a :class:`Drawing` (blocks, connectors, feature maps) and the overlays'
keep-out rectangles, so the builder constructs its :class:`~render3d.scene.model.Scene` once, with
the final camera and labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from render3d.scene.camera import box_corners, camera_basis, choose_camera, focal_px, project_points, view_directions
from render3d.scene.fit import MARGIN, fit_with_labels, framing_points
from render3d.scene.flags import flag_badges
from render3d.scene.fold import BlockGraph
from render3d.scene.geometry import shape_text
from render3d.scene.labels import PAD_PX, label_box_px, place_labels
from render3d.scene.layout import Layout
from render3d.scene.model import Blocks, Camera, Connector, FeatureMap, Labels, feature_map_bounds, repeat_shadows
from render3d.scene.names import block_names
from render3d.scene.style import AUTO_AZIMUTHS, AUTO_ELEVATIONS, WRAP_AZIMUTHS, SceneStyle, short_type

LABEL_LIFT = 0.1  # world gap between a block's top face and its label anchor
Keepouts = Sequence[tuple[float, float, float, float]]


@dataclass(frozen=True)
class Drawing:
    """What is drawn in 3D (a :class:`~render3d.scene.model.Drawn`): what the camera must frame."""

    blocks: Blocks
    connectors: list[Connector]
    feature_maps: list[FeatureMap]


@dataclass(frozen=True)
class LabelCandidates:
    """Every block's label text and where it may go; which blocks may get one and in what order."""

    texts: list[str]
    ids: list[str]
    anchors: np.ndarray  # (N, 3) above the back edge of a block's top face (or of its last ×N copy)
    below: np.ndarray  # (N, 3) under the front edge of its bottom face
    keep: np.ndarray  # (K,) int, blocks that may get a label (``style.labels``)
    priority: np.ndarray  # (K,) placement order of those, lowest first


def label_candidates(graph: BlockGraph, layout: Layout, blocks: Blocks, style: SceneStyle) -> LabelCandidates:
    """Each block's label (name, ×N, folded types, shape), its anchors, and the order labels claim
    space in: ×N blocks first (the badge is the point of folding), then the main path, branches and
    glyph ops, left to right within each."""
    texts = []
    for i, name in enumerate(block_names(graph.head)):
        if graph.head[i].repeats > 1:
            name = f"{name} ×{graph.head[i].repeats}"
        tail = graph.types[i][1:]
        folded = f"+{'+'.join(short_type(t) for t in tail)}\n" if tail else ""
        texts.append(f"{name}\n{folded}{shape_text(graph.last[i].shape)}")
    main = layout.main
    keep = np.flatnonzero(main if style.labels == "main" else np.ones(len(graph), dtype=bool))
    folded_first = np.array([graph.head[i].repeats > 1 for i in keep], dtype=bool)
    priority = (graph.glyph[keep] * 2 + (~main[keep]) * 1 - folded_first * 3) * (len(graph) + 1) + np.argsort(
        np.lexsort((blocks.centers[keep, 0], layout.layer[keep])), kind="stable"
    )
    # under the bottom face's front edge, the lowest point of the box
    below = blocks.centers.copy()
    below[:, 1] -= blocks.sizes[:, 1] / 2 + LABEL_LIFT
    below[:, 2] += blocks.sizes[:, 2] / 2
    return LabelCandidates(
        texts=texts, ids=list(graph.ids), anchors=_label_anchors(blocks), below=below, keep=keep, priority=priority
    )


def frame_and_label(
    drawing: Drawing, candidates: LabelCandidates, keepouts: Keepouts, style: SceneStyle, wrapped: bool
) -> tuple[Camera, Labels]:
    """The camera and the labels placed for it. A first camera makes room for every label's text box;
    labels are placed for it; then (unless the view is fixed and nothing is labelled) the camera is
    refitted to the labels actually kept (dropped ones made room for nothing) and they are placed again."""
    camera = _first_camera(drawing, candidates, keepouts, style, wrapped)
    labels = _place_labels(drawing, candidates, camera, keepouts, style)
    if style.azimuth is None or style.elevation is None or len(labels):
        camera = fit_with_labels(drawing, labels, camera, scene_size(style), keepouts)
        labels = _place_labels(drawing, candidates, camera, keepouts, style)
    return camera, labels


def _label_anchors(blocks: Blocks) -> np.ndarray:
    """(N, 3) above the back edge of each block's top face (the highest point of the box seen from
    above), or of the last copy behind a ×N block."""
    anchors = blocks.centers.copy()
    anchors[:, 1] += blocks.sizes[:, 1] / 2 + LABEL_LIFT
    anchors[:, 2] -= blocks.sizes[:, 2] / 2
    s_lo, s_hi, s_owner = repeat_shadows(blocks)
    if len(s_owner):
        top = blocks.upper[:, 1].copy()
        np.maximum.at(top, s_owner, s_hi[:, 1])
        back = blocks.lower[:, 2].copy()
        np.minimum.at(back, s_owner, s_lo[:, 2])
        anchors[:, 1] = top + LABEL_LIFT
        anchors[:, 2] = back
    return anchors


def scene_size(style: SceneStyle) -> tuple[int, int]:
    """The style's image size as the Scene's tuple (a list given as an override becomes one)."""
    width, height = style.image_size
    return (width, height)


def candidate_views(style: SceneStyle, wrapped: bool) -> list[np.ndarray]:
    """Candidate view directions: the style's fixed azimuth/elevation, or a few three-quarter views.
    Rows of a wrapped layout are seen nearly face on, so they stay apart on screen instead of
    slanting into each other."""
    if style.azimuth is not None:
        azimuths: tuple[float, ...] = (float(style.azimuth),)
    else:
        azimuths = WRAP_AZIMUTHS if wrapped else AUTO_AZIMUTHS
    elevations = AUTO_ELEVATIONS if style.elevation is None else (float(style.elevation),)
    return view_directions(azimuths, elevations)


def _first_camera(
    drawing: Drawing, candidates: LabelCandidates, keepouts: Keepouts, style: SceneStyle, wrapped: bool
) -> Camera:
    """Frame blocks, connectors, feature maps and the label boxes tightly, clear of the overlays.

    With ``azimuth``/``elevation`` left at ``None`` the view is chosen among a few three-quarter views
    (:func:`~render3d.scene.camera.choose_camera`): long chains get a more oblique view, so they
    recede diagonally and use the image's height instead of being a thin strip across its middle.
    """
    anchors = candidates.anchors
    pts = framing_points(drawing, anchors)
    size = scene_size(style)
    probes = drawing.blocks.centers
    choose = partial(choose_camera, size=size, view_angle=style.view_angle, margin=MARGIN * size[1], keepouts=keepouts)
    camera = choose(pts, probes, directions=candidate_views(style, wrapped))
    if style.labels == "none" or not len(anchors):
        return camera
    # make room for each label's text box, measured with the first camera
    boxes = label_box_px(candidates.texts, style.font_px * size[1] / 1080)
    _, right, up, _ = camera_basis(camera)
    wpp = np.linalg.norm(anchors - np.asarray(camera.position), axis=1) / focal_px(style.view_angle, size[1])
    top = anchors + up * ((boxes[:, 1] + 2 * PAD_PX) * wpp)[:, None]
    half = right * (boxes[:, 0] / 2 * wpp)[:, None]
    directions = [np.subtract(camera.position, camera.focal_point)]
    return choose(np.concatenate([pts, top - half, top + half]), probes, directions=directions)


def _place_labels(
    drawing: Drawing, candidates: LabelCandidates, camera: Camera, keepouts: Keepouts, style: SceneStyle
) -> Labels:
    """The labels that fit for ``camera``, off every block, feature map, overlay and flag badge."""
    if style.labels == "none":
        return Labels(positions=np.zeros((0, 3)), texts=[], node_ids=[])
    size = style.image_size
    keep = candidates.keep
    obstacles = _obstacles_px(drawing, camera, size)
    badges = flag_badges(drawing.blocks, camera, size).boxes  # after the keep-outs: no label owns one
    return place_labels(
        [candidates.texts[i] for i in keep],
        [candidates.ids[i] for i in keep],
        candidates.anchors[keep],
        candidates.priority,
        camera,
        size=size,
        font_px=style.font_px * size[1] / 1080,
        thin=style.labels != "all",
        below=candidates.below[keep],
        obstacles=np.concatenate([obstacles, np.asarray(keepouts, dtype=float).reshape(-1, 4), badges]),
        owner=keep,
    )


def _obstacles_px(drawing: Drawing, camera: Camera, size: tuple[int, int]) -> np.ndarray:
    """(N, 4) screen box of every block with its feature maps and ×N copies: labels stay off them."""
    blocks = drawing.blocks
    n = len(blocks)
    lo, hi = blocks.lower.copy(), blocks.upper.copy()
    for fm in drawing.feature_maps:
        k = blocks.index(fm.block_id)
        f_lo, f_hi = feature_map_bounds(fm)
        lo[k], hi[k] = np.minimum(lo[k], f_lo), np.maximum(hi[k], f_hi)
    s_lo, s_hi, s_owner = repeat_shadows(blocks)
    np.minimum.at(lo, s_owner, s_lo)
    np.maximum.at(hi, s_owner, s_hi)
    px = project_points(camera, box_corners(lo, hi), size).reshape(8, n, 2)
    return np.column_stack(
        [px[..., 0].min(axis=0), px[..., 1].min(axis=0), px[..., 0].max(axis=0), px[..., 1].max(axis=0)]
    )
