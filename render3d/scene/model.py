"""What a scene is: plain numpy data that a renderer draws and a test can measure.

Axes: x runs along the forward pass, y is up, z is depth (towards the default camera) and the axis
on which parallel branches get their own lanes. A box is one output tensor (batch dim dropped):

* (C, H, W): x-size ~ W, y-size ~ H, z-size ~ C, so the H×W face looks at the camera and feature-map
  planes (one per channel) fill the box front to back;
* (C, T, H, W): as an image with C·T channels; (T, D) tokens: x ~ D, y ~ T, thin in z;
  (F,) vectors: tall thin slabs, y ~ F; scalars and glyph ops: small cubes.

Sizes are log-scaled and clamped (see :mod:`render3d.scene.geometry`); the true shape is in the label.
A label's position is the lower-left corner of its text (VTK point-label placement), chosen so that
text ``Labels.font_px`` pixels high (at a 1080-pixel-high image) is centred over its block and
overlaps no other label. Feature-map ``values`` are in image order: row 0 is the top (largest y) of a
plane, column 0 its smallest x.

Arrays rather than lists of objects, so a 5000-block model is a handful of (N, 3) arrays that the
renderer turns into one merged mesh per kind without a Python loop per block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from render3d.scene.style import DEFAULT_SIZE

if TYPE_CHECKING:
    from render3d.scene.camera import Overlays


@dataclass(frozen=True)
class Blocks:
    """One axis-aligned box per visible node."""

    node_ids: list[str]
    centers: np.ndarray  # (N, 3) float
    sizes: np.ndarray  # (N, 3) float, full edge lengths (dx, dy, dz)
    colors: np.ndarray  # (N, 3) uint8 RGB
    categories: list[str]  # legend category per block ("Conv", "Norm", "Activation", ...)
    #: tooltip text per block: name, type, shape, params, activation stats
    info: list[str] = field(default_factory=list)
    #: ``×N`` badge count per block (1 = not folded)
    repeats: np.ndarray | None = None
    #: ids of the given trace's nodes in each block, in execution order (``("conv1#1", "relu#1")``;
    #: a ``×N`` or depth-collapsed block lists every node inside it, its output last)
    members: list[tuple[str, ...]] = field(default_factory=list)
    #: module calls folded into each ``×N`` block, first to last (empty when not folded)
    folded: list[tuple[str, ...]] = field(default_factory=list)
    #: health flags per block (render3d.health: "dead", "nan", ...), those of every member; () when healthy
    flags: list[tuple[str, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.node_ids)

    def index(self, node_id: str) -> int:
        return self.node_ids.index(node_id)

    @property
    def lower(self) -> np.ndarray:
        return self.centers - self.sizes / 2

    @property
    def upper(self) -> np.ndarray:
        return self.centers + self.sizes / 2


@dataclass(frozen=True)
class Connector:
    """A polyline from one block to another: ``kind`` is ``"flow"`` (next layer) or ``"skip"`` (arc)."""

    src: str
    dst: str
    points: np.ndarray  # (K, 3) float, K >= 2
    kind: str = "flow"


@dataclass
class FeatureMap:
    """Activations of one node, drawn next to (or instead of) its block.

    ``style`` is one of:

    * ``"planes"``: ``values`` is (K, H, W), one textured plane per kept channel, stacked along +z
      starting at ``origin`` with ``spacing`` between planes; each plane spans ``plane_size`` (x, y).
    * ``"slab"``: like planes with K == 1 (the mean over channels), for far/large layers.
    * ``"bars"``: ``values`` is (1, 1, F) for a vector; one cell per value in a row along y.
    * ``"volume"``: ``values`` is (C, H, W) rendered as a VTK volume at ``origin`` with ``spacing``
      per voxel (z, y, x order matches ``values``).

    ``offsets`` (K, 3), when given, place plane ``i`` at ``origin + offsets[i]`` instead (attention
    maps: ``values`` is (heads, T, S), one plane per head in a grid next to the attention block).

    ``clim`` are the fixed colour limits (robust percentiles) for this layer.
    """

    node_id: str
    style: str
    values: np.ndarray
    origin: np.ndarray  # (3,) lower-left-front corner
    plane_size: np.ndarray  # (2,) extent in x and y of each plane / of the bar row
    spacing: float
    clim: tuple[float, float]
    channels: np.ndarray | None = None  # indices of the kept channels, for tooltips
    #: (K, 3) position of each plane relative to ``origin`` (replaces the z ``spacing``), e.g. the
    #: grid of per-head attention maps above an attention block
    offsets: np.ndarray | None = None
    #: the block this map is drawn beside when it is not the block's own output (``node_id`` is
    #: then ``"<block>:attention"``); empty for a block's own activation
    block: str = ""

    @property
    def block_id(self) -> str:
        """The id of the block this feature map belongs to."""
        return self.block or self.node_id


@dataclass(frozen=True)
class Labels:
    """Text anchored at 3D points (one label actor in the renderer)."""

    positions: np.ndarray  # (N, 3)
    texts: list[str]
    node_ids: list[str]
    #: font size (pixels at 1080 px image height) the labels were de-overlapped for; 0 = renderer's choice
    font_px: float = 0.0

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True)
class Camera:
    position: tuple[float, float, float]
    focal_point: tuple[float, float, float]
    view_up: tuple[float, float, float] = (0.0, 1.0, 0.0)
    view_angle: float = 30.0  # degrees, vertical field of view
    parallel_scale: float | None = None  # set for orthographic views

    def as_pyvista(self) -> list[tuple[float, float, float]]:
        return [self.position, self.focal_point, self.view_up]


@dataclass(frozen=True)
class Scene:
    """Everything a renderer needs; no torch or VTK objects inside.

    Frozen: a variant (another title, size or camera) is ``dataclasses.replace(scene, ...)``. Its
    :class:`FeatureMap` items are not: playback and the window write each frame's values and colour
    limits into them in place (a copy of every map per frame would be the cost of a video).
    """

    title: str
    mode: str  # "architecture" | "activations"
    blocks: Blocks
    connectors: list[Connector]
    labels: Labels
    legend: list[tuple[str, tuple[int, int, int]]]
    camera: Camera
    feature_maps: list[FeatureMap] = field(default_factory=list)
    cmap: str = "viridis"
    colorbar_title: str = ""
    notes: list[str] = field(default_factory=list)  # e.g. "collapsed to depth 2 (412 blocks > 300)"
    background: tuple[int, int, int] = (255, 255, 255)
    #: the image (width, height) the camera, labels and overlays were fitted to; a renderer draws at
    #: this size unless told otherwise (and then re-fits the camera: :func:`render3d.scene.fit.fit_to_size`)
    size: tuple[int, int] = DEFAULT_SIZE

    @property
    def overlays(self) -> Overlays:
        """Where title, notes, caption, legend and colour bar go at :attr:`size`: the rectangles the
        camera keeps the model out of and the renderer draws them in, from this one place."""
        return scene_overlays(self.size, self.title, self.notes, self.legend, self.feature_maps)

    @property
    def bounds(self) -> np.ndarray:
        """(2, 3) lower and upper corner of everything drawn."""
        lows = [self.blocks.lower.min(axis=0)] if len(self.blocks) else []
        highs = [self.blocks.upper.max(axis=0)] if len(self.blocks) else []
        for c in self.connectors:
            lows.append(c.points.min(axis=0))
            highs.append(c.points.max(axis=0))
        for fm in self.feature_maps:
            lo, hi = feature_map_bounds(fm)
            lows.append(lo)
            highs.append(hi)
        if not lows:
            return np.zeros((2, 3))
        return np.stack([np.min(lows, axis=0), np.max(highs, axis=0)])


class Drawn(Protocol):
    """What is drawn in 3D: a :class:`Scene`, or the builder's parts of one before its camera exists."""

    @property
    def blocks(self) -> Blocks: ...

    @property
    def connectors(self) -> list[Connector]: ...

    @property
    def feature_maps(self) -> list[FeatureMap]: ...


