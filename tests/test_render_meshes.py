"""Merged geometry: one mesh per category, built with numpy, picking ids per cell."""

from __future__ import annotations

import numpy as np
import pytest
from render_fixtures import PALETTE, grid_scene, small_scene

from render3d.rendering import build_plotter
from render3d.rendering.labels import latin1_label
from render3d.rendering.meshes import (
    boxes_mesh,
    colormap_lut,
    face_shades,
    polylines_mesh,
    quads_nearest_first,
    segments_mesh,
    tiled_planes_mesh,
)


def test_boxes_mesh_has_six_quads_per_box_and_ids():
    lower = np.array([[0, 0, 0], [2, 0, 0], [4, 1, 1]], dtype=float)
    upper = lower + [1, 2, 3]
    colors = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=np.uint8)
    mesh = boxes_mesh(lower, upper, colors, np.array([7, 8, 9]))
    assert mesh.n_cells == 18 and mesh.n_points == 24
    assert mesh.is_all_triangles is False
    np.testing.assert_array_equal(mesh.cell_data["block_id"], np.repeat([7, 8, 9], 6))
    np.testing.assert_array_equal(mesh.cell_data["rgb"][::6], colors)  # unshaded by default
    shaded = boxes_mesh(lower, upper, colors, np.array([7, 8, 9]), face_shades())
    np.testing.assert_array_equal(shaded.cell_data["rgb"][3::6], colors)
    assert shaded.cell_data["rgb"][0::6].sum() < colors.sum()
    np.testing.assert_allclose(mesh.bounds, (0, 5, 0, 3, 0, 4))
    # Closed boxes: every face normal points away from its box centre.
    normals = mesh.compute_normals(
        cell_normals=True, point_normals=False, auto_orient_normals=False, consistent_normals=False
    )
    centres = mesh.cell_centers().points
    box_centre = ((lower + upper) / 2)[np.repeat(np.arange(3), 6)]
    assert np.all(np.einsum("ij,ij->i", normals.cell_data["Normals"], centres - box_centre) > 0)


def test_polylines_mesh_one_cell_per_line():
    lines = [np.zeros((2, 3)), np.ones((5, 3)), np.arange(9, dtype=float).reshape(3, 3)]
    mesh = polylines_mesh(lines)
    assert mesh.n_lines == 3 and mesh.n_points == 10
    np.testing.assert_array_equal(mesh.lines[:4], [2, 0, 1, 5])


def test_tiled_planes_cover_their_tiles():
    mesh = tiled_planes_mesh(np.array([0.0, 0.0, 0.0]), np.array([2.0, 1.0]), 0.5, 3, (2, 2))
    assert mesh.n_cells == 3
    np.testing.assert_allclose(mesh.bounds, (0, 2, 0, 1, 0, 1.0))
    tc = mesh.active_texture_coordinates.reshape(3, 4, 2)
    assert tc.min() >= 0 and tc.max() <= 1
    # Tile 0 is the top-left quarter of the atlas (v runs upwards).
    assert tc[0, :, 0].max() <= 0.5 and tc[0, :, 1].min() >= 0.5


def test_colormap_lut_is_uint8_256x3():
    lut = colormap_lut("viridis")
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    assert tuple(lut[0]) == (68, 1, 84)


def test_one_actor_per_category_not_per_block():
    counts = []
    for n in (60, 600):
        scene = grid_scene(n, labels=10)
        pl, actors = build_plotter(scene, size=(160, 90))
        try:
            assert set(actors.block_actors) == set(PALETTE)
            assert sum(m.n_cells for m in actors.block_meshes.values()) == 6 * n
            ids = np.sort(np.concatenate([m.cell_data["block_id"] for m in actors.block_meshes.values()]))
            np.testing.assert_array_equal(ids, np.repeat(np.arange(n), 6))
            for name, mesh in actors.block_meshes.items():
                assert {scene.blocks.categories[i] for i in mesh.cell_data["block_id"]} == {name}
            counts.append(len(pl.renderer.actors))
        finally:
            pl.close()
    assert counts[0] == counts[1] < 20


def test_set_block_colors_writes_in_place():
    scene = small_scene(activations=False)
    pl, actors = build_plotter(scene, size=(160, 90))
    try:
        meshes = dict(actors.block_meshes)
        rgb = np.zeros((len(scene.blocks), 3), dtype=np.uint8)
        rgb[:, 0] = np.arange(len(scene.blocks)) * 10
        actors.set_block_colors(rgb)
        for name, mesh in actors.block_meshes.items():
            assert mesh is meshes[name]
            top = mesh.cell_data["rgb"][3::6, 0]  # +y faces are drawn at full brightness
            np.testing.assert_array_equal(top, mesh.cell_data["block_id"][3::6] * 10)
            assert np.all(mesh.cell_data["rgb"][::6, 0] <= top)
        with pytest.raises(ValueError, match="shape"):
            actors.set_block_colors(rgb[:2])
    finally:
        pl.close()


def test_unknown_feature_style_is_rejected():
    scene = small_scene()
    scene.feature_maps[0].style = "holo"
    with pytest.raises(ValueError, match="Style must be one of: planes, slab, bars, volume"):
        build_plotter(scene, size=(64, 36))


def test_latin1_label_fallbacks():
    assert latin1_label("3×32×32") == "3×32×32"
    assert latin1_label("a → b") == "a -> b"
    assert latin1_label("α·x") == "alpha.x"
    assert latin1_label("日本").isascii()


def test_segments_mesh_draws_a_shared_segment_once_in_either_direction():
    a = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]])
    b = np.array([[2.0, 0, 0], [1, 0, 0], [1, 1, 0]])
    mesh = segments_mesh([a, b])
    assert mesh.n_cells == 3
    assert mesh.points.tolist() == [[0, 0, 0], [1, 0, 0], [1, 0, 0], [2, 0, 0], [1, 0, 0], [1, 1, 0]]


def test_quads_nearest_first_puts_the_plane_nearest_the_eye_first():
    mesh = tiled_planes_mesh(np.zeros(3), np.array([1.0, 1.0]), 0.5, 4, (2, 2))
    quads_nearest_first(mesh, np.array([0.5, 0.5, 10.0]), np.array([0.0, 0.0, -1.0]))
    z = mesh.points[mesh.faces.reshape(-1, 5)[:, 1], 2]
    np.testing.assert_array_equal(z, [1.5, 1.0, 0.5, 0.0])


def test_feature_maps_are_drawn_before_the_blocks():
    pl, actors = build_plotter(small_scene(), size=(160, 90))
    try:
        props = pl.renderer.GetViewProps()
        props.InitTraversal()
        drawn = [props.GetNextProp() for _ in range(props.GetNumberOfItems())]
        first_block = min(drawn.index(a) for a in actors.block_actors.values())
        assert max(drawn.index(a) for a in actors.feature_actors.values()) < first_block
    finally:
        pl.close()
