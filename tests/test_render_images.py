"""Rendered pixels: non-blank, framed, in-place updates, image regression, the PNG writer, the window.

Reference images live in ``tests/reference_images``; regenerate them on purpose with
``RENDER3D_UPDATE_REFERENCE=1 pytest tests/test_render_images.py`` and look at them before committing.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import pyvista as pv
from render_fixtures import grid_scene, small_scene

from render3d.rendering import build_plotter, render_png, show_scene
from render3d.rendering.window import install_interaction

REFERENCE_DIR = Path(__file__).parent / "reference_images"
SIZE = (640, 360)
ERROR_THRESHOLD = 500  # pyvista.compare_images (vtkImageDifference) error, summed over pixels


def _screenshot(pl: pv.Plotter) -> np.ndarray:
    pl.render()  # screenshot() alone does not re-render (pyvista#3698)
    return pl.screenshot(return_img=True)


def _foreground(img: np.ndarray, background=(255, 255, 255)) -> np.ndarray:
    return np.any(img[..., :3] != np.asarray(background, dtype=np.uint8), axis=-1)


def _assert_matches_reference(img: np.ndarray, name: str) -> None:
    ref = REFERENCE_DIR / f"{name}.png"
    if os.environ.get("RENDER3D_UPDATE_REFERENCE") == "1":
        REFERENCE_DIR.mkdir(exist_ok=True)
        _write_png(img, ref)
        pytest.skip(f"wrote {ref}")
    if not ref.exists():
        pytest.fail(f"missing reference {ref}; create it with RENDER3D_UPDATE_REFERENCE=1 pytest {__file__}")
    error = pv.compare_images(img, str(ref))
    if error > ERROR_THRESHOLD:
        failed = Path(os.environ.get("RENDER3D_FAILED_IMAGE_DIR", "failed_images"))
        failed.mkdir(parents=True, exist_ok=True)
        _write_png(img, failed / f"{name}.png")
        pytest.fail(f"{name}: image error {error:.0f} > {ERROR_THRESHOLD}; this render is in {failed / name}.png")


def _write_png(img: np.ndarray, path: Path) -> None:
    import imageio.v3 as iio

    iio.imwrite(path, img)


@pytest.fixture
def activations_plotter():
    pl, actors = build_plotter(small_scene(), size=SIZE)
    yield pl, actors
    pl.close()


def test_render_is_non_blank_and_framed(activations_plotter):
    pl, actors = activations_plotter
    img = _screenshot(pl)
    assert img.shape == (SIZE[1], SIZE[0], 3)
    fg = _foreground(img)
    assert 0.05 < fg.mean() < 0.6, fg.mean()
    border = np.concatenate([fg[:3].ravel(), fg[-3:].ravel(), fg[:, :3].ravel(), fg[:, -3:].ravel()])
    assert not border.any(), "something touches the image border"
    # The whole model's bounding box projects inside the image.
    renderer = pl.renderer
    lo, hi = actors.scene.bounds
    for corner in np.array(np.meshgrid(*zip(lo, hi))).T.reshape(-1, 3):
        renderer.SetWorldPoint(*corner, 1.0)
        renderer.WorldToDisplay()
        x, y, _ = renderer.GetDisplayPoint()
        assert 0 <= x <= SIZE[0] and 0 <= y <= SIZE[1], (corner, x, y)


def test_update_feature_map_changes_pixels_in_place(activations_plotter):
    pl, actors = activations_plotter
    before = _screenshot(pl)
    scene_actors = list(pl.renderer.actors.values())
    fmap_actors = actors.feature_actors
    planes = actors.scene.feature_maps[0]
    actors.update_feature_map(planes.node_id, -np.asarray(planes.values))
    actors.update_feature_map("fc", np.full((1, 1, 10), 1.0))
    after = _screenshot(pl)
    assert list(pl.renderer.actors.values()) == scene_actors
    assert actors.feature_actors == fmap_actors
    changed = np.any(before != after, axis=-1)
    assert changed.mean() > 0.002
    with pytest.raises(ValueError, match="shape"):
        actors.update_feature_map("fc", np.zeros(3))
    with pytest.raises(KeyError, match="nope"):
        actors.update_feature_map("nope", np.zeros(3))


def test_toggles_hide_activations_and_labels(activations_plotter):
    pl, actors = activations_plotter
    full = _screenshot(pl)
    actors.set_activations_visible(False)
    assert not actors.activations_visible and not actors.scalar_bar_actor.GetVisibility()
    actors.set_labels_visible(False)
    bare = _screenshot(pl)
    assert _foreground(bare).sum() < _foreground(full).sum()
    actors.set_activations_visible(True)
    actors.set_labels_visible(True)
    assert np.array_equal(_screenshot(pl), full)


def test_tooltip_picks_the_block_under_the_cursor(activations_plotter):
    pl, actors = activations_plotter
    tooltip = install_interaction(pl, actors)
    pl.render()
    renderer = pl.renderer
    for i, centre in enumerate(actors.scene.blocks.centers):
        renderer.SetWorldPoint(*centre, 1.0)
        renderer.WorldToDisplay()
        x, y, _ = renderer.GetDisplayPoint()
        assert tooltip.pick(x, y) == i
    assert tooltip.hover(x, y) and tooltip.text.GetVisibility()
    assert tooltip.text.GetInput() == actors.scene.blocks.info[-1]
    assert tooltip.pick(2, 2) is None
    tooltip.hover(2, 2)
    assert not tooltip.text.GetVisibility()


@pytest.mark.parametrize("activations", [True, False], ids=["activations", "architecture"])
def test_reference_small_scene(activations):
    pl, actors = build_plotter(small_scene(activations=activations), size=SIZE)
    try:
        actors.set_caption("epoch 3 · loss 0.41")
        img = _screenshot(pl)
    finally:
        pl.close()
    _assert_matches_reference(img, f"small_{'activations' if activations else 'architecture'}")


def test_reference_grid_scene():
    pl, _ = build_plotter(grid_scene(300, labels=12), size=SIZE)
    try:
        img = _screenshot(pl)
    finally:
        pl.close()
    _assert_matches_reference(img, "grid_300")


def test_render_png_writes_file(tmp_path):
    out = render_png(small_scene(), tmp_path / "sub" / "net.png", size=(320, 180))
    assert out == tmp_path / "sub" / "net.png"
    import imageio.v3 as iio

    img = iio.imread(out)
    assert img.shape[:2] == (180, 320) and _foreground(img).any()
    assert [p.name for p in out.parent.iterdir()] == ["net.png"]


def test_render_png_leaves_nothing_when_rendering_fails(tmp_path, monkeypatch):
    closed = []

    def broken(plotter):
        raise RuntimeError("GPU on fire")

    monkeypatch.setattr("render3d.rendering.png.read_rgb", broken)  # the read-back after the render
    original_close = pv.Plotter.close
    monkeypatch.setattr(pv.Plotter, "close", lambda self: (closed.append(True), original_close(self)))
    with pytest.raises(RuntimeError, match="GPU on fire"):
        render_png(small_scene(), tmp_path / "net.png", size=(160, 90))
    assert list(tmp_path.iterdir()) == []
    assert closed


def test_show_scene_returns_at_once_offscreen():
    assert pv.OFF_SCREEN
    assert show_scene(small_scene()) is None


def test_volume_and_slab_feature_maps_render_and_update():
    from render3d.scene.model import FeatureMap

    scene = small_scene()
    z, y, x = np.mgrid[0:8, 0:12, 0:12]
    values = (np.sin(x / 3.0) * np.cos(y / 4.0) + z / 8).astype(np.float32)
    scene.feature_maps.append(
        FeatureMap(
            "conv2",
            "volume",
            values,
            origin=np.array([4.5, -4.5, -0.5]),
            plane_size=np.array([1.0, 1.0]),
            spacing=0.12,
            clim=(-1.0, 2.0),
        )
    )
    scene.feature_maps.append(
        FeatureMap(
            "pool1",
            "slab",
            values[:1],
            origin=np.array([3.3, -3.0, 0.0]),
            plane_size=np.array([1.0, 1.0]),
            spacing=0.0,
            clim=(-1.0, 2.0),
        )
    )
    pl, actors = build_plotter(scene, size=(320, 180))
    try:
        before = _screenshot(pl)
        actors.update_feature_map("conv2", -values)
        actors.update_feature_map("pool1", -values[:1])
        after = _screenshot(pl)
    finally:
        pl.close()
    assert np.any(before != after, axis=-1).mean() > 0.002


def test_png_respects_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        out = render_png(small_scene(), tmp_path / "net.png", size=(160, 90))
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644


def test_label_size_estimate_matches_the_rendered_text():
    """The scene's label boxes (used to keep labels apart) match what VTK draws, within a few pixels."""
    from render3d.scene.camera import project_points
    from render3d.scene.labels import label_box_px
    from render3d.scene.model import Blocks, Camera, Labels, Scene

    text = "inception4b.branch3\n+BN+ReLU\n512×14×14"
    blocks = Blocks(
        ["b"],
        np.array([[0.0, -3.0, 0.0]]),
        np.array([[0.5, 0.5, 0.5]]),
        np.array([[0, 114, 178]], dtype=np.uint8),
        ["Conv"],
    )
    scene = Scene(
        title="",
        mode="architecture",
        blocks=blocks,
        connectors=[],
        labels=Labels(np.array([[-2.0, 0.0, 0.0]]), [text], ["b"], font_px=19.0),
        legend=[],
        camera=Camera((0.0, 0.0, 10.0), (0.0, 0.0, 0.0)),
    )
    size = (960, 540)
    pl, _ = build_plotter(scene, size=size)
    try:
        img = _screenshot(pl)
    finally:
        pl.close()
    ink = np.argwhere(np.any(img < 200, axis=-1))
    (y0, x0), (y1, x1) = ink.min(axis=0), ink.max(axis=0)
    u, v = project_points(scene.camera, scene.labels.positions, size)[0]
    w, h = label_box_px([text], 19.0 * size[1] / 1080)[0]
    assert abs((x1 - x0 + 1) - w) <= 4
    assert abs((y1 - y0 + 1) - h) <= 4
    assert abs(x0 - u) <= 3 and abs(y1 - v) <= 4  # anchored at the lower left


