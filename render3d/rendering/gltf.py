"""Scene → glTF 2.0 with numpy: a ``.glb`` (or a ``.gltf`` with its buffer inline) for Blender, three.js,
PowerPoint and render3d's own HTML page.

Built from the :class:`~render3d.scene.model.Scene` through the same mesh builders as the VTK actors
(:mod:`render3d.rendering.meshes`), never from a live plotter, so exporting changes nothing anyone
holds. What is in the file:

* blocks: one mesh per legend category, the face shading baked into ``COLOR_0`` as the renderer bakes
  it (unlit materials, ``KHR_materials_unlit``: the colours are the PNG's); the washed copies behind
  ``×N`` blocks; a block with feature maps inside is drawn open, as in the PNG: its outline in the
  category colour over its far faces (wound inwards, so the near ones are culled);
* connectors: line primitives, flow grey and skips vermillion;
* feature maps: textured planes (nearest sampling) on the renderer's atlas (the same colours, per-layer
  limits); bar rows and volumes become planes too (a web viewer has no volume rendering). Each map is
  a node ``fmap:<id>`` whose texture a viewer can swap per epoch (:func:`feature_map_pngs`);
* labels (optional): camera-facing textured quads from the renderer's own label atlas;
* the scene camera.

``COLOR_0`` and colour factors are linear, as the format requires; textures are sRGB PNGs.
"""

from __future__ import annotations

import base64
import io
import json
import math
import struct
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from render3d.rendering.actors import (
    EDGE_COLOR,
    FLOW_COLOR,
    MAX_EDGED_BLOCKS,
    SHADOW_WASH,
    SKIP_COLOR,
    _backdrop,
    atlas_grid,
    atlas_rgb,
)
from render3d.rendering.meshes import (
    box_outlines_mesh,
    boxes_mesh,
    colormap_lut,
    face_shades,
    polylines_mesh,
    tiled_planes_mesh,
)
from render3d.scene.model import FeatureMap, Scene, repeat_shadows

__all__ = ["Gltf", "feature_map_pngs", "scene_gltf", "web_feature_map"]

#: most planes a volume becomes on the web (evenly spaced channels)
MAX_VOLUME_PLANES = 16

_FLOAT, _UINT32 = 5126, 5125
_TRIANGLES, _LINES = 4, 1
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_NEAREST, _LINEAR, _CLAMP = 9728, 9729, 33071
_UNLIT = "KHR_materials_unlit"


def srgb_to_linear(rgb: np.ndarray | tuple[int, int, int]) -> np.ndarray:
    """uint8 sRGB → float32 linear in [0, 1] (glTF's vertex colours and colour factors are linear)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """The inverse of :func:`srgb_to_linear`, rounded to uint8 (for reading a file back)."""
    c = np.clip(np.asarray(linear, dtype=np.float64), 0.0, 1.0)
    s = np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)
    return np.round(s * 255).astype(np.uint8)


def png_bytes(image: np.ndarray) -> bytes:
    """(H, W, 3|4) uint8 → PNG file bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


