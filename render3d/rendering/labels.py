"""Block labels as one textured mesh: every label rasterised once into an atlas, one quad each.

A point-label actor re-rasterises every label every frame (~12 ms of a 25 ms 1080p frame for 34
labels; billboard text actors are slower still). Here the text is drawn once with VTK's own text
renderer and the same font, so the pixels match what point labels drew, and each frame is one mesh.
"""

from __future__ import annotations

import math
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pyvista as pv
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkCommonCore import VTK_FONT_FILE
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkRenderingCore import vtkTextProperty, vtkTextRenderer

from render3d.scene.model import Scene

TEXT_COLOR = (34, 34, 34)

# Glyphs the point-label font (no ``font_file`` there) would drop, with a readable stand-in.
_LABEL_FALLBACKS = str.maketrans(
    {
        "→": "->",
        "←": "<-",
        "…": "...",
        "–": "-",
        "—": "-",
        "≈": "~",
        "≤": "<=",
        "≥": ">=",
        "α": "alpha",
        "β": "beta",
        "γ": "gamma",
        "σ": "sigma",
        "μ": "mu",
        "·": ".",
    }
)


def latin1_label(text: str) -> str:
    """``text`` with every glyph outside Latin-1 replaced (VTK's label font drops them silently)."""
    text = text.translate(_LABEL_FALLBACKS)
    try:
        text.encode("latin-1")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for ch in text:
        if ord(ch) < 256:
            out.append(ch)
            continue
        base = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
        out.append(base or "?")
    return "".join(out)


def font_file() -> str | None:
    """DejaVuSans from matplotlib (always installed with pyvista): full Unicode for titles."""
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - pyvista depends on matplotlib
        return None
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return str(path) if path.is_file() else None


def rgb01(rgb: Any) -> tuple[float, float, float]:
    r, g, b = (float(v) for v in rgb)
    return (r / 255, g / 255, b / 255)


LABEL_SUPERSAMPLE = 1
_ATLAS_PAD = 2  # transparent texels around each label in the atlas (linear filtering reads one)
_ATLAS_MAX_WIDTH = 4096
# Labels are drawn over everything, as 2-D text was: the quads' depth goes to the near plane, and
# texels with no ink are discarded so they neither hide nor write depth over what lies behind.
_ON_TOP_VS = "//VTK::CustomEnd::Impl\n  gl_Position.z = -0.999999 * gl_Position.w;\n"
_NO_INK_FS = "//VTK::CustomEnd::Impl\n  if (gl_FragData[0].a <= 0.0) { discard; }\n"


def text_property(font: str | None, size: int, line_spacing: float | None = None) -> vtkTextProperty:
    """Regular, unshadowed text in ``font`` (None: VTK's built-in Arial) at ``size`` points, label colour."""
    prop = vtkTextProperty()
    if font:
        prop.SetFontFamily(VTK_FONT_FILE)
        prop.SetFontFile(font)
    prop.SetFontSize(size)
    if line_spacing is not None:  # the default is not quite the double 1.1 (a float)
        prop.SetLineSpacing(line_spacing)
    prop.SetColor(*rgb01(TEXT_COLOR))
    prop.BoldOff()
    prop.ItalicOff()
    prop.ShadowOff()
    return prop


def _text_dims(prop: vtkTextProperty, text: str) -> tuple[int, int]:
    bbox = [0, 0, 0, 0]
    vtkTextRenderer.GetInstance().GetBoundingBox(prop, text, bbox, 72)
    return bbox[1] - bbox[0] + 1, bbox[3] - bbox[2] + 1