def scene_overlays(
    size: tuple[int, int],
    title: str,
    notes: list[str],
    legend: list[tuple[str, tuple[int, int, int]]],
    feature_maps: list[FeatureMap],
) -> Overlays:
    """The overlays of a scene with these parts: one definition for :attr:`Scene.overlays` and for the
    builder, which frames its camera before the Scene exists."""
    from render3d.scene.camera import overlay_layout  # camera.py imports this module

    return overlay_layout(
        size, title=title, n_notes=len(notes), legend=[name for name, _ in legend], colorbar=bool(feature_maps)
    )


def feature_map_bounds(fm: FeatureMap) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper corners of a feature map's drawn extent."""
    origin = np.asarray(fm.origin, dtype=float)
    if fm.offsets is not None and len(fm.offsets):
        off = np.asarray(fm.offsets, dtype=float).reshape(-1, 3)
        plane = np.array([fm.plane_size[0], fm.plane_size[1], 0.0])
        return origin + off.min(axis=0), origin + off.max(axis=0) + plane
    if fm.style == "volume":
        c, h, w = fm.values.shape
        extent = np.array([w, h, c], dtype=float) * fm.spacing
    else:
        k = fm.values.shape[0]
        extent = np.array([fm.plane_size[0], fm.plane_size[1], max(k - 1, 0) * fm.spacing])
    return origin, origin + extent


#: most stacked copies drawn behind a folded ``×N`` block
MAX_SHADOWS = 3


def repeat_shadows(blocks: Blocks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower corners, upper corners and owning block index of the copies drawn behind ``×N`` blocks.

    A block standing for N repeats gets ``min(N - 1, 3)`` copies of itself, each stepped up, back and
    towards the output (+y, -z, +x) by a few percent of its face, like a deck of cards: the badge as geometry.
    """
    n = len(blocks)
    reps = np.ones(n, dtype=np.int64) if blocks.repeats is None else np.asarray(blocks.repeats, dtype=np.int64)
    k = np.clip(reps - 1, 0, MAX_SHADOWS)
    owner = np.repeat(np.arange(n), k)
    if not len(owner):
        return np.zeros((0, 3)), np.zeros((0, 3)), owner
    step = np.concatenate([np.arange(1, kk + 1) for kk in k if kk]).astype(float)
    d = shadow_step(blocks.sizes[owner]) * step
    offset = np.column_stack([0.5 * d, d, -d])  # off every face plane: no z-fighting
    lower = blocks.lower[owner] + offset
    upper = blocks.upper[owner] + offset
    return lower, upper, owner


def shadow_step(sizes: np.ndarray) -> np.ndarray:
    """(N,) how far each copy behind a ``×N`` block of these ``sizes`` is stepped from the one before:
    a few percent of its face, within limits that keep the deck visible and compact."""
    return np.clip(0.08 * np.maximum(sizes[:, 0], sizes[:, 1]), 0.14, 0.5)


def shadow_rise(sizes: np.ndarray, repeats: np.ndarray) -> np.ndarray:
    """(N,) how far the copies behind each block reach above its top face (0 for a block that is not ×N)."""
    return shadow_step(sizes) * np.clip(repeats - 1, 0, MAX_SHADOWS)