class Gltf:
    """A glTF document being built: JSON plus one binary buffer (4-byte aligned views)."""

    def __init__(self, title: str = "") -> None:
        self.doc: dict[str, Any] = {
            "asset": {"version": "2.0", "generator": "render3d"},
            "extensionsUsed": [_UNLIT],
            "scene": 0,
            "scenes": [{"name": title or "render3d", "nodes": []}],
            "nodes": [],
            "meshes": [],
            "materials": [],
            "accessors": [],
            "bufferViews": [],
            "buffers": [],
        }
        self._bin = bytearray()

    # --- low level ------------------------------------------------------------------------------
    def _view(self, data: bytes, target: int | None = None) -> int:
        while len(self._bin) % 4:
            self._bin.append(0)
        view: dict[str, Any] = {"buffer": 0, "byteOffset": len(self._bin), "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self._bin += data
        self.doc["bufferViews"].append(view)
        return len(self.doc["bufferViews"]) - 1

    def _accessor(self, array: np.ndarray, *, indices: bool = False, bounds: bool = False) -> int:
        array = np.ascontiguousarray(array, dtype=np.uint32 if indices else np.float32)
        kind = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4"}[1 if array.ndim == 1 else array.shape[1]]
        acc: dict[str, Any] = {
            "bufferView": self._view(array.tobytes(), _ELEMENT_ARRAY_BUFFER if indices else _ARRAY_BUFFER),
            "componentType": _UINT32 if indices else _FLOAT,
            "count": len(array),
            "type": kind,
        }
        if bounds:  # POSITION needs min/max
            acc["min"] = [float(v) for v in array.min(axis=0)]
            acc["max"] = [float(v) for v in array.max(axis=0)]
        self.doc["accessors"].append(acc)
        return len(self.doc["accessors"]) - 1

    def _add(self, key: str, item: dict[str, Any]) -> int:
        self.doc.setdefault(key, []).append(item)
        return len(self.doc[key]) - 1

    # --- content ---------------------------------------------------------------------------------
    def texture(self, png: bytes, name: str, *, nearest: bool = True) -> int:
        f = _NEAREST if nearest else _LINEAR
        sampler = self._add("samplers", {"magFilter": f, "minFilter": f, "wrapS": _CLAMP, "wrapT": _CLAMP})
        image = self._add("images", {"name": name, "mimeType": "image/png", "bufferView": self._view(png)})
        return self._add("textures", {"sampler": sampler, "source": image, "name": name})

    def material(
        self,
        name: str,
        *,
        color: tuple[int, int, int] = (255, 255, 255),
        texture: int | None = None,
        blend: bool = False,
        double_sided: bool = True,
    ) -> int:
        pbr: dict[str, Any] = {
            "baseColorFactor": [*map(float, srgb_to_linear(color)), 1.0],
            "metallicFactor": 0.0,
            "roughnessFactor": 1.0,
        }
        if texture is not None:
            pbr["baseColorTexture"] = {"index": texture}
        material = {"name": name, "pbrMetallicRoughness": pbr, "doubleSided": double_sided, "extensions": {_UNLIT: {}}}
        if blend:
            material["alphaMode"] = "BLEND"
        return self._add("materials", material)

    def mesh(
        self,
        name: str,
        positions: np.ndarray,
        indices: np.ndarray,
        material: int,
        *,
        mode: int = _TRIANGLES,
        colors: np.ndarray | None = None,
        uv: np.ndarray | None = None,
        extras: Mapping[str, Any] | None = None,
    ) -> int:
        """Add a mesh and a node holding it; returns the node index."""
        attributes = {"POSITION": self._accessor(positions, bounds=True)}
        if colors is not None:
            attributes["COLOR_0"] = self._accessor(srgb_to_linear(colors))
        if uv is not None:
            attributes["TEXCOORD_0"] = self._accessor(uv)
        primitive = {
            "attributes": attributes,
            "indices": self._accessor(np.ravel(indices), indices=True),
            "material": material,
            "mode": mode,
        }
        mesh = self._add("meshes", {"name": name, "primitives": [primitive]})
        node: dict[str, Any] = {"name": name, "mesh": mesh}
        if extras:
            node["extras"] = dict(extras)
        return self._node(node)

    def _node(self, node: dict[str, Any]) -> int:
        index = self._add("nodes", node)
        self.doc["scenes"][0]["nodes"].append(index)
        return index

    def camera(self, scene: Scene) -> int:
        from render3d.scene.camera import camera_basis

        cam = scene.camera
        pos, right, up, fwd = camera_basis(cam)
        w, h = scene.size
        camera = self._add(
            "cameras",
            {
                "type": "perspective",
                "name": "render3d",
                "perspective": {
                    "yfov": math.radians(cam.view_angle),
                    "aspectRatio": w / h,
                    "znear": 0.01,
                    "zfar": float(10 * np.linalg.norm(np.ptp(scene.bounds, axis=0)) + np.linalg.norm(pos)),
                },
            },
        )
        return self._node(
            {
                "name": "camera",
                "camera": camera,
                "translation": [float(v) for v in pos],
                "rotation": _quaternion(np.column_stack([right, up, -fwd])),
            }
        )

    # --- files -----------------------------------------------------------------------------------
    def _json(self, uri: str | None) -> dict[str, Any]:
        doc = dict(self.doc)
        doc["buffers"] = [{"byteLength": len(self._bin), **({"uri": uri} if uri else {})}]
        return {k: v for k, v in doc.items() if v != [] or k in ("nodes", "buffers")}

    def glb(self) -> bytes:
        """The binary file: 12-byte header, JSON chunk (space padded), BIN chunk (zero padded)."""
        text = json.dumps(self._json(None), separators=(",", ":")).encode()
        text += b" " * (-len(text) % 4)
        binary = bytes(self._bin) + b"\0" * (-len(self._bin) % 4)
        total = 12 + 8 + len(text) + 8 + len(binary)
        return (
            struct.pack("<4sII", b"glTF", 2, total)
            + struct.pack("<I4s", len(text), b"JSON")
            + text
            + struct.pack("<I4s", len(binary), b"BIN\0")
            + binary
        )

    def gltf(self) -> str:
        """The JSON file, its buffer inline as a base64 data URI (one file, as the ``.glb``)."""
        uri = "data:application/octet-stream;base64," + base64.b64encode(bytes(self._bin)).decode()
        return json.dumps(self._json(uri), separators=(",", ":"))


def _quaternion(m: np.ndarray) -> list[float]:
    """(x, y, z, w) of a 3×3 rotation matrix (columns: the rotated x, y, z axes)."""
    t = np.trace(m)
    if t > 0:
        s = 0.5 / math.sqrt(t + 1.0)
        q = [(m[2, 1] - m[1, 2]) * s, (m[0, 2] - m[2, 0]) * s, (m[1, 0] - m[0, 1]) * s, 0.25 / s]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * math.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k])
        q = [0.0, 0.0, 0.0, (m[k, j] - m[j, k]) / s]
        q[i], q[j], q[k] = 0.25 * s, (m[j, i] + m[i, j]) / s, (m[k, i] + m[i, k]) / s
    return [float(v) for v in q]