def _matching_line_spacing(font: str | None, size: int, k: int) -> float | None:
    """Line spacing at font size ``k·size`` whose line pitch is exactly ``k`` × the pitch at ``size``
    (FreeType rounds the pitch per size: without this a 3-line label drawn at 2× comes out ~2 px taller)."""

    def pitch(s: int, spacing: float | None) -> int:
        p = text_property(font, s, spacing)
        return _text_dims(p, "Ag\nAg")[1] - _text_dims(p, "Ag")[1]

    if k == 1:
        return None
    target = k * pitch(size, None)
    best, fit = None, []
    for spacing in np.arange(0.8, 1.5, 0.005):
        got = pitch(k * size, float(spacing))
        if got == target:
            fit.append(float(spacing))
        elif got > target:
            break
    if fit:
        best = (fit[0] + fit[-1]) / 2
    return best


def _rasterise_labels(texts: list[str], font: str | None, size: int, k: int, spacing: float | None) -> list[np.ndarray]:
    """Each label's ink coverage (uint8, row 0 at the bottom) at ``k``× the font ``size``, both
    dimensions even so that the label is exactly ``k``:1 on screen. FreeType through VTK: the glyphs,
    advances and line layout of the point labels this replaces."""
    return rasterise_texts(text_property(font, k * size, spacing), texts, k)


