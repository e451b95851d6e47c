"""Scene → one ``pyvista.Plotter`` with a handful of actors, and handles to update them in place.

What gets drawn, and as what:

* blocks: one merged mesh per legend category (8 points + 6 quads per box, uint8 colours per cell,
  ``block_id`` per cell for picking), light edges; one more mesh for the washed copies stacked
  behind folded ``×N`` blocks;
* connectors: one lines mesh for the flow (thin, grey) and one for skips (coloured);
* labels: one textured mesh, a camera-facing quad per label sampling one text atlas rasterised once
  (a point-label actor re-rasterised every label every frame: ~12 ms of a 25 ms 1080p frame);
* legend, title, notes and a caption: one 2-D actor each, pixel-positioned;
* feature maps: ``planes``/``slab`` as one mesh per map whose quads sample one RGB texture atlas
  (nearest sampling, colours from a 256-entry LUT), ``bars`` as one mesh with cell scalars,
  ``volume`` through the GPU ray-cast mapper; one colour bar when any is shown.

The numbers behind these choices are in ``notes/rendering.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyvista as pv
from vtkmodules.vtkCommonCore import VTK_FONT_FILE
from vtkmodules.vtkRenderingAnnotation import vtkLegendBoxActor, vtkScalarBarActor

from render3d.limits import check_size
from render3d.rendering.flags import add_flag_marks
from render3d.rendering.glcheck import gl_max_size
from render3d.rendering.labels import TEXT_COLOR, add_labels, font_file, rgb01
from render3d.rendering.meshes import (
    box_outlines_mesh,
    boxes_mesh,
    colormap_lut,
    face_shades,
    merged_quads,
    quads_nearest_first,
    segments_mesh,
    shade_colors,
    tiled_planes_mesh,
    values_rgb,
    vertical_bars_mesh,
)
from render3d.rendering.pages import Page, pack_pages
from render3d.scene.camera import Overlays, camera_basis
from render3d.scene.fit import fit_to_size
from render3d.scene.model import FeatureMap, Scene, repeat_shadows

__all__ = ["SceneActors", "add_scene", "atlas_grid", "atlas_rgb", "build_plotter"]

FLOW_COLOR = (150, 150, 150)
SKIP_COLOR = (213, 94, 0)  # Okabe-Ito vermillion
NOTE_COLOR = (110, 110, 110)
EDGE_COLOR = (70, 70, 70)
LIGHT_SWATCH = 235  # legend swatches with every channel at least this light get a frame

MAX_EDGED_BLOCKS = 500
MANY_SEGMENTS = 1200  # above this many connector segments of a kind, lines get thinner (cost and clutter)
OPEN_BLOCKS = "open"  # block_meshes key of the blocks drawn open around their feature maps
BACKDROP_WASH = 0.82  # how far towards white the far faces of an open block are washed
SHADOW_WASH = 0.35  # copies stacked behind a ×N block: their colour this far towards white

_FEATURE_STYLES = ("planes", "slab", "bars", "volume")


@dataclass
class _FeatureHandle:
    fm: FeatureMap
    actor: Any
    shape: tuple[int, ...]
    image: pv.ImageData | None = None  # planes/slab: the texture page its atlas is packed into
    texels: np.ndarray | None = None  # planes/slab: its atlas's (h, w, 3) view into the page's texels
    grid: tuple[int, int] = (1, 1)  # atlas (rows, cols)
    mesh: pv.PolyData | None = None  # bars
    volume: pv.ImageData | None = None  # volume
    values: np.ndarray | None = None  # what it shows now

    def __post_init__(self) -> None:
        if self.values is None:
            self.values = np.asarray(self.fm.values)


class SceneActors:
    """Handles to what :func:`build_plotter` added, so frames can be updated without rebuilding.

    Attributes are plain VTK/pyvista objects: ``block_meshes``/``block_actors`` (per category),
    ``connector_actors``, ``label_actor``, ``legend_actor``, ``title_actor``, ``caption_actor``,
    ``scalar_bar_actor`` and ``feature_actors`` (node id → actor).
    """

    def __init__(self, plotter: pv.Plotter, scene: Scene) -> None:
        self.plotter = plotter
        self.scene = scene
        self.block_meshes: dict[str, pv.PolyData] = {}
        self.block_actors: dict[str, pv.Actor] = {}
        self.outline_mesh: pv.PolyData | None = None
        self.outline_actor: pv.Actor | None = None
        self.shadow_mesh: pv.PolyData | None = None  # copies stacked behind ×N blocks
        self.shadow_actor: pv.Actor | None = None
        self.connector_actors: list[pv.Actor] = []
        self.label_actor: Any = None
        self.legend_actor: Any = None
        self.title_actor: pv.Text | None = None
        self.notes_actor: pv.Text | None = None
        self.caption_actor: pv.Text | None = None
        self.scalar_bar_actor: vtkScalarBarActor | None = None
        self.colorbar_title_actor: pv.Text | None = None
        self._features: dict[str, _FeatureHandle] = {}
        #: the 256 colours (uint8 RGB) feature-map values are drawn with, low to high
        self.lut = colormap_lut(scene.cmap)
        #: names (in ``plotter.renderer.actors``) of everything :func:`add_scene` added
        self.names: list[str] = []
        self._shades = np.ones(6)

    # -- read-only views -------------------------------------------------------------------------
    @property
    def feature_actors(self) -> dict[str, Any]:
        return {k: h.actor for k, h in self._features.items()}

    @property
    def activations_visible(self) -> bool:
        return any(h.actor.GetVisibility() for h in self._features.values())

    @property
    def labels_visible(self) -> bool:
        return bool(self.label_actor is not None and self.label_actor.GetVisibility())

    def feature_values(self, node_id: str) -> np.ndarray | None:
        """The values feature map ``node_id`` shows now (its scene values, or the last
        :meth:`update_feature_map`), or None when the scene has no such map."""
        handle = self._features.get(node_id)
        return None if handle is None else handle.values

    def block_info(self, block_id: int) -> str:
        """Tooltip text for a block (its ``Blocks.info``, else its node id)."""
        blocks = self.scene.blocks
        if 0 <= block_id < len(blocks.info) and blocks.info[block_id]:
            return blocks.info[block_id]
        return blocks.node_ids[block_id]

    # -- in-place updates --------------------------------------------------------------------------
    def update_feature_map(self, node_id: str, values: np.ndarray) -> None:
        """Recolour one feature map from new ``values`` of its original shape (no mesh rebuild)."""
        handle = self._features.get(node_id)
        if handle is None:
            msg = f"No feature map for node {node_id!r}; known: {sorted(self._features)}"
            raise KeyError(msg)
        values = np.asarray(values)
        if values.shape != handle.shape:
            msg = f"Feature map {node_id!r} has shape {handle.shape}, got values of shape {values.shape}."
            raise ValueError(msg)
        handle.values = values
        if handle.image is not None and handle.texels is not None:  # set together for planes/slab maps
            atlas = atlas_rgb(values, handle.fm.clim, self.lut, handle.grid)
            handle.texels[:] = atlas[::-1]
            handle.image.Modified()
        elif handle.mesh is not None:
            handle.mesh.cell_data["rgb"][:] = values_rgb(values.reshape(-1), handle.fm.clim, self.lut)
            handle.mesh.Modified()
        elif handle.volume is not None:
            handle.volume.point_data["values"][:] = _volume_order(values)
            handle.volume.Modified()

    def set_block_colors(self, rgb: np.ndarray) -> None:
        """New uint8 colour per block, shape (N, 3), written into the merged meshes in place."""
        rgb = np.asarray(rgb)
        n = len(self.scene.blocks)
        if rgb.shape != (n, 3):
            msg = f"Block colours must have shape ({n}, 3), got {rgb.shape}."
            raise ValueError(msg)
        rgb = rgb.astype(np.uint8, copy=False)
        for name, mesh in self.block_meshes.items():
            own = rgb[mesh.cell_data["block_id"][::6]]
            if name == OPEN_BLOCKS:
                own = _backdrop(own)
            mesh.cell_data["rgb"][:] = shade_colors(own, self._shades)
            mesh.Modified()
        if self.shadow_mesh is not None:
            own = rgb[self.shadow_mesh.cell_data["block_id"][::6]].astype(np.float32)
            washed = np.round(own + (255.0 - own) * SHADOW_WASH).astype(np.uint8)
            self.shadow_mesh.cell_data["rgb"][:] = shade_colors(washed, self._shades)
            self.shadow_mesh.Modified()
        if self.outline_mesh is not None:
            self.outline_mesh.cell_data["rgb"][:] = rgb[self.outline_mesh.cell_data["block_id"]]
            self.outline_mesh.Modified()

    def remove(self) -> None:
        """Take everything :func:`add_scene` drew out of the plotter again."""
        for name in self.names:
            self.plotter.remove_actor(name, reset_camera=False, render=False)
        self.names = []

    def set_caption(self, text: str) -> None:
        """Replace the caption (bottom left; e.g. ``"epoch 3 · loss 0.41"``); ~free per frame."""
        if self.caption_actor is not None:
            self.caption_actor.SetInput(text)

    def set_activations_visible(self, visible: bool) -> None:
        """Show or hide every feature map and the colour bar (the window's ``a`` key)."""
        for handle in self._features.values():
            handle.actor.SetVisibility(visible)
        for actor in (self.scalar_bar_actor, self.colorbar_title_actor):
            if actor is not None:
                actor.SetVisibility(visible)

    def set_labels_visible(self, visible: bool) -> None:
        """Show or hide the block labels (the window's ``l`` key)."""
        if self.label_actor is not None:
            self.label_actor.SetVisibility(visible)


# ---------------------------------------------------------------------------------------------
def build_plotter(
    scene: Scene,
    *,
    size: tuple[int, int] | None = None,
    off_screen: bool = True,
    anti_aliasing: bool = False,
    show_labels: bool = True,
    separate_maps: bool = False,
) -> tuple[pv.Plotter, SceneActors]:
    """Make a plotter that draws ``scene`` and return it with handles for in-place updates.

    ``size`` (width, height) defaults to ``scene.size``, the image the scene was laid out for; at another
    size the plotter draws :func:`~render3d.scene.fit.fit_to_size` of it (camera fitted again for another
    aspect), which is also the scene the returned actors hold.

    Anti-aliasing is off unless asked for: MSAA costs 3-4× per frame on CPU GL. The caller owns
    the plotter and must ``close()`` it.

    Plane-stack feature maps share texture pages and are drawn as one actor a page (the same picture,
    ~65 µs a map less per frame on CPU GL); ``separate_maps`` gives each its own actor instead, for a
    caller that sets one map's opacity (the tour's highlight).

    Raises
    ------
    RenderUnavailableError
        No OpenGL context can be created on this machine.
    OutputSpecError
        ``size`` not positive, beyond the GL context's maximum or too big for memory (VTK would abort).
    ValueError
        A feature map with an unknown ``style``.
    """
    width, height = check_size(scene.size if size is None else size, max_side=gl_max_size())  # probes GL first
    scene = fit_to_size(scene, (width, height))
    for fm in scene.feature_maps:
        if fm.style not in _FEATURE_STYLES:
            msg = f"Feature map style {fm.style!r} is not valid. Style must be one of: {', '.join(_FEATURE_STYLES)}."
            raise ValueError(msg)
    plotter = pv.Plotter(off_screen=off_screen, window_size=(width, height), lighting="none")
    plotter.disable_anti_aliasing()
    actors = add_scene(plotter, scene, show_labels=show_labels, separate_maps=separate_maps)
    # pyvista ignores render() until a first show()/screenshot(); the camera is already set, so
    # mark the plotter ready and plotter.render() (and write_frame) draw from the first call.
    first_render = getattr(plotter, "_on_first_render_request", None)
    if first_render is not None:
        first_render()
    if actors.scalar_bar_actor is not None:
        # the colour bar lays its tick labels out from text sizes that are only right once it
        # has been drawn: one render here, so that every frame (the first PNG too) is the same
        plotter.render()
    if anti_aliasing:
        # SSAA (and FXAA, which EGL turns into SSAA) makes GPU volumes vanish; MSAA does not.
        plotter.enable_anti_aliasing("msaa", multi_samples=8)
    return plotter, actors


def add_scene(
    plotter: pv.Plotter, scene: Scene, *, show_labels: bool = True, separate_maps: bool = False
) -> SceneActors:
    """Draw ``scene`` (laid out for this plotter's size) into ``plotter`` and point its camera at it;
    :meth:`SceneActors.remove` takes it all out again (a window swapping in another scene).
    ``separate_maps``: see :func:`build_plotter`."""
    width, height = plotter.window_size
    before = set(plotter.renderer.actors)
    plotter.set_background(rgb01(scene.background))
    actors = SceneActors(plotter, scene)
    scale = height / 1080
    # feature maps first: CPU GL tests depth before it shades, so the open blocks' backdrops behind
    # the planes then cost little (drawn before the planes, every backdrop pixel was shaded twice)
    _add_feature_maps(plotter, actors, scene, separate_maps)
    _add_blocks(plotter, actors, scene, scale)
    _add_connectors(plotter, actors, scene, scale)
    add_flag_marks(plotter, scene, scale)
    if show_labels and len(scene.labels):
        actors.label_actor = add_labels(plotter, scene, (width, height))
    _add_overlays(plotter, actors, scene, width, height, scale)
    _apply_camera(plotter, scene)
    actors.names = [name for name in plotter.renderer.actors if name not in before]
    return actors


def _add_blocks(plotter: pv.Plotter, actors: SceneActors, scene: Scene, scale: float) -> None:
    blocks = scene.blocks
    if not len(blocks):
        return
    actors._shades = face_shades()
    opened = _open_blocks(scene)
    # Outlines read well up to a few hundred boxes; past that they cost ~5 ms a 1080p frame on
    # CPU GL and darken boxes only a few pixels wide.
    edges = len(blocks) <= MAX_EDGED_BLOCKS
    _add_closed_blocks(plotter, actors, scene, opened, edges, scale)
    _add_repeats(plotter, actors, scene, opened, edges, scale)
    if opened.any():
        _add_open_blocks(plotter, actors, scene, np.flatnonzero(opened), scale)


def _open_blocks(scene: Scene) -> np.ndarray:
    """Mask of the blocks drawn open: those showing their own feature map inside (activations mode),
    as an outline in the category colour over a pale backdrop of the far faces (front faces culled),
    so that the planes are in plain view."""
    blocks = scene.blocks
    if scene.mode != "activations":
        return np.zeros(len(blocks), dtype=bool)
    with_map = {fm.node_id for fm in scene.feature_maps if not fm.block}  # own maps, not attention
    return np.array([nid in with_map for nid in blocks.node_ids], dtype=bool)


def _add_closed_blocks(
    plotter: pv.Plotter, actors: SceneActors, scene: Scene, opened: np.ndarray, edges: bool, scale: float
) -> None:
    """One merged mesh of solid boxes per legend category, in the legend's order."""
    blocks = scene.blocks
    cats = np.asarray(blocks.categories, dtype=object)
    colors = np.asarray(blocks.colors, dtype=np.uint8)
    ids = np.arange(len(blocks))
    order = [name for name, _ in scene.legend]
    names = list(dict.fromkeys([*[c for c in order if c in set(blocks.categories)], *blocks.categories]))
    for name in names:
        sel = ids[(cats == name) & ~opened]
        if not len(sel):
            continue
        mesh = boxes_mesh(blocks.lower[sel], blocks.upper[sel], colors[sel], sel, actors._shades)
        actor = plotter.add_mesh(
            mesh,
            scalars="rgb",
            rgb=True,
            show_scalar_bar=False,
            show_edges=edges,
            edge_color=rgb01(EDGE_COLOR),
            line_width=max(1.0, scale),
            lighting=False,  # shading is baked into the face colours
            name=f"blocks:{name}",
            reset_camera=False,
            render=False,
        )
        actors.block_meshes[name] = mesh
        actors.block_actors[name] = actor


def _add_repeats(
    plotter: pv.Plotter, actors: SceneActors, scene: Scene, opened: np.ndarray, edges: bool, scale: float
) -> None:
    """The copies stacked behind folded ``×N`` blocks: outlines behind an open block (a solid copy
    would hide its feature maps), washed solid boxes behind the others, one mesh each."""
    colors = np.asarray(scene.blocks.colors, dtype=np.uint8)
    s_lo, s_hi, s_owner = repeat_shadows(scene.blocks)
    if len(s_owner) and opened[s_owner].any():
        wire = opened[s_owner]
        lines = box_outlines_mesh(s_lo[wire], s_hi[wire], _backdrop(colors[s_owner[wire]]) // 4 * 3, s_owner[wire])
        plotter.add_mesh(
            lines,
            scalars="rgb",
            rgb=True,
            show_scalar_bar=False,
            lighting=False,
            line_width=max(1.0, 1.5 * scale),
            pickable=False,
            name="blocks:repeats-open",
            reset_camera=False,
            render=False,
        )
        s_lo, s_hi, s_owner = s_lo[~wire], s_hi[~wire], s_owner[~wire]
    if not len(s_owner):
        return
    c = colors[s_owner].astype(np.float32)
    washed = np.round(c + (255.0 - c) * SHADOW_WASH).astype(np.uint8)
    mesh = boxes_mesh(s_lo, s_hi, washed, s_owner, actors._shades)
    actors.shadow_actor = plotter.add_mesh(
        mesh,
        scalars="rgb",
        rgb=True,
        show_scalar_bar=False,
        show_edges=edges,
        edge_color=rgb01(EDGE_COLOR),
        line_width=max(1.0, scale),
        lighting=False,
        name="blocks:repeats",
        reset_camera=False,
        render=False,
    )
    actors.shadow_mesh = mesh


def _add_open_blocks(plotter: pv.Plotter, actors: SceneActors, scene: Scene, sel: np.ndarray, scale: float) -> None:
    """Blocks ``sel`` drawn open (see :func:`_open_blocks`): washed far faces and a category-colour outline."""
    lower, upper = scene.blocks.lower[sel], scene.blocks.upper[sel]
    colors = np.asarray(scene.blocks.colors, dtype=np.uint8)[sel]
    mesh = boxes_mesh(lower, upper, _backdrop(colors), sel, actors._shades)
    actor = plotter.add_mesh(
        mesh,
        scalars="rgb",
        rgb=True,
        show_scalar_bar=False,
        lighting=False,
        culling="front",
        name="blocks:open",
        reset_camera=False,
        render=False,
    )
    actors.block_meshes[OPEN_BLOCKS] = mesh
    actors.block_actors[OPEN_BLOCKS] = actor
    outline = box_outlines_mesh(lower, upper, colors, sel)
    actors.outline_mesh = outline
    actors.outline_actor = plotter.add_mesh(
        outline,
        scalars="rgb",
        rgb=True,
        show_scalar_bar=False,
        lighting=False,
        line_width=max(1.0, 2.0 * scale),
        pickable=False,
        name="blocks:outline",
        reset_camera=False,
        render=False,
    )


def _backdrop(colors: np.ndarray) -> np.ndarray:
    """Category colours washed towards white: the far faces behind a block's feature-map planes."""
    c = np.asarray(colors, dtype=np.float32)
    return np.round(c + (255.0 - c) * BACKDROP_WASH).astype(np.uint8)


def _add_connectors(plotter: pv.Plotter, actors: SceneActors, scene: Scene, scale: float) -> None:
    for kind, color, width in (("flow", FLOW_COLOR, 2.5), ("skip", SKIP_COLOR, 4.0)):
        lines = [c.points for c in scene.connectors if (c.kind == "skip") == (kind == "skip")]
        if not lines:
            continue
        mesh = segments_mesh(lines)  # a bundled trunk's segments once, not once per edge along it
        if mesh.n_cells > MANY_SEGMENTS:
            # wide lines are rasterised as quads on CPU GL: 1,800 separate arcs at 4 px cost 14 ms
            # a 1080p frame; thinner also keeps many lines readable
            width *= max(0.35, math.sqrt(MANY_SEGMENTS / mesh.n_cells))
        actor = plotter.add_mesh(
            mesh,
            color=rgb01(color),
            line_width=max(1.0, width * scale),
            lighting=False,
            pickable=False,
            name=f"connectors:{kind}",
            reset_camera=False,
            render=False,
        )
        actors.connector_actors.append(actor)


def atlas_grid(k: int) -> tuple[int, int]:
    """(rows, cols) of the near-square grid that ``k`` channel tiles are laid out in."""
    cols = max(1, math.ceil(math.sqrt(k)))
    return math.ceil(k / cols), cols


def atlas_rgb(values: np.ndarray, clim: tuple[float, float], lut: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(rows·H, cols·W, 3) uint8 atlas of ``values`` (K, H, W), tile i at (i // cols, i % cols)."""
    k, h, w = values.shape
    rows, cols = grid
    tiles = np.empty((rows * cols, h, w, 3), dtype=np.uint8)
    tiles[:k] = values_rgb(values, clim, lut)
    tiles[k:] = lut[0]
    return tiles.reshape(rows, cols, h, w, 3).transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w, 3)


def _volume_order(values: np.ndarray) -> np.ndarray:
    """(C, H, W) → VTK point order (x = W fastest, y = H upwards so row 0 is on top, z = C)."""
    return np.ascontiguousarray(values[:, ::-1, :]).reshape(-1)


def _add_feature_maps(plotter: pv.Plotter, actors: SceneActors, scene: Scene, separate_maps: bool) -> None:
    _, _, _, forward = camera_basis(scene.camera)
    eye = np.asarray(scene.camera.position, dtype=float)
    planes = [fm for fm in scene.feature_maps if fm.style in ("planes", "slab")]
    sizes = [atlas_size(fm) for fm in planes]
    if separate_maps:
        pages = [Page(size, (i,), ((0, 0),)) for i, size in enumerate(sizes)]
        names = [f"fmap:{fm.node_id}" for fm in planes]
    else:
        pages = pack_pages(sizes)
        names = [f"fmap:page{n}" for n in range(len(pages))]
    handles: dict[str, _FeatureHandle] = {}
    for page, name in zip(pages, names):
        handles.update(_add_planes(plotter, actors, planes, sizes, page, name, eye, forward))
    for fm in scene.feature_maps:  # in the scene's order
        if fm.style == "bars":
            handles[fm.node_id] = _add_bars(plotter, actors, fm)
        elif fm.style not in ("planes", "slab"):
            handles[fm.node_id] = _add_volume(plotter, fm, scene.cmap)
        actors._features[fm.node_id] = handles[fm.node_id]


def _stack_values(fm: FeatureMap) -> np.ndarray:
    """A plane or slab map's values as (K, H, W)."""
    values = np.asarray(fm.values)
    return values[None] if values.ndim == 2 else values


def atlas_size(fm: FeatureMap) -> tuple[int, int]:
    """(width, height) texels of a plane or slab map's atlas (:func:`atlas_rgb`)."""
    k, h, w = _stack_values(fm).shape
    rows, cols = atlas_grid(k)
    return cols * w, rows * h


def _add_planes(
    plotter: pv.Plotter,
    actors: SceneActors,
    planes: Sequence[FeatureMap],
    sizes: Sequence[tuple[int, int]],
    page: Page,
    name: str,
    eye: np.ndarray,
    forward: np.ndarray,
) -> dict[str, _FeatureHandle]:
    """The plane stacks packed into ``page`` as one mesh of quads, nearest the scene's camera first,
    sampling one texture in which each map's RGB atlas (``sizes[i]`` texels) is at its place."""
    width, height = page.size
    texels = np.zeros((height, width, 3), dtype=np.uint8)  # rows bottom-up, as VTK stores an image
    meshes, placed = [], []
    for i, (x, y) in zip(page.items, page.places):
        fm, (w, h) = planes[i], sizes[i]
        values = _stack_values(fm)
        grid = atlas_grid(len(values))
        place = np.s_[y : y + h, x : x + w]
        texels[place] = atlas_rgb(values, fm.clim, actors.lut, grid)[::-1]
        placed.append((fm, grid, place))
        origin, plane_size = np.asarray(fm.origin), np.asarray(fm.plane_size)
        mesh = tiled_planes_mesh(origin, plane_size, fm.spacing, len(values), grid, offsets=fm.offsets)
        uv = np.asarray(mesh.active_texture_coordinates, dtype=float)  # the atlas's [0, 1]² ...
        mesh.active_texture_coordinates = ((x, y) + uv * (w, h)) / (width, height)  # ... to its place
        meshes.append(mesh)
    image = pv.ImageData(dimensions=(width, height, 1))
    image.point_data["rgb"] = texels.reshape(-1, 3)
    texture = pv.Texture(image)
    texture.interpolate = False
    texture.repeat = False
    actor = plotter.add_mesh(
        quads_nearest_first(merged_quads(meshes), eye, forward),
        texture=texture,
        lighting=False,  # exact colour-bar colours
        pickable=False,
        name=name,
        reset_camera=False,
        render=False,
    )
    live = np.asarray(image.point_data["rgb"]).reshape(height, width, 3)  # the page's own memory, not a copy
    return {
        fm.node_id: _FeatureHandle(fm, actor, np.shape(fm.values), image=image, texels=live[place], grid=grid)
        for fm, grid, place in placed
    }


def _add_bars(plotter: pv.Plotter, actors: SceneActors, fm: FeatureMap) -> _FeatureHandle:
    """A vector as one column of coloured cells (edged while they are few enough to tell apart)."""
    values = np.asarray(fm.values)
    n = values.size
    mesh = vertical_bars_mesh(np.asarray(fm.origin), np.asarray(fm.plane_size), n)
    mesh.cell_data["rgb"] = values_rgb(values.reshape(-1), fm.clim, actors.lut)  # NaN/Inf: own colours
    actor = plotter.add_mesh(
        mesh,
        scalars="rgb",
        rgb=True,
        show_scalar_bar=False,
        show_edges=n <= 64,
        edge_color=(0.85, 0.85, 0.85),
        lighting=False,  # exact colour-bar colours
        pickable=False,
        name=f"fmap:{fm.node_id}",
        reset_camera=False,
        render=False,
    )
    return _FeatureHandle(fm, actor, values.shape, mesh=mesh)


def _add_volume(plotter: pv.Plotter, fm: FeatureMap, cmap: str) -> _FeatureHandle:
    """A (C, H, W) map as a GPU ray-cast volume, one voxel per value."""
    values = np.asarray(fm.values)
    c, h, w = values.shape
    grid_data = pv.ImageData(dimensions=(w, h, c), spacing=(fm.spacing,) * 3, origin=tuple(fm.origin))
    grid_data.point_data["values"] = _volume_order(values.astype(np.float32))
    actor = plotter.add_volume(
        grid_data,
        scalars="values",
        cmap=cmap,
        clim=fm.clim,
        mapper="gpu",
        opacity="sigmoid",
        show_scalar_bar=False,
        pickable=False,
        name=f"fmap:{fm.node_id}",
        reset_camera=False,
        render=False,
    )
    actor.mapper.SetSampleDistance(float(fm.spacing))
    return _FeatureHandle(fm, actor, values.shape, volume=grid_data)


#: label text is rasterised at this multiple of its on-screen size. 1 reproduces the point labels
#: pixel for pixel at the scene's camera (hinted glyphs, texel centres on pixel centres); 2 keeps
#: them sharp when zoomed in but is visibly softer at 9-12 px, where hinting matters most.
def _text(
    plotter: pv.Plotter, text: str, x: float, y: float, size: int, color: Any, *, top: bool, name: str
) -> pv.Text:
    actor = pv.Text(text=text, position=(x, y))
    prop = actor.prop
    prop.color = rgb01(color)
    prop.font_size = size
    font = font_file()
    if font:
        prop.set_font_file(font)
    prop.justification_vertical = "top" if top else "bottom"
    plotter.add_actor(actor, reset_camera=False, name=name, pickable=False, render=False)
    return actor


def _add_overlays(
    plotter: pv.Plotter, actors: SceneActors, scene: Scene, width: int, height: int, scale: float
) -> None:
    """Title, notes, caption and legend stacked top left, the colour bar bottom right: exactly the
    rectangles :attr:`Scene.overlays` reserved when the camera was framed (``scene`` is at this size)."""
    lay = scene.overlays
    m = lay.margin
    actors.title_actor = _text(
        plotter, scene.title, m, height - m, max(10, round(lay.title_font)), TEXT_COLOR, top=True, name="title"
    )
    if scene.notes:
        actors.notes_actor = _text(
            plotter,
            "\n".join(scene.notes),
            m,
            height - lay.notes[1],
            max(8, round(lay.note_font)),
            NOTE_COLOR,
            top=True,
            name="notes",
        )
    actors.caption_actor = _text(
        plotter, "", m, height - lay.caption[1], max(9, round(lay.caption_font)), TEXT_COLOR, top=True, name="caption"
    )

    if scene.legend:
        actors.legend_actor = _legend(plotter, scene.legend, width, height, lay)

    if scene.feature_maps:
        actors.scalar_bar_actor = _scalar_bar(plotter, actors, scene, width, height, scale)


_SQUARE = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=float)


def legend_swatch(rgb: Sequence[int]) -> pv.PolyData:
    """A legend entry's square, its colour as cell scalars (the last cell's is the entry's colour). A light
    one (+Inf is white) is drawn inside a frame, or it vanishes on the white background."""
    if min(rgb) >= LIGHT_SWATCH:
        face = pv.PolyData(np.concatenate([_SQUARE, 0.2 + 0.6 * _SQUARE]), faces=[4, 0, 1, 2, 3, 4, 4, 5, 6, 7])
        face.cell_data["rgb"] = np.asarray([EDGE_COLOR, rgb], dtype=np.uint8)
    else:
        face = pv.PolyData(_SQUARE, faces=[4, 0, 1, 2, 3])
        face.cell_data["rgb"] = np.asarray([rgb], dtype=np.uint8)
    return face


def _legend(plotter: pv.Plotter, entries: list, width: int, height: int, lay: Overlays) -> vtkLegendBoxActor:
    """Category swatches top left under the title: one legend actor, swatches coloured by scalars."""
    legend = vtkLegendBoxActor()
    legend.SetNumberOfEntries(len(entries))
    for i, (name, rgb) in enumerate(entries):
        legend.SetEntry(i, legend_swatch(rgb), str(name), rgb01(TEXT_COLOR))
    legend.ScalarVisibilityOn()
    legend.UseBackgroundOff()
    legend.BorderOff()
    legend.SetPadding(max(1, round(5 * lay.scale)))
    prop = legend.GetEntryTextProperty()
    font = font_file()
    if font:
        prop.SetFontFamily(VTK_FONT_FILE)
        prop.SetFontFile(font)
    prop.BoldOff()
    prop.ItalicOff()
    prop.ShadowOff()
    x0, y0, x1, y1 = lay.legend
    box_w = (x1 - x0 - lay.margin) / width
    box_h = (y1 - y0) / height
    legend.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
    legend.GetPositionCoordinate().SetValue(lay.margin * 0.6 / width, 1 - y1 / height)
    legend.GetPosition2Coordinate().SetValue(box_w, box_h)
    plotter.add_actor(legend, reset_camera=False, name="legend", pickable=False, render=False)
    return legend


def _scalar_bar(
    plotter: pv.Plotter, actors: SceneActors, scene: Scene, width: int, height: int, scale: float
) -> vtkScalarBarActor:
    """Horizontal colour bar bottom right: tick labels above the bar, title below it."""
    own = [fm for fm in scene.feature_maps if not fm.block] or scene.feature_maps  # attention keeps its own
    clims = {tuple(float(v) for v in fm.clim) for fm in own}
    title = scene.colorbar_title or "activation"
    labels, label_format = 3, "%.3g"
    if len(clims) == 1:  # one scale: true numbers (a signed one reads -a, 0, +a)
        (clim,) = clims
    else:  # each layer has its own limits: the ends are each layer's p1 and p99, not numbers
        clim, labels, label_format = (1.0, 99.0), 2, "p%.0f"
    label_size = max(8, round(18 * scale))
    margin = round(24 * scale)
    bar_w = round(min(0.4 * width, 420 * scale))
    bar_h = round(70 * scale)
    title_h = round(1.6 * label_size)
    x0 = width - margin - bar_w
    y0 = margin + title_h
    bar = colour_bar(
        pv.LookupTable(cmap=scene.cmap, scalar_range=clim),
        labels=labels,
        label_format=label_format,
        label_size=label_size,
        box=(x0, y0, x0 + bar_w, y0 + bar_h),
    )
    bar.SetTextPad(max(1, round(3 * scale)))
    plotter.add_actor(bar, reset_camera=False, name="colorbar", pickable=False, render=False)
    actors.colorbar_title_actor = _text(
        plotter, title, x0 + bar_w / 2, y0 - round(4 * scale), label_size, TEXT_COLOR, top=True, name="colorbar-title"
    )
    actors.colorbar_title_actor.prop.justification_horizontal = "center"
    return bar


def colour_bar(
    lut: Any, *, labels: int, label_format: str, label_size: int, box: tuple[int, int, int, int]
) -> vtkScalarBarActor:
    """A horizontal colour bar in the house style (labels above the bar in the label font, no frame) over
    display pixels ``box`` (x0, y0, x1, y1, y up): the scene's and the explainer's colour bars."""
    bar = vtkScalarBarActor()
    bar.SetLookupTable(lut)
    bar.SetOrientationToHorizontal()
    bar.SetNumberOfLabels(labels)
    bar.SetLabelFormat(label_format)
    bar.UnconstrainedFontSizeOn()
    bar.SetBarRatio(0.45)
    bar.DrawFrameOff()
    bar.SetTextPositionToSucceedScalarBar()
    prop = bar.GetLabelTextProperty()
    prop.SetColor(*rgb01(TEXT_COLOR))
    font = font_file()
    if font:
        prop.SetFontFamily(VTK_FONT_FILE)
        prop.SetFontFile(font)
    prop.SetFontSize(label_size)
    prop.BoldOff()
    prop.ItalicOff()
    prop.ShadowOff()
    x0, y0, x1, y1 = box
    bar.GetPositionCoordinate().SetCoordinateSystemToDisplay()
    bar.GetPositionCoordinate().SetValue(x0, y0)
    bar.GetPosition2Coordinate().SetCoordinateSystemToDisplay()
    bar.GetPosition2Coordinate().SetReferenceCoordinate(None)
    bar.GetPosition2Coordinate().SetValue(x1, y1)
    return bar


def _apply_camera(plotter: pv.Plotter, scene: Scene) -> None:
    cam = scene.camera
    plotter.camera_position = cam.as_pyvista()
    plotter.camera.view_angle = float(cam.view_angle)
    if cam.parallel_scale is not None:
        plotter.enable_parallel_projection()
        plotter.camera.parallel_scale = float(cam.parallel_scale)
    plotter.renderer.ResetCameraClippingRange()
