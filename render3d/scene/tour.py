"""A forward-pass tour as plain data: the stops in data-path order, their narration, and the camera
at every frame (numpy only; :mod:`render3d.rendering.tour` draws it).

A stop is one block of the scene (the scene already folds conv→norm→activation chains and ``×N``
repeats, so a ResNet-18 has ~28 stops). Its text is :func:`~render3d.scene.narration.describe` of the
block's first layer with the shapes entering the block, what the folded-in layers do after it, and,
where the path splits, which way each branch goes around to the block where they join.

Camera: the tour starts and ends on the whole model; each stop looks at its block from the overview's
direction, fitted into the part of the image the caption and the inset leave free, at least
:data:`MIN_VIEW` of the model's size across so a small cube keeps its neighbours in view. Between two
stops the camera glides: its focal point eased with ``smoothstep``, its distance interpolated on a
log scale (a zoom in or out looks even).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from render3d.graph import Node, Trace
from render3d.scene.camera import box_corners, camera_basis, choose_camera, fit_view, point3
from render3d.scene.fit import MARGIN, framing_points
from render3d.scene.geometry import shape_text
from render3d.scene.labels import text_width
from render3d.scene.model import Camera, Scene, feature_map_bounds
from render3d.scene.narration import describe, follow_up, layer_name

__all__ = [
    "Frame",
    "Layout",
    "Stop",
    "Tour",
    "block_text",
    "inset_title",
    "plan_stops",
    "plan_tour",
    "reading_seconds",
    "smoothstep",
    "wrap_caption",
]

MIN_VIEW = 0.08  # a stop shows at least this fraction of the model's extent across
TRAVEL_S = 1.2  # seconds the camera takes from one stop to the next
INTRO_S = 3.0  # seconds on the whole model before the first stop and after the last
WORDS_PER_S = 3.2  # reading speed a stop's hold is sized for (about 190 words a minute)
MIN_HOLD_S, MAX_HOLD_S = 2.5, 7.0
CAPTION_LINES = 4  # a caption that needs more lines at the layout's font is set smaller
LINE_HEIGHT = 1.2  # caption line pitch, in font sizes


@dataclass(frozen=True)
class Stop:
    """One block of the tour: ``block`` is its index in ``scene.blocks``."""

    block: int
    title: str  # "3/28 · layer2.0.conv1"
    text: str  # the narration
    inset: str = ""  # what the enlarged channel grid shows ("6 of 64 channels")


@dataclass(frozen=True)
class Layout:
    """Pixel rectangles (x0, y0, x1, y1; rows down) of the tour's own overlays at one image size."""

    size: tuple[int, int]
    caption: tuple[float, float, float, float]  # bottom left, up to the colour bar
    inset: tuple[float, float, float, float]  # top right: the current block's channels, enlarged
    focus: tuple[float, float, float, float]  # where a stop's block is framed
    font_px: float  # caption font size in pixels

    @classmethod
    def for_scene(cls, scene: Scene) -> Layout:
        width, height = scene.size
        lay = scene.overlays
        m = lay.margin
        font = 36 * lay.scale  # 24 px at 720p: readable on a projector
        right = lay.colorbar[0] - m if scene.feature_maps else width - m
        lines = CAPTION_LINES + 1  # the stop's title line, then the narration
        caption = (m, height - m - (lines * LINE_HEIGHT + 0.6) * font, right, height - m)
        side = min(0.4 * height, 0.3 * width)
        inset = (width - m - side, lay.title[3] + m, width - m, lay.title[3] + m + side)
        legend_right = max(lay.legend[2], lay.caption[2] * 0.5)
        focus = (legend_right + m, lay.title[3] + m, inset[0] - m, caption[1] - m)
        return cls((width, height), caption, inset, focus, font)


@dataclass(frozen=True)
class Frame:
    """What one video frame shows: the camera, the stop whose caption is up (-1: intro/outro), and
    ``blend`` from 0 (previous highlight) to 1 (this stop's) while the camera travels."""

    camera: Camera
    stop: int
    blend: float


@dataclass
class Tour:
    stops: list[Stop]
    frames: list[Frame]
    fps: float
    intro: str
    outro: str

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps


def smoothstep(t: float) -> float:
    """3t² − 2t³ on [0, 1]: starts and stops without a jerk."""
    t = min(max(t, 0.0), 1.0)
    return t * t * (3 - 2 * t)


