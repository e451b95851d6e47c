"""glTF/GLB export: read back with pygltflib (an independent reader), meshes, textures and colours as drawn."""

from __future__ import annotations

import base64
import io
import struct

import numpy as np
import pygltflib
import pytest
import torch
from PIL import Image

import render3d
from render3d.errors import OutputSpecError
from render3d.models import SeedCNN
from render3d.rendering.gltf import linear_to_srgb, scene_gltf
from render3d.rendering.meshes import face_shades

SIZE = (640, 360)


@pytest.fixture(scope="module")
def seed_scene():
    torch.manual_seed(0)
    return render3d.build_scene(render3d.trace(SeedCNN(), torch.randn(1, 3, 64, 64)), "activations", image_size=SIZE)


def _read(path) -> pygltflib.GLTF2:
    return pygltflib.GLTF2().load(str(path))


def _accessor(gltf: pygltflib.GLTF2, index: int) -> np.ndarray:
    acc = gltf.accessors[index]
    view = gltf.bufferViews[acc.bufferView]
    blob = gltf.binary_blob() if gltf.buffers[0].uri is None else base64.b64decode(gltf.buffers[0].uri.split(",", 1)[1])
    dtype = {5126: np.float32, 5125: np.uint32}[acc.componentType]
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}[acc.type]
    data = np.frombuffer(blob, dtype=dtype, count=acc.count * width, offset=view.byteOffset + (acc.byteOffset or 0))
    return data.reshape(acc.count, width)


def _node(gltf: pygltflib.GLTF2, name: str) -> pygltflib.Node:
    return next(n for n in gltf.nodes if n.name == name)


def test_glb_of_seedcnn_activations_has_a_textured_plane_mesh_per_feature_map(seed_scene, tmp_path):
    path = render3d.export(seed_scene, path=tmp_path / "s.glb")
    gltf = _read(path)
    fmaps = [n for n in gltf.nodes if n.name.startswith("fmap:")]
    assert [n.name for n in fmaps] == [f"fmap:{fm.node_id}" for fm in seed_scene.feature_maps]
    assert len(fmaps) == 11
    # one texture per feature map plus the label atlas
    assert len(gltf.textures) == 12
    conv1 = _node(gltf, "fmap:conv1#1")
    k, h, w = seed_scene.feature_maps[1].values.shape
    assert (k, h, w) == (6, 32, 32)  # channels kept at 640×360
    assert conv1.extras == {"render3d": {"feature_map": "conv1#1", "block": "conv1#1", "grid": [2, 3]}}
    primitive = gltf.meshes[conv1.mesh].primitives[0]
    assert _accessor(gltf, primitive.attributes.POSITION).shape == (6 * 4, 3)  # 6 planes, 4 corners each
    material = gltf.materials[primitive.material]
    texture = gltf.textures[material.pbrMetallicRoughness.baseColorTexture.index]
    image = gltf.images[texture.source]
    view = gltf.bufferViews[image.bufferView]
    png = gltf.binary_blob()[view.byteOffset :][: view.byteLength]
    assert Image.open(io.BytesIO(png)).size == (3 * 32, 2 * 32)  # the 2×3 atlas
    assert gltf.samplers[texture.sampler].magFilter == 9728  # nearest: one texel per activation


def test_glb_block_colour_reads_back_as_the_scene_colour(seed_scene, tmp_path):
    gltf = _read(render3d.export(seed_scene, path=tmp_path / "s.glb"))
    node = _node(gltf, "blocks:Reshape/other")  # the one closed (map-less) block: the flatten
    colours = linear_to_srgb(_accessor(gltf, gltf.meshes[node.mesh].primitives[0].attributes.COLOR_0))
    i = seed_scene.blocks.categories.index("Reshape/other")
    top = np.round(np.asarray(seed_scene.blocks.colors[i], dtype=float) * face_shades()[3]).astype(np.uint8)
    assert colours.shape == (24, 3)  # 6 faces × 4 own corners
    assert colours[12:16].tolist() == [top.tolist()] * 4  # the +y face, at full brightness


def test_gltf_file_holds_the_same_document_with_its_buffer_inline(seed_scene, tmp_path):
    glb = _read(render3d.export(seed_scene, path=tmp_path / "s.glb"))
    text = _read(render3d.export(seed_scene, path=tmp_path / "s.gltf"))
    assert text.buffers[0].uri.startswith("data:application/octet-stream;base64,")
    assert [n.name for n in text.nodes] == [n.name for n in glb.nodes]
    node = _node(text, "fmap:conv1#1")
    positions = _accessor(text, text.meshes[node.mesh].primitives[0].attributes.POSITION)
    assert positions.shape == (24, 3)


def test_glb_header_lengths_are_consistent(seed_scene):
    data = scene_gltf(seed_scene).glb()
    magic, version, total = struct.unpack_from("<4sII", data)
    json_len, json_kind = struct.unpack_from("<I4s", data, 12)
    assert (magic, version, total, json_kind) == (b"glTF", 2, len(data), b"JSON")
    assert json_len % 4 == 0 and struct.unpack_from("<I4s", data, 20 + json_len)[1] == b"BIN\0"


def test_architecture_glb_has_edges_connectors_labels_and_camera_but_no_textured_planes(tmp_path):
    torch.manual_seed(0)
    scene = render3d.build_scene(render3d.trace(SeedCNN(), torch.randn(1, 3, 64, 64)), image_size=SIZE)
    gltf = _read(render3d.export(scene, path=tmp_path / "a.glb"))
    names = [n.name for n in gltf.nodes]
    assert not any(name.startswith("fmap:") for name in names)
    assert {"blocks:edges", "connectors:flow", "labels", "camera"} <= set(names)
    assert len(gltf.textures) == 1  # the label atlas
    assert gltf.cameras[0].perspective.aspectRatio == pytest.approx(640 / 360)


def test_export_refuses_an_extension_it_does_not_write_before_any_work(tmp_path):
    message = r"out\.obj: extension '\.obj' is not an output format .* \.html, \.glb, \.gltf"
    with pytest.raises(OutputSpecError, match=message):
        render3d.export("no.such.module:Model", path=tmp_path / "out.obj")
    assert not (tmp_path / "out.obj").exists()