def test_activations_scene_shows_its_feature_maps_not_boxes():
    import scene_fixtures as fx

    from render3d.scene.builder import build_scene

    trace = fx.chain(2, shape=(1, 4, 8, 8))
    yy, xx = np.mgrid[0:8, 0:8]
    for k, nid in enumerate(["conv0#1", "conv1#1"]):
        data = np.stack([np.sin(xx / 2 + c + k) * np.cos(yy / 3) for c in range(4)]).astype(np.float32)
        fx.with_activation(trace, nid, data, "map", None)
    scene = build_scene(trace, "activations", image_size=SIZE)
    assert scene.feature_maps
    pl, actors = build_plotter(scene, size=SIZE)
    try:
        img = _screenshot(pl)
        assert actors.outline_mesh is not None
        actors.set_block_colors(np.zeros((len(scene.blocks), 3), dtype=np.uint8))
    finally:
        pl.close()
    from render3d.rendering.meshes import colormap_lut

    lut = colormap_lut(scene.cmap).astype(np.int32)
    flat = img.reshape(-1, 3).astype(np.int32)
    # pixels that are exactly a colour-map entry: the unlit, nearest-sampled planes
    sample = flat[::7]
    hits = (np.abs(sample[:, None, :] - lut[None, ::4, :]).sum(axis=-1) <= 6).any(axis=1)
    assert hits.mean() > 0.05