def wrap_caption(text: str, font_px: float, width_px: float, max_lines: int = CAPTION_LINES) -> tuple[list[str], float]:
    """``text`` broken into lines no wider than ``width_px``, and the font size it fits at: the given
    one, or smaller until it takes at most ``max_lines`` lines (down to half the size; a longer text
    then takes more lines: a caption grows, it is never cut off)."""
    font = font_px
    while True:
        lines: list[str] = []
        for word in text.split():
            if lines and text_width(f"{lines[-1]} {word}", font) <= width_px:
                lines[-1] = f"{lines[-1]} {word}"
            else:
                lines.append(word)
        if len(lines) <= max_lines or font < 0.5 * font_px:
            return lines, font
        font *= 0.92


def reading_seconds(text: str) -> float:
    """How long a caption stays up: its words at :data:`WORDS_PER_S`, within the hold limits."""
    return min(MAX_HOLD_S, max(MIN_HOLD_S, len(text.split()) / WORDS_PER_S))


# --- stops -----------------------------------------------------------------------------------------------


def _children(scene: Scene) -> list[list[int]]:
    """The blocks each block feeds, from the scene's connectors."""
    index = {bid: i for i, bid in enumerate(scene.blocks.node_ids)}
    children: list[list[int]] = [[] for _ in index]
    for c in scene.connectors:
        a, b = index.get(c.src), index.get(c.dst)
        if a is not None and b is not None and b not in children[a]:
            children[a].append(b)
    return children


def _reach(start: int, children: list[list[int]]) -> set[int]:
    seen, todo = {start}, [start]
    while todo:
        for c in children[todo.pop()]:
            if c not in seen:
                seen.add(c)
                todo.append(c)
    return seen


def _splits(children: list[list[int]]) -> dict[int, tuple[int, list[list[int]]]]:
    """Block → (the block where its branches join, the blocks of each branch in order) for every block
    whose output goes two or more ways that meet again."""
    out: dict[int, tuple[int, list[list[int]]]] = {}
    for s, kids in enumerate(children):
        if len(kids) < 2:
            continue
        reaches = [_reach(k, children) for k in kids]
        common = set.intersection(*reaches)
        if not common:
            continue
        join = min(common)
        branches = [
            sorted(b for b in r if b < join and all(b not in o for o in reaches if o is not r)) for r in reaches
        ]
        out[s] = (join, branches)
    return out


def _split_sentence(branches: list[list[int]], heads: list[str]) -> str:
    """``The path splits: a skip connection carries this tensor around the next 2 blocks.``"""
    longest = max(branches, key=len)
    others = [b for b in branches if b is not longest]
    around = f"the next {len(longest)} blocks" if len(longest) != 1 else "the next block"
    if all(not b for b in others):
        return f"The path splits: a skip connection carries this tensor around {around}."
    if len(others) == 1:
        side = " → ".join(heads[i] for i in others[0])
        return f"The path splits: a shortcut ({side}) runs beside {around}."
    return f"The path splits into {len(branches)} branches that run side by side."


def _block_name(scene: Scene, i: int) -> str:
    return scene.blocks.node_ids[i].rsplit("#", 1)[0]


def _container_node(trace: Trace, block_id: str, folded: tuple[str, ...], members: tuple[str, ...]) -> Node:
    """A node standing for a container block (a ``×N`` run, or a module drawn as one block)."""
    call = trace.modules[block_id]
    calls = folded or (block_id,)
    return Node(
        id=block_id,
        kind="module",
        type=call.type,
        scope=call.path,
        call=call.call,
        shape=trace.nodes[members[-1]].shape,
        params=sum(trace.modules[f].params for f in calls if f in trace.modules),
        repeats=len(calls),
    )


def _outside_inputs(trace: Trace, members: tuple[str, ...], parents: dict[str, list[str]]) -> list[tuple[int, ...]]:
    inside = set(members)
    found = [p for m in members for p in parents.get(m, ()) if p not in inside]
    shapes = (trace.nodes[p].shape for p in dict.fromkeys(found))
    return [s for s in shapes if s is not None]