# --- pyvista meshes → triangle / line arrays ---------------------------------------------------------


def _quads(poly: Any, *, inward: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A mesh of quads → 4 own vertices per quad (flat colours need them), triangle indices, and the
    index of each vertex's quad (for per-cell data)."""
    quads = np.asarray(poly.faces).reshape(-1, 5)[:, 1:]
    positions = np.asarray(poly.points)[quads].reshape(-1, 3)
    base = 4 * np.arange(len(quads))[:, None]
    order = [0, 2, 1, 0, 3, 2] if inward else [0, 1, 2, 0, 2, 3]
    return positions, (base + order).reshape(-1), np.repeat(np.arange(len(quads)), 4)


def _lines(poly: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Polylines → points, segment index pairs, and the index of each point's line."""
    cells = np.asarray(poly.lines)
    pairs, owner, i, line = [], np.zeros(len(poly.points), dtype=np.int64), 0, 0
    while i < len(cells):
        n = int(cells[i])
        ids = cells[i + 1 : i + 1 + n]
        pairs.append(np.column_stack([ids[:-1], ids[1:]]))
        owner[ids] = line
        i += n + 1
        line += 1
    return np.asarray(poly.points), np.concatenate(pairs).reshape(-1), owner


def _add_boxes(
    out: Gltf, name: str, lower: np.ndarray, upper: np.ndarray, colors: np.ndarray, *, inward: bool = False
) -> None:
    shaded = boxes_mesh(lower, upper, colors, np.arange(len(lower)), face_shades())
    positions, tris, quad = _quads(shaded, inward=inward)
    material = out.material(name, double_sided=not inward)
    out.mesh(name, positions, tris, material, colors=np.asarray(shaded.cell_data["rgb"])[quad])


def _add_outlines(out: Gltf, name: str, lower: np.ndarray, upper: np.ndarray, colors: np.ndarray) -> None:
    poly = box_outlines_mesh(lower, upper, colors, np.arange(len(lower)))
    points, pairs, _ = _lines(poly)
    rgb = np.repeat(np.asarray(colors, dtype=np.uint8).reshape(-1, 3), 8, axis=0)  # 8 corners per box
    out.mesh(name, points, pairs, out.material(name), mode=_LINES, colors=rgb)


def _add_blocks(out: Gltf, scene: Scene) -> None:
    """As :func:`render3d.rendering.actors._add_blocks` draws them: closed blocks per category, the ×N
    deck, open blocks around their feature maps."""
    blocks = scene.blocks
    if not len(blocks):
        return
    cats = np.asarray(blocks.categories, dtype=object)
    colors = np.asarray(blocks.colors, dtype=np.uint8)
    opened = np.zeros(len(blocks), dtype=bool)
    if scene.mode == "activations":
        with_map = {fm.node_id for fm in scene.feature_maps if not fm.block}
        opened = np.array([nid in with_map for nid in blocks.node_ids], dtype=bool)
    lower, upper = blocks.lower, blocks.upper
    for name in dict.fromkeys([*[n for n, _ in scene.legend], *blocks.categories]):
        sel = (cats == name) & ~opened
        if sel.any():
            _add_boxes(out, f"blocks:{name}", lower[sel], upper[sel], colors[sel])
    closed = ~opened
    if closed.any() and len(blocks) <= MAX_EDGED_BLOCKS:  # the PNG's dark edges, up to as many blocks
        edges = np.tile(np.asarray(EDGE_COLOR, dtype=np.uint8), (int(closed.sum()), 1))
        _add_outlines(out, "blocks:edges", lower[closed], upper[closed], edges)
    s_lo, s_hi, owner = repeat_shadows(blocks)
    wire = opened[owner]
    if wire.any():
        _add_outlines(out, "blocks:repeats-open", s_lo[wire], s_hi[wire], _backdrop(colors[owner[wire]]) // 4 * 3)
    if (~wire).any():
        c = colors[owner[~wire]].astype(np.float32)
        washed = np.round(c + (255.0 - c) * SHADOW_WASH).astype(np.uint8)
        _add_boxes(out, "blocks:repeats", s_lo[~wire], s_hi[~wire], washed)
    if opened.any():
        _add_boxes(out, "blocks:open", lower[opened], upper[opened], _backdrop(colors[opened]), inward=True)
        _add_outlines(out, "blocks:outline", lower[opened], upper[opened], colors[opened])


def _add_connectors(out: Gltf, scene: Scene) -> None:
    for kind, color in (("flow", FLOW_COLOR), ("skip", SKIP_COLOR)):
        lines = [c.points for c in scene.connectors if (c.kind == "skip") == (kind == "skip")]
        if lines:
            points, pairs, _ = _lines(polylines_mesh(lines))
            out.mesh(f"connectors:{kind}", points, pairs, out.material(f"connectors:{kind}", color=color), mode=_LINES)


# --- feature maps ------------------------------------------------------------------------------------


def web_feature_map(fm: FeatureMap) -> FeatureMap:
    """``fm`` as textured planes: a bar row becomes one plane one texel wide (cell 0 on top, as drawn),
    a volume at most :data:`MAX_VOLUME_PLANES` evenly spaced channel planes; planes stay as they are."""
    values = np.asarray(fm.values)
    if fm.style == "bars":
        return replace(fm, style="planes", values=values.reshape(1, -1, 1))
    if fm.style == "volume":
        c, h, w = values.shape
        keep = np.unique(np.linspace(0, c - 1, min(c, MAX_VOLUME_PLANES)).round().astype(int))
        step = float(keep[1] - keep[0]) if len(keep) > 1 else 1.0
        return replace(
            fm,
            style="planes",
            values=values[keep],
            channels=keep,
            plane_size=np.array([w * fm.spacing, h * fm.spacing]),
            spacing=step * fm.spacing,
        )
    return replace(fm, values=values[None] if values.ndim == 2 else values)


def feature_map_pngs(scene: Scene, values: Mapping[str, np.ndarray] | None = None) -> dict[str, bytes]:
    """The texture atlas of every feature map as a PNG (by feature-map id), coloured as the renderer
    colours it (``scene.cmap`` over each map's fixed ``clim``); ``values`` replace a map's own (one
    recording snapshot: same shapes)."""
    lut = colormap_lut(scene.cmap)
    out = {}
    for fm in scene.feature_maps:
        own = values.get(fm.node_id) if values is not None else None
        web = web_feature_map(fm if own is None else replace(fm, values=np.asarray(own)))
        out[fm.node_id] = png_bytes(atlas_rgb(web.values, web.clim, lut, atlas_grid(len(web.values))))
    return out


def _add_feature_maps(out: Gltf, scene: Scene, pngs: Mapping[str, bytes]) -> None:
    for fm in scene.feature_maps:
        web = web_feature_map(fm)
        k = len(web.values)
        grid = atlas_grid(k)
        planes = tiled_planes_mesh(
            np.asarray(web.origin), np.asarray(web.plane_size), web.spacing, k, grid, offsets=web.offsets
        )
        positions, tris, _ = _quads(planes)
        uv = np.asarray(planes.active_texture_coordinates, dtype=np.float64).copy()
        uv[:, 1] = 1.0 - uv[:, 1]  # VTK's v runs up from the image's last row, glTF's down from its first
        name = f"fmap:{fm.node_id}"
        material = out.material(name, texture=out.texture(pngs[fm.node_id], name))
        out.mesh(
            name,
            positions,
            tris,
            material,
            uv=uv,
            extras={"render3d": {"feature_map": fm.node_id, "block": fm.block_id, "grid": list(grid)}},
        )


# --- labels ------------------------------------------------------------------------------------------


def _add_labels(out: Gltf, scene: Scene) -> None:
    """The renderer's label atlas on camera-facing quads, sized for the scene's camera and image."""
    from render3d.rendering import labels as lab

    font = lab.font_file()
    texts = list(scene.labels.texts) if font else [lab.latin1_label(t) for t in scene.labels.texts]
    keep = [i for i, t in enumerate(texts) if t.strip()]
    if not keep:
        return
    width, height = scene.size
    size = max(9, round((scene.labels.font_px or 19.0) * height / 1080))
    texts = [texts[i] for i in keep]
    positions = np.asarray(scene.labels.positions, dtype=float).reshape(-1, 3)[keep]
    tiles = lab._rasterise_labels(texts, font, size, 1, None)
    atlas, origin = lab._pack_atlas(tiles, lab._ATLAS_PAD)
    tile_hw = np.array([t.shape for t in tiles], dtype=float).reshape(-1, 2)
    quads = lab.labels_mesh(positions, tile_hw[:, ::-1], scene.camera, (width, height))
    ah, aw = atlas.shape
    x0, x1 = origin[:, 0] / aw, (origin[:, 0] + tile_hw[:, 1]) / aw
    y0, y1 = origin[:, 1] / ah, (origin[:, 1] + tile_hw[:, 0]) / ah  # atlas row 0 is the glyphs' bottom
    uv = np.stack(
        [
            np.column_stack([x0, 1 - y0]),
            np.column_stack([x1, 1 - y0]),
            np.column_stack([x1, 1 - y1]),
            np.column_stack([x0, 1 - y1]),
        ],
        axis=1,
    ).reshape(-1, 2)
    rgba = np.empty((ah, aw, 4), dtype=np.uint8)
    rgba[..., :3] = lab.TEXT_COLOR
    rgba[..., 3] = atlas[::-1]  # to image order: first row on top
    tris = np.asarray(quads.faces).reshape(-1, 4)[:, 1:]
    material = out.material("labels", texture=out.texture(png_bytes(rgba), "labels", nearest=False), blend=True)
    out.mesh("labels", np.asarray(quads.points), tris, material, uv=uv)


def scene_gltf(
    scene: Scene, *, labels: bool = True, camera: bool = True, values: Mapping[str, np.ndarray] | None = None
) -> Gltf:
    """The glTF document of ``scene`` (write it with :meth:`Gltf.glb` or :meth:`Gltf.gltf`); ``values``
    replace feature maps' own values (a recording's snapshot, by feature-map id)."""
    out = Gltf(scene.title)
    _add_blocks(out, scene)
    _add_connectors(out, scene)
    if scene.feature_maps:
        _add_feature_maps(out, scene, feature_map_pngs(scene, values))
    if labels and len(scene.labels):
        _add_labels(out, scene)
    if camera:
        out.camera(scene)
    return out
