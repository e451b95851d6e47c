"""One image size per scene: the size a scene is laid out for is the size every entry point draws it at.

A model, trace, MODEL string or scene file is laid out for the size given (camera, labels, overlays);
a Scene keeps its own size unless told otherwise, and at another aspect its camera is fitted again.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

import render3d.api as api
from render3d.cli import main
from render3d.errors import OutputSpecError
from render3d.rendering import build_plotter, render_png
from render3d.scene.camera import box_corners, project
from render3d.scene.fit import fit_to_size
from render3d.scene.style import DEFAULT_SIZE, SceneStyle
from render3d.scenefile import read_scene_file
from render3d.tensorboard import log_render
from render3d.tracing.tracer import trace

SIZES = [(600, 600), (320, 640), (640, 360)]


@pytest.fixture(scope="module")
def resnet():
    """ResNet-18 on a 64×64 input: long and thin, so a layout made for 16:9 crops it in a square."""
    torch.manual_seed(0)
    return torchvision.models.resnet18(), torch.randn(1, 3, 64, 64)


@pytest.fixture(scope="module")
def resnet_trace(resnet):
    model, x = resnet
    return trace(model, x)


def inside_fraction(scene, size=None) -> float:
    """Fraction of block corners that project inside the image (the scene's own size by default)."""
    width, height = scene.size if size is None else size
    px = project(scene, box_corners(scene.blocks.lower, scene.blocks.upper), (width, height))
    inside = (px[:, 0] >= 0) & (px[:, 0] <= width) & (px[:, 1] >= 0) & (px[:, 1] <= height)
    return float(inside.mean())


@pytest.mark.parametrize("size", SIZES)
def test_a_model_is_laid_out_for_the_size_given(resnet, size):
    scene = api.to_scene(*resnet, size=size)
    assert scene.size == size
    assert inside_fraction(scene) == 1.0


def test_render_of_a_model_at_a_square_size_crops_nothing(resnet, tmp_path):
    path = api.render(*resnet, size=(600, 600), path=tmp_path / "square.png")
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape == (600, 600, 3)
    border = np.concatenate(
        [image[:2].reshape(-1, 3), image[-2:].reshape(-1, 3), image[:, :2].reshape(-1, 3), image[:, -2:].reshape(-1, 3)]
    )
    assert (border == 255).all()  # the model stays inside its margin: nothing drawn at the edge


def test_plotter_draws_the_layout_it_was_given(resnet_trace):
    size = (320, 640)
    scene = api.to_scene(resnet_trace, size=size)
    pl = api.plotter(resnet_trace, size=size, off_screen=True)
    try:
        assert tuple(pl.window_size) == size
        assert np.allclose(pl.camera.position, scene.camera.position)
        assert np.allclose(pl.camera.focal_point, scene.camera.focal_point)
    finally:
        pl.close()


def test_a_scene_drawn_without_a_size_is_drawn_at_its_own(resnet_trace, tmp_path):
    scene = api.to_scene(resnet_trace, size=(320, 640))
    pl, actors = build_plotter(scene)  # what show_scene does
    try:
        assert tuple(pl.window_size) == (320, 640) and actors.scene is scene
        assert np.allclose(pl.camera.position, scene.camera.position)
    finally:
        pl.close()
    assert Image.open(render_png(scene, tmp_path / "own.png")).size == (320, 640)


def test_a_scene_drawn_at_another_aspect_is_refitted(resnet_trace):
    wide = api.to_scene(resnet_trace, size=(640, 360))
    camera = wide.camera
    assert inside_fraction(wide, (320, 640)) < 0.5  # its own camera would crop it in portrait
    tall = api.to_scene(wide, size=(320, 640))
    assert tall.size == (320, 640) and inside_fraction(tall) == 1.0
    direction = np.subtract(tall.camera.position, tall.camera.focal_point)
    before = np.subtract(camera.position, camera.focal_point)
    assert np.allclose(direction / np.linalg.norm(direction), before / np.linalg.norm(before))  # same view
    assert wide.size == (640, 360) and wide.camera is camera  # the given scene is untouched


def test_a_scene_at_another_size_of_its_aspect_keeps_its_camera(resnet_trace):
    scene = api.to_scene(resnet_trace, size=(640, 360))
    small = fit_to_size(scene, (320, 180))
    assert small.size == (320, 180) and small.camera == scene.camera


def test_tensorboard_image_is_drawn_at_the_scene_size(resnet_trace):
    class Writer:
        def add_image(self, *args, **kwargs) -> None:
            pass

    scene = api.to_scene(resnet_trace, size=(320, 180))
    assert log_render(Writer(), "arch", scene).shape == (180, 320, 3)
    assert log_render(Writer(), "arch", resnet_trace, size=(180, 320)).shape == (320, 180, 3)


def test_cli_size_gives_the_api_layout(tmp_path, capsys):
    cli_png, api_png = tmp_path / "cli.png", tmp_path / "api.png"
    assert main(["render", "render3d:SeedCNN", "--size", "320x640", "-o", str(cli_png)]) == 0
    assert f"wrote {cli_png}: 320x640" in capsys.readouterr().out
    api.render("render3d:SeedCNN", size=(320, 640), path=api_png)
    assert np.array_equal(np.asarray(Image.open(cli_png)), np.asarray(Image.open(api_png)))


def test_scene_file_size_gives_the_api_layout(tmp_path):
    toml = tmp_path / "seed.toml"
    toml.write_text('model = "render3d:SeedCNN"\nsize = [320, 640]\n')
    from_file, _ = api.scene_from_file(toml)
    from_api = api.to_scene("render3d:SeedCNN", size=(320, 640))
    assert from_file.size == (320, 640) and from_file.camera == from_api.camera


def test_every_default_is_the_one_default_size(resnet_trace, tmp_path):
    toml = tmp_path / "seed.toml"
    toml.write_text('model = "render3d:SeedCNN"\n')
    assert read_scene_file(toml).size == SceneStyle().image_size == DEFAULT_SIZE
    scene = api.to_scene(resnet_trace)
    assert scene.size == DEFAULT_SIZE
    assert api.to_scene(resnet_trace, size=DEFAULT_SIZE).camera == scene.camera


def test_size_and_image_size_that_disagree_are_refused(resnet_trace):
    with pytest.raises(TypeError, match=r"size=\(320, 640\) and image_size=\(640, 360\) disagree"):
        api.to_scene(resnet_trace, size=(320, 640), image_size=(640, 360))


def test_a_size_that_cannot_be_an_image_is_refused_before_layout(resnet_trace):
    with pytest.raises(OutputSpecError, match="size 0x0 is not valid"):
        api.to_scene(resnet_trace, size=(0, 0))