def rasterise_texts(prop: vtkTextProperty, texts: list[str], k: int = 1) -> list[np.ndarray]:
    """Each text's ink coverage (uint8, row 0 at the bottom) in ``prop``'s font, both dimensions
    padded to a multiple of ``k`` (a blank text: a k×k tile of no ink)."""
    renderer = vtkTextRenderer.GetInstance()
    out = []
    for text in texts:
        if not text.strip():
            out.append(np.zeros((k, k), dtype=np.uint8))
            continue
        image = vtkImageData()
        dims = [0, 0]
        renderer.RenderString(prop, text, image, dims, 72)
        nx, ny, _ = image.GetDimensions()
        rgba = vtk_to_numpy(image.GetPointData().GetScalars()).reshape(ny, nx, -1)
        w, h = dims
        tile = np.zeros((-(-h // k) * k, -(-w // k) * k), dtype=np.uint8)  # padded on the right and top
        tile[:h, :w] = rgba[:h, :w, -1]
        out.append(tile)
    return out


def _pack_atlas(tiles: list[np.ndarray], pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Shelf-pack ``tiles`` into one array; returns it and (N, 2) lower-left texel of each tile."""
    sizes = np.array([t.shape for t in tiles], dtype=np.int64).reshape(-1, 2)  # (h, w)
    area = float(((sizes[:, 0] + pad) * (sizes[:, 1] + pad)).sum())
    width = int(max(sizes[:, 1].max() + 2 * pad, min(_ATLAS_MAX_WIDTH, math.ceil(math.sqrt(area) * 1.2))))
    origin = np.zeros((len(tiles), 2), dtype=np.int64)  # (x, y)
    x, y, shelf = pad, pad, 0
    for i in np.argsort(-sizes[:, 0], kind="stable"):
        h, w = sizes[i]
        if x + w + pad > width:
            x, y, shelf = pad, y + shelf + pad, 0
        origin[i] = (x, y)
        x += w + pad
        shelf = max(shelf, h)
    atlas = np.zeros((y + shelf + pad, width), dtype=np.uint8)
    for (ox, oy), tile in zip(origin, tiles):
        atlas[oy : oy + tile.shape[0], ox : ox + tile.shape[1]] = tile
    return atlas, origin


def labels_mesh(
    positions: np.ndarray,
    sizes_px: np.ndarray,
    camera: Any,
    image_size: tuple[int, int],
    *,
    offset_px: tuple[float, float] = (-1.0, -1.0),
) -> pv.PolyData:
    """One quad (two triangles) per label, in the plane facing ``camera``, that covers exactly
    ``sizes_px`` (N, 2) pixels at ``image_size`` with its lower-left corner on the pixel grid at the
    anchor's pixel + ``offset_px`` (where 2-D text at the anchor would start)."""
    from render3d.scene.camera import camera_basis, project_points

    positions = np.asarray(positions, dtype=float).reshape(-1, 3)
    width, height = image_size
    cam_pos, right, up, fwd = camera_basis(camera)
    if camera.parallel_scale:
        wpp = np.full(len(positions), 2.0 * float(camera.parallel_scale) / height)
    else:
        depth = (positions - cam_pos) @ fwd
        wpp = 2.0 * depth * math.tan(math.radians(camera.view_angle) / 2) / height
    px = project_points(camera, positions, image_size)
    u, v_up = px[:, 0], height - px[:, 1]
    ok = np.isfinite(u) & np.isfinite(v_up)
    du = np.where(ok, np.floor(np.nan_to_num(u)) + offset_px[0] - np.nan_to_num(u), 0.0)
    dv = np.where(ok, np.floor(np.nan_to_num(v_up)) + offset_px[1] - np.nan_to_num(v_up), 0.0)
    corner = positions + right * (du * wpp)[:, None] + up * (dv * wpp)[:, None]
    ex = right * (sizes_px[:, 0] * wpp)[:, None]
    ey = up * (sizes_px[:, 1] * wpp)[:, None]
    points = np.stack([corner, corner + ex, corner + ex + ey, corner + ey], axis=1).reshape(-1, 3)
    base = 4 * np.arange(len(positions))[:, None]
    tris = np.concatenate([base + [0, 1, 2], base + [0, 2, 3]], axis=1).reshape(-1, 3)
    faces = np.column_stack([np.full(len(tris), 3), tris]).ravel()
    return pv.PolyData(points, faces=faces)


def _uncluttered(positions: np.ndarray, dims: list[tuple[int, int]], camera: Any, size: tuple[int, int]) -> np.ndarray:
    """Mask of the labels to draw: in order, each whose pixel box at ``camera`` overlaps no label kept
    before it (what VTK's placement mapper did for the point labels; scenes placed with
    ``labels="auto"`` never overlap, ``"all"`` can)."""
    from render3d.scene.camera import project_points

    px = project_points(camera, positions, size)
    keep = np.isfinite(px).all(axis=1)
    kept: list[tuple[float, float, float, float]] = []
    for i in np.flatnonzero(keep).tolist():
        x0, y1 = math.floor(px[i, 0]) - 1, math.floor(px[i, 1]) + 1
        x1, y0 = x0 + dims[i][0], y1 - dims[i][1]
        if any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in kept):
            keep[i] = False
        else:
            kept.append((x0, y0, x1, y1))
    return keep


def add_labels(plotter: pv.Plotter, scene: Scene, size: tuple[int, int]) -> Any:
    """All labels as one textured mesh: each label's text rasterised once (FreeType through VTK,
    :data:`LABEL_SUPERSAMPLE`× its size) into one RGBA atlas (text colour, coverage in alpha), one
    camera-facing quad per label sized so that at the scene's camera it covers exactly the pixels the
    text had as a point label. A point-label actor lays out and rasterises every label every frame
    (~5-12 ms of a 1080p frame for 34 labels); this mesh costs well under a millisecond."""
    font = font_file()
    # the size the scene kept the labels apart for (pixels at 1080 p), scaled to this image
    font_size = max(9, round((scene.labels.font_px or 19.0) * size[1] / 1080))
    positions, texts = _shown_labels(scene, font, font_size, size)
    if not texts:
        return None
    k = LABEL_SUPERSAMPLE
    spacing = _matching_line_spacing(font, font_size, k)
    tiles = _rasterise_labels(texts, font, font_size, k, spacing)
    atlas, origin = _pack_atlas(tiles, _ATLAS_PAD)
    tile_hw = np.array([t.shape for t in tiles], dtype=float).reshape(-1, 2)
    quad_px = tile_hw[:, ::-1] / k
    if k > 1:
        # hinted advances do not scale with the font size: stretch each quad to the 1x layout,
        # the size the point labels had and label_box_px was calibrated on
        one, big = text_property(font, font_size), text_property(font, k * font_size, spacing)
        ratio = [np.divide(_text_dims(one, t), _text_dims(big, t)) * k for t in texts]
        quad_px = quad_px * np.array(ratio, dtype=float).reshape(-1, 2)
    mesh = labels_mesh(positions, quad_px, scene.camera, size)
    mesh.active_texture_coordinates = tile_coords(origin, tile_hw, atlas.shape)
    rgba = np.empty((*atlas.shape, 4), dtype=np.uint8)
    rgba[..., :3] = TEXT_COLOR  # ink colour everywhere, so filtering never darkens or lightens edges
    rgba[..., 3] = atlas
    return add_overlay_mesh(plotter, mesh, rgba, "labels")


def _shown_labels(
    scene: Scene, font: str | None, font_size: int, size: tuple[int, int]
) -> tuple[np.ndarray, list[str]]:
    """Positions and texts of the labels to draw: each that overlaps no label before it."""
    # Without a font file VTK's built-in font drops glyphs outside Latin-1 (notes §7.5).
    texts = list(scene.labels.texts) if font else [latin1_label(t) for t in scene.labels.texts]
    positions = np.asarray(scene.labels.positions, dtype=float).reshape(-1, 3)
    dims = [_text_dims(text_property(font, font_size), t) for t in texts]
    keep = _uncluttered(positions, dims, scene.camera, size)
    return positions[keep], [texts[i] for i in np.flatnonzero(keep)]


def tile_coords(origin: np.ndarray, tile_hw: np.ndarray, atlas_hw: tuple[int, ...]) -> np.ndarray:
    """(4·N, 2) texture coordinates of N quads (lower left, lower right, upper right, upper left), each
    showing its atlas tile: lower-left texel ``origin`` (x, y), ``tile_hw`` (h, w) texels."""
    ah, aw = atlas_hw[:2]
    x0, y0 = origin[:, 0] / aw, origin[:, 1] / ah
    x1, y1 = (origin[:, 0] + tile_hw[:, 1]) / aw, (origin[:, 1] + tile_hw[:, 0]) / ah
    corners = [
        np.column_stack([x0, y0]),
        np.column_stack([x1, y0]),
        np.column_stack([x1, y1]),
        np.column_stack([x0, y1]),
    ]
    return np.stack(corners, axis=1).reshape(-1, 2)


def add_overlay_mesh(plotter: pv.Plotter, mesh: pv.PolyData, rgba: np.ndarray, name: str) -> Any:
    """``mesh`` textured with the (H, W, 4) uint8 ``rgba`` atlas (row 0 at the bottom), drawn over
    everything like 2-D text: depth at the near plane, texels with no ink discarded."""
    ah, aw = rgba.shape[:2]
    image = pv.ImageData(dimensions=(aw, ah, 1))
    image.point_data["rgba"] = rgba.reshape(-1, 4)
    texture = pv.Texture(image)
    texture.interpolate = True  # exact at the scene's camera; smooth when the view changes
    texture.mipmap = False  # llvmpipe's mip selection blurs 2x text noticeably (measured)
    texture.repeat = False
    actor = plotter.add_mesh(
        mesh,
        texture=texture,
        lighting=False,
        pickable=False,
        name=name,
        reset_camera=False,
        render=False,
    )
    # Drawn in the opaque pass, after the geometry added before it, with blending (VTK leaves it on):
    # as a translucent actor it would switch on order-independent transparency, ~20 ms a 1080p frame
    # on CPU GL.
    actor.ForceOpaqueOn()
    shader = actor.GetShaderProperty()
    shader.AddVertexShaderReplacement("//VTK::CustomEnd::Impl", True, _ON_TOP_VS, False)
    shader.AddFragmentShaderReplacement("//VTK::CustomEnd::Impl", True, _NO_INK_FS, False)
    return actor
