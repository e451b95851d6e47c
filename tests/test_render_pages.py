"""Texture pages: feature-map atlases packed into a few textures, drawn as one actor per page."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torchvision

import render3d
from render3d.rendering import build_plotter
from render3d.rendering.pages import PAGE_TEXELS, pack_pages
from render3d.rendering.png import read_rgb
from render3d.rendering.tour import TourView
from render3d.scene.tour import plan_tour


def _rects(sizes, page):
    return [(x, y, *sizes[i]) for i, (x, y) in zip(page.items, page.places)]


def _overlap(a, b) -> bool:
    (x, y, w, h), (xx, yy, ww, hh) = a, b
    return x < xx + ww and xx < x + w and y < yy + hh and yy < y + h


@pytest.mark.parametrize("seed", range(20))
def test_every_atlas_lands_once_inside_its_page_without_overlap(seed):
    rng = random.Random(seed)
    sizes = [(rng.randint(1, 700), rng.randint(1, 700)) for _ in range(rng.randint(1, 80))]
    pages = pack_pages(sizes, limit=1024)
    assert sorted(i for p in pages for i in p.items) == list(range(len(sizes)))
    for page in pages:
        width, height = page.size
        assert width <= 1024 and height <= 1024
        rects = _rects(sizes, page)
        assert all(x >= 0 and y >= 0 and x + w <= width and y + h <= height for x, y, w, h in rects)
        assert not any(_overlap(a, b) for k, a in enumerate(rects) for b in rects[k + 1 :])


def test_a_network_of_repeating_layer_sizes_fills_one_page_mostly():
    sizes = [(245, 245)] + [(144, 49)] * 40 + [(192, 49)] * 40  # Swin-T-like atlases
    (page,) = pack_pages(sizes)
    used = sum(w * h for w, h in sizes)
    assert used / (page.size[0] * page.size[1]) > 0.75


def test_an_atlas_beyond_the_limit_has_a_page_of_its_own():
    pages = pack_pages([(100, 100), (5000, 30), (100, 100)], limit=PAGE_TEXELS)
    assert [(p.size, p.items) for p in pages] == [((5000, 30), (1,)), ((100, 200), (0, 2))]


def test_a_full_page_starts_another():
    pages = pack_pages([(600, 600)] * 5, limit=1024)
    assert [len(p.items) for p in pages] == [1, 1, 1, 1, 1]
    assert all(p.size == (600, 600) for p in pages)


def test_no_atlases_no_pages():
    assert pack_pages([]) == []


def test_packing_is_deterministic():
    sizes = [(int(w), int(h)) for w, h in np.random.default_rng(3).integers(1, 300, size=(50, 2))]
    assert pack_pages(sizes) == pack_pages(sizes)


# --- in the renderer --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    t = render3d.trace(torchvision.models.resnet18(), torch.randn(1, 3, 64, 64))
    return t, render3d.build_scene(t, "activations", image_size=(480, 270))


def _plane_maps(scene):
    return [fm.node_id for fm in scene.feature_maps if fm.style in ("planes", "slab")]


def _actor_count(actors, ids) -> int:
    return len({id(actors.feature_actors[i]) for i in ids})


def test_every_plane_stack_of_a_scene_is_drawn_by_one_actor(resnet):
    _, scene = resnet
    pl, actors = build_plotter(scene)
    try:
        ids = _plane_maps(scene)
        assert len(ids) > 10 and _actor_count(actors, ids) == 1
    finally:
        pl.close()


def test_one_page_draws_the_picture_separate_actors_draw(resnet):
    """The same texels at the same places: only a pixel whose centre falls on a texel boundary may round
    to the neighbouring texel of the same map."""
    _, scene = resnet
    ids = _plane_maps(scene)
    images = {}
    for separate in (True, False):
        pl, actors = build_plotter(scene, separate_maps=separate)
        try:
            assert _actor_count(actors, ids) == (len(ids) if separate else 1)
            images[separate] = read_rgb(pl).astype(int)
        finally:
            pl.close()
    differ = (np.abs(images[True] - images[False]).max(axis=-1) > 0).sum()
    assert differ <= 0.0005 * images[True].shape[0] * images[True].shape[1]


def _place(handle) -> tuple[slice, slice]:
    """The page's rows and columns that ``handle``'s texels (a view into the page) cover."""
    page = np.asarray(handle.image.point_data["rgb"])
    offset = (handle.texels.__array_interface__["data"][0] - page.__array_interface__["data"][0]) // 3
    y, x = divmod(offset, handle.image.dimensions[0])
    h, w = handle.texels.shape[:2]
    return slice(y, y + h), slice(x, x + w)


def test_updating_one_map_repaints_its_own_place_on_the_page_only(resnet):
    _, scene = resnet
    pl, actors = build_plotter(scene)
    try:
        first = _plane_maps(scene)[0]
        handle = actors._features[first]
        width, height = handle.image.dimensions[:2]
        before = np.asarray(handle.image.point_data["rgb"]).reshape(height, width, 3).copy()
        actors.update_feature_map(first, -np.asarray(actors.feature_values(first)))
        after = np.asarray(handle.image.point_data["rgb"]).reshape(height, width, 3)
        changed = (after != before).any(axis=2)
        changed[_place(handle)] = False
        assert (after != before).any() and not changed.any()
    finally:
        pl.close()


def test_the_tour_gives_each_map_its_own_actor_to_dim(resnet):
    trace, scene = resnet
    view = TourView(scene, plan_tour(trace, scene, fps=4))
    try:
        ids = _plane_maps(scene)
        assert _actor_count(view.actors, ids) == len(ids)
    finally:
        view.plotter.close()
