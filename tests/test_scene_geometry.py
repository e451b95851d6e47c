"""Box sizes: log-scaled, clamped, monotone in C, H and W; vectors are tall thin slabs."""

from __future__ import annotations

import numpy as np

from render3d.scene.geometry import GLYPH, THIN, box_sizes, channel_size, shape_text, spatial_size


def test_channel_depth_is_monotone_in_c():
    sizes = box_sizes([(1, c, 16, 16) for c in range(1, 4097)])
    assert np.all(np.diff(sizes[:, 2]) >= 0)
    assert np.all(sizes[:, :2] == sizes[0, :2])


def test_height_is_monotone_in_h_and_width_in_w():
    by_h = box_sizes([(1, 8, h, 16) for h in range(1, 1025)])
    by_w = box_sizes([(1, 8, 16, w) for w in range(1, 1025)])
    assert np.all(np.diff(by_h[:, 1]) >= 0) and np.all(by_h[:, [0, 2]] == by_h[0, [0, 2]])
    assert np.all(np.diff(by_w[:, 0]) >= 0) and np.all(by_w[:, 1:] == by_w[0, 1:])


def test_sizes_strictly_increase_inside_the_clamp_range():
    c = channel_size(np.array([1, 2, 3, 64, 512, 2048]))
    s = spatial_size(np.array([1, 2, 7, 32, 224]))
    assert np.all(np.diff(c) > 0)
    assert np.all(np.diff(s) > 0)


def test_2048_channels_do_not_dwarf_3():
    depth = box_sizes([(1, 3, 32, 32), (1, 2048, 32, 32)])[:, 2]
    assert 1.0 < depth[1] / depth[0] < 8.0


def test_linear_sizing_is_monotone_and_clamped():
    sizes = box_sizes([(1, c, 16, 16) for c in (1, 8, 64, 512, 100_000)], sizing="linear")
    assert np.all(np.diff(sizes[:, 2]) >= 0)
    assert sizes[-1, 2] == 5.5


def test_vector_is_tall_thin_slab():
    ((sx, sy, sz),) = box_sizes([(1, 512)])
    assert sx == THIN and sz == THIN and sy > 5 * THIN


def test_tokens_use_t_for_height_and_d_for_width():
    ((sx, sy, sz),) = box_sizes([(1, 16, 256)])
    assert sy == spatial_size(16) and sx == spatial_size(256) and sz == THIN


def test_video_depth_counts_channels_times_frames():
    ((_, _, sz),) = box_sizes([(1, 8, 4, 16, 16)])
    assert sz == channel_size(32)


def test_glyph_and_unknown_shapes_are_small_cubes():
    sizes = box_sizes([None, (1, 64, 8, 8)], glyph=np.array([False, True]))
    assert np.all(sizes == GLYPH)


def test_shape_text_drops_batch():
    assert shape_text((1, 64, 32, 32)) == "64×32×32"
    assert shape_text((1, 512)) == "512"
    assert shape_text(None) == "?"
