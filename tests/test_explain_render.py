"""The explainer drawn: stills, a short video, the CLI and a view inside someone else's plotter (small sizes)."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import pyvista as pv
import torch

import render3d
from render3d.cli import main
from render3d.explainer import explain_scene, explainer_view
from render3d.models import DigitsCNN
from render3d.rendering.explainer import explain_frames
from render3d.scene.explain import KERNEL_RGB, LIT_RGB

SIZE = (320, 192)


def _model() -> DigitsCNN:
    torch.manual_seed(0)
    return DigitsCNN(width=4)


def _near(image: np.ndarray, rgb: tuple[int, int, int], tol: int = 40) -> int:
    return int((np.abs(image[..., :3].astype(int) - np.array(rgb)).max(axis=-1) <= tol).sum())


def test_still_shows_the_kernel_and_the_lit_output_cell(tmp_path):
    path = render3d.explain(
        _model(), layer="conv1", path=tmp_path / "conv1.png", size=SIZE, probe="digit:3", progress=False
    )
    image = iio.imread(path)
    assert image.shape == (192, 320, 3)
    assert _near(image, LIT_RGB) > 0
    assert _near(image, KERNEL_RGB) > 0


def test_title_names_what_the_probe_shows():
    scene = explain_scene(_model(), layer="conv1", fps=2, probe="digit:45")  # image 45 of the digits is a 3
    assert scene.title.endswith("\u00b7  input digit 3")


def test_video_holds_every_frame_of_the_script(tmp_path):
    model = _model()
    n = len(explain_scene(model, layer="pool#1", fps=2, probe="digit:3").frames)
    path = render3d.explain(
        model, layer="pool#1", path=tmp_path / "pool.mp4", size=SIZE, fps=2, probe="digit:3", progress=False
    )
    frames = iio.imread(path, index=None)
    assert frames.shape == (n, 192, 320, 3)
    assert not np.array_equal(frames[0], frames[-1])  # the output fills in and the window moves


def test_frames_differ_as_the_kernel_moves_along_the_first_row():
    view = explainer_view(_model(), layer="conv2", size=SIZE, fps=2, probe="digit:3")
    try:
        script = [(f.caption.split(" = ")[0]) for f in view.scene.frames]
        first, second = 0, next(k for k, c in enumerate(script) if c != script[0])
        a, b = list(explain_frames(view, range(first, second + 1, second - first)))
    finally:
        view.close()
    assert script[first].startswith("out[") and "x=0]" in script[first] and "x=1]" in script[second]
    assert not np.array_equal(a, b)


def test_view_in_a_given_plotter_removes_only_its_own_actors_on_close():
    plotter = pv.Plotter(off_screen=True, window_size=SIZE)
    plotter.add_mesh(pv.Sphere(), name="users")
    before = set(plotter.actors)
    view = explainer_view(_model(), layer="fc2", plotter=plotter, fps=2)
    view.show(len(view) - 1)
    assert len(plotter.actors) > len(before)
    view.close()
    assert set(plotter.actors) == before
    plotter.close()


def test_cli_writes_a_still_of_seedcnn_conv1(tmp_path, capsys):
    out = tmp_path / "e.png"
    assert (
        main(
            [
                "explain",
                "render3d.models:SeedCNN",
                "--layer",
                "conv1",
                "--probe",
                "digit:3",
                "-o",
                str(out),
                "--size",
                "320x192",
            ]
        )
        == 0
    )
    assert iio.imread(out).shape == (192, 320, 3)
    assert capsys.readouterr().out.startswith(f"wrote {out}: 320x192, conv1: Conv2d 3\u219264, kernel 3\u00d73")


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--layer", "conv"],
            "ModelSpecError: layer 'conv' is not a module of SeedCNN; closest: conv4, conv3, conv2, conv1",
        ),
        (["--layer", "conv1", "-o", "e.txt"], "OutputSpecError: e.txt: extension '.txt' is not an output format"),
    ],
)
def test_cli_errors_are_one_line_usage_errors(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(["explain", "render3d.models:SeedCNN", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