def block_text(trace: Trace, scene: Scene, i: int, parents: dict[str, list[str]]) -> str:
    """What block ``i`` of ``scene`` computes, in one or two sentences with its real hyper-parameters and
    shapes (``parents``: ``trace.parent_map()``): a stop's caption, and the window's side panel."""
    blocks = scene.blocks
    bid = blocks.node_ids[i]
    members = tuple(m for m in blocks.members[i] if m in trace.nodes)
    if not members:
        return _block_name(scene, i)
    inputs = _outside_inputs(trace, members, parents)
    if bid not in trace.nodes:  # a container drawn as one block: a module call, or a function's call site
        folded = blocks.folded[i] if i < len(blocks.folded) else ()
        if bid in trace.modules:
            node = _container_node(trace, bid, folded, members)
        else:
            node = Node(
                id=bid,
                kind="function",
                type=_block_name(scene, i),
                scope="",
                call=1,
                shape=trace.nodes[members[-1]].shape,
                repeats=max(1, len(folded)),
            )
        first = [m for m in members if folded[0] in trace.nodes[m].stack] if folded else list(members)
        if not first:  # repeats of a loop or function call site: the first of equal shares
            first = list(members[: max(1, len(members) // max(1, len(folded)))])
        steps = " → ".join(layer_name(trace.nodes[m]) for m in first)
        inside = f"Each of the {len(folded)} repeats runs" if len(folded) > 1 else "Inside:"
        return f"{describe(node, inputs)}. {inside} {steps}."
    head = trace.nodes[members[0]]
    text = describe(head, inputs) + "."
    after = [follow_up(trace.nodes[m]) for m in members[1:]]
    if after:
        text += " Then " + ", and ".join(after) + "."
    return text


def plan_stops(trace: Trace, scene: Scene, *, input_name: str = "") -> list[Stop]:
    """The tour's stops in data-path order: every block of ``scene`` (built from ``trace``) but buffers,
    constants and the output, with its narration and the split/join sentences. ``input_name`` says
    what the input shows ("digit 3", "cat.png") in the input's caption."""
    parents_of = trace.parent_map()
    splits = _splits(_children(scene))
    heads = [
        layer_name(trace.nodes[m[0]]) if m and m[0] in trace.nodes else _block_name(scene, i)
        for i, m in enumerate(scene.blocks.members)
    ]
    lead: dict[int, str] = {}
    for join, branches in splits.values():
        first = min((b[0] for b in branches if b), default=join)
        lead[first] = _split_sentence(branches, heads) + " "
    kinds = [trace.nodes[b].kind if b in trace.nodes else "module" for b in scene.blocks.node_ids]
    chosen = [i for i, k in enumerate(kinds) if k not in ("constant", "output")]
    stops = []
    for n, i in enumerate(chosen, 1):
        if input_name and kinds[i] == "input":
            text = (
                f"Input: {shape_text(trace.nodes[scene.blocks.node_ids[i]].shape)}, {input_name}, the example "
                "this pass runs on."
            )
        else:
            text = lead.get(i, "") + block_text(trace, scene, i, parents_of)
        stops.append(Stop(i, f"{n}/{len(chosen)} · {_block_name(scene, i)}", text, inset_title(trace, scene, i)))
    return stops


def inset_title(trace: Trace, scene: Scene, block: int) -> str:
    """What the inset of a block's channels shows: ``6 of 64 channels, 28×28`` / ``1000 values``."""
    bid = scene.blocks.node_ids[block]
    fm = next((f for f in scene.feature_maps if f.node_id == bid), None)
    last = scene.blocks.members[block][-1] if scene.blocks.members[block] else bid
    shape = trace.nodes[last].shape if last in trace.nodes else None
    if fm is None or shape is None:
        return ""
    values = np.asarray(fm.values)
    dims = shape[1:] if len(shape) >= 2 else shape
    if fm.style == "bars":
        total = int(np.prod(dims)) if dims else 1
        cells = values.size
        return f"{total:,} values" + (f" (each cell the mean of {math.ceil(total / cells)})" if cells < total else "")
    if fm.style in ("planes", "slab") and len(dims) >= 3:
        kept = values.shape[0] if values.ndim == 3 else 1
        if fm.style == "slab":
            what = f"the mean over {dims[0]:,} channels"
        else:
            what = f"all {kept} channels" if kept == dims[0] else f"the {kept} strongest of {dims[0]:,} channels"
        shown = tuple(values.shape[-2:])
        size = shape_text((1, *dims[1:]))
        return f"{what}, {size}" + (f" (drawn at {shape_text((1, *shown))})" if shown != tuple(dims[1:]) else "")
    if len(dims) == 2:
        return f"{dims[0]:,} tokens × {dims[1]:,} values"
    return shape_text(shape)


# --- camera ------------------------------------------------------------------------------------------


def _direction(camera: Camera) -> np.ndarray:
    d = np.subtract(camera.position, camera.focal_point)
    return d / np.linalg.norm(d)


def overview_camera(scene: Scene, layout: Layout) -> Camera:
    """The whole model, from the scene's own direction, clear of the title, legend, colour bar and caption."""
    keepouts = scene.overlays.keepouts() + [layout.caption]
    return choose_camera(
        framing_points(scene, np.asarray(scene.labels.positions).reshape(-1, 3)),
        scene.blocks.centers,
        size=scene.size,
        view_angle=scene.camera.view_angle,
        directions=[_direction(scene.camera)],
        margin=MARGIN * scene.size[1],
        keepouts=keepouts,
    )


def stop_camera(scene: Scene, block: int, layout: Layout) -> Camera:
    """The camera of a stop: its block (and its feature maps) fitted into ``layout.focus``."""
    blocks = scene.blocks
    lo, hi = blocks.lower[block].copy(), blocks.upper[block].copy()
    bid = blocks.node_ids[block]
    for fm in scene.feature_maps:
        if fm.block_id == bid:
            f_lo, f_hi = feature_map_bounds(fm)
            lo, hi = np.minimum(lo, f_lo), np.maximum(hi, f_hi)
    bounds = scene.bounds
    least = MIN_VIEW * float(np.linalg.norm(bounds[1] - bounds[0]))
    centre, half = (lo + hi) / 2, np.maximum((hi - lo) / 2, least / 2)
    points = box_corners((centre - half)[None], (centre + half)[None])
    return fit_view(
        points, _direction(scene.camera), size=scene.size, view_angle=scene.camera.view_angle, rect=layout.focus
    )


def _pose(camera: Camera) -> tuple[np.ndarray, float]:
    focal = np.asarray(camera.focal_point, dtype=float)
    return focal, float(np.linalg.norm(np.subtract(camera.position, focal)))


def between(a: Camera, b: Camera, t: float) -> Camera:
    """The camera ``t`` (0..1, eased) of the way from ``a`` to ``b``, both looking the same way."""
    s = smoothstep(t)
    fa, da = _pose(a)
    fb, db = _pose(b)
    focal = fa + (fb - fa) * s
    distance = math.exp(math.log(da) + (math.log(db) - math.log(da)) * s)
    _, _, _, fwd = camera_basis(b)
    position = focal - fwd * distance
    return Camera(point3(position), point3(focal), b.view_up, b.view_angle)


def plan_tour(
    trace: Trace,
    scene: Scene,
    *,
    fps: float = 30.0,
    seconds_per_stop: float | None = None,
    duration: float | None = None,
    title: str = "",
    input_name: str = "",
) -> Tour:
    """Stops, captions and one :class:`Frame` per video frame.

    Each stop's hold is its caption's reading time (:func:`reading_seconds`) unless ``seconds_per_stop``
    fixes it; ``duration`` (seconds, the whole video) scales every hold and move to fit.
    """
    layout = Layout.for_scene(scene)
    stops = plan_stops(trace, scene, input_name=input_name)
    overview = overview_camera(scene, layout)
    cameras = [stop_camera(scene, s.block, layout) for s in stops]
    holds = [seconds_per_stop if seconds_per_stop is not None else reading_seconds(s.text) for s in stops]
    travel, intro = TRAVEL_S, INTRO_S
    if duration is not None:
        natural = 2 * intro + travel * (len(stops) + 1) + sum(holds)
        k = duration / natural
        holds, travel, intro = [h * k for h in holds], travel * k, intro * k
    # (from camera, to camera, stop, seconds, is a hold): the video's segments in order
    segments = [(overview, overview, -1, intro, True)]
    previous = overview
    for k, (camera, seconds) in enumerate(zip(cameras, holds)):
        segments += [(previous, camera, k, travel, False), (camera, camera, k, seconds, True)]
        previous = camera
    segments += [(previous, overview, len(stops), travel, False), (overview, overview, len(stops), intro, True)]
    frames = _segment_frames(segments, fps)
    name = title or trace.model
    intro_text = (
        f"A forward pass through {name}: {len(stops)} stops from the input to the output. "
        "Colours show each layer's real activations."
    )
    out_node = next((trace.nodes[o["node"]] for o in trace.outputs if o.get("node") in trace.nodes), None)
    outro_text = f"That is the whole forward pass of {name}"
    outro_text += f"; its output: {describe_shape(out_node)}." if out_node is not None else "."
    return Tour(stops, frames, fps, intro_text, outro_text)


def _segment_frames(segments: list[tuple[Camera, Camera, int, float, bool]], fps: float) -> list[Frame]:
    """Frames on one clock: each segment ends at the frame nearest its end time, so rounding never adds up
    (``duration`` is met to the frame); every hold shows at least one frame, and a move too short for one
    frame at a low fps becomes a cut."""
    frames: list[Frame] = []
    end = 0.0
    for a, b, stop, seconds, is_hold in segments:
        end += seconds
        n = max(1 if is_hold else 0, round(end * fps) - len(frames))
        if is_hold:
            frames.extend(Frame(a, stop, 1.0) for _ in range(n))
        else:
            frames.extend(Frame(between(a, b, (j + 1) / n), stop, (j + 1) / n) for j in range(n))
    return frames


def describe_shape(node: Node) -> str:
    """``1000 values`` / ``a 10×32 tensor``: what the model hands back."""
    text = shape_text(node.shape)
    return f"{text} values" if "×" not in text else f"a {text} tensor"
