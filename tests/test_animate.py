"""Recordings → MP4 and window: frame count and size, summary line, atomic output, fixed colour
limits, diff/orbit, natural checkpoint order, the CLI."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
from record_fixtures import SHAPE, make_recording, tiny_model, train_steps

from render3d.checkpoints import save_checkpoint
from render3d.cli import main
from render3d.record import load_recording
from render3d.record.animate import Player, animate_recording, record_checkpoints, recording_window

SIZE = (320, 192)
SUMMARY = re.compile(r"^wrote (\S+): (\d+) frames, (\d+)x(\d+), (\d+\.\d) s \((\d+(?:\.\d+)?) fps\)$", re.M)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return make_recording(tmp_path_factory.mktemp("anim") / "rec", 3)


def _frames(path: Path) -> list[np.ndarray]:
    with imageio.get_reader(path) as reader:
        return [f for f in reader]


def test_mp4_decodes_to_the_stated_frames_and_size(recording, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="render3d")
    out = animate_recording(recording, tmp_path / "a.mp4", fps=12, frames_per_epoch=3, size=SIZE)
    assert out == tmp_path / "a.mp4" and out.is_file()
    frames = _frames(out)
    assert len(frames) == (3 - 1) * 3 + 1
    assert frames[0].shape == (192, 320, 3)
    assert np.abs(frames[-1].astype(int) - frames[0]).mean() > 0.5  # the activations moved
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("render3d", logging.INFO, f"wrote {out}: 7 frames, 320x192, 0.6 s (12 fps)")
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["a.mp4"]  # no temp file left behind


def test_the_library_prints_nothing(recording, tmp_path, capsys):
    animate_recording(recording, tmp_path / "q.mp4", frames_per_epoch=1, size=SIZE, progress=False)
    assert capsys.readouterr() == ("", "")


def test_size_rounds_to_multiples_of_16(recording, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="render3d")
    animate_recording(recording, tmp_path / "b.mp4", frames_per_epoch=1, size=(330, 190))
    m = SUMMARY.search("\n".join(r.getMessage() for r in caplog.records))
    assert m and (m.group(3), m.group(4)) == ("336", "192")
    assert _frames(tmp_path / "b.mp4")[0].shape == (192, 336, 3)


def test_interrupted_animation_leaves_no_file(recording, tmp_path, monkeypatch):
    real = Player.set_position
    calls = {"n": 0}

    def failing(self, position):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("boom mid-way")
        real(self, position)

    monkeypatch.setattr(Player, "set_position", failing)
    out = tmp_path / "c.mp4"
    with pytest.raises(RuntimeError, match="boom mid-way"):
        animate_recording(recording, out, frames_per_epoch=3, size=SIZE, progress=False)
    assert calls["n"] == 4
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_limits_fixed_per_layer_for_the_whole_recording(recording):
    rec = load_recording(recording)
    player = Player(rec, size=SIZE)
    try:
        limits = rec.color_limits()
        before = {fm.node_id: tuple(fm.clim) for fm in player.scene.feature_maps}
        assert before == {k: limits[player.sources[k]] for k in before}
        images = []
        for position in (0.0, 0.5, 1.0, 2.0):
            player.set_position(position)
            player.plotter.render()
            images.append(player.plotter.screenshot(None, return_img=True))
            assert {fm.node_id: tuple(fm.clim) for fm in player.scene.feature_maps} == before
        assert not np.array_equal(images[0], images[-1])
        # halfway between snapshots 0 and 1 shows the average of the two, captioned with the later one
        a, b = player.shown_values(0), player.shown_values(1)
        seen = {}
        real = player.actors.update_feature_map
        player.actors.update_feature_map = lambda key, v: (seen.__setitem__(key, v), real(key, v))
        player.set_position(0.5)
        assert set(seen) == set(a)
        for key in a:
            np.testing.assert_allclose(seen[key], (a[key] + b[key]) / 2, rtol=1e-6, atol=1e-7)
        assert player.actors.caption_actor.GetInput().startswith("epoch 2/3 · loss ")
    finally:
        player.close()


def test_diff_mode_symmetric_limits_and_orbit(recording):
    player = Player(recording, size=SIZE, diff=True)
    try:
        assert player.scene.cmap == "RdBu_r"
        for fm in player.scene.feature_maps:
            assert fm.clim[0] == -fm.clim[1] and fm.clim[1] > 0
        assert all(np.all(v == 0) for v in player.shown_values(0).values())
        focal = np.array(player.plotter.camera_position[1])
        start = np.array(player.plotter.camera_position[0])
        player.set_orbit(20.0)
        moved = np.array(player.plotter.camera_position[0])
        assert np.allclose(player.plotter.camera_position[1], focal)
        a, b = (start - focal)[[0, 2]], (moved - focal)[[0, 2]]  # swung about the vertical axis
        angle = np.degrees(np.arccos(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
        assert angle == pytest.approx(20.0, abs=0.5)
        player.set_orbit(0.0)  # and back: exactly the scene's own camera
        assert np.allclose(player.plotter.camera_position[0], start)
    finally:
        player.close()


def test_window_slider_callback_and_show_offscreen(recording, capsys):
    player = recording_window(recording, size=SIZE, off_screen=True)
    try:
        assert player.position == 2.0
        player.set_position(0.0)
        assert player.actors.caption_actor.GetInput().startswith("epoch 1/3")
    finally:
        player.close()
    assert main(["show", str(recording)]) == 0  # PYVISTA_OFF_SCREEN: returns at once


def test_checkpoints_recorded_in_natural_order(tmp_path):
    model = tiny_model()
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for n in (10, 2, 1):  # written out of order; names sort wrongly as plain strings
        train_steps(model, opt, steps=1)
        save_checkpoint(model, tmp_path / "ckpt" / f"epoch_{n}.pt", marker=float(n))
    rec = record_checkpoints(tiny_model(), "digit:3", tmp_path / "ckpt", tmp_path / "rec", progress=False)
    assert [m["marker"] for m in rec.metrics] == [1.0, 2.0, 10.0]
    assert rec.epochs == [1, 2, 3]


def test_cli_animate_end_to_end(tmp_path, capsys):
    model = tiny_model()
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for epoch in (1, 2):
        loss = train_steps(model, opt, steps=2)
        save_checkpoint(model, tmp_path / "ckpt" / f"e{epoch}.pt", epoch=epoch, loss=loss)
    from render3d.models import DigitsCNN

    # the CLI builds the model from MODEL; DigitsCNN(width=4) is not the default, so use a file
    src = tmp_path / "net.py"
    src.write_text("from render3d.models import DigitsCNN\ndef tiny():\n    return DigitsCNN(width=4)\n")
    assert DigitsCNN.example_input_shape == SHAPE
    out = tmp_path / "v.mp4"
    code = main(
        [
            "animate",
            f"{src}:tiny",
            "--checkpoints",
            str(tmp_path / "ckpt"),
            "--probe",
            "digit:3",
            "-o",
            str(out),
            "--size",
            "320x192",
            "--frames-per-epoch",
            "2",
            "--fps",
            "10",
            "--recording",
            str(tmp_path / "rec"),
        ]
    )
    assert code == 0
    assert f"wrote {out}: 3 frames, 320x192, 0.3 s (10 fps)" in capsys.readouterr().out
    assert len(_frames(out)) == 3
    rec = load_recording(tmp_path / "rec")
    assert rec.epochs == [1, 2] and "loss" in rec.metrics[0]
    code = main(["animate", f"{src}:tiny", "--checkpoints", str(tmp_path / "none" / "*.pt"), "-o", str(out)])
    assert code == 1 and "no checkpoints found" in capsys.readouterr().err


def test_cli_animates_a_recording_folder_with_duration_and_hold(recording, tmp_path, capsys):
    out = tmp_path / "r.mp4"
    code = main(
        [
            "animate",
            str(recording),
            "-o",
            str(out),
            "--size",
            "320x192",
            "--fps",
            "10",
            "--duration",
            "1.2",
            "--hold",
            "0.2",
        ]
    )
    assert code == 0
    assert f"wrote {out}: 12 frames, 320x192, 1.2 s (10 fps)" in capsys.readouterr().out
    frames = _frames(out)
    assert len(frames) == 12
    assert np.abs(frames[1].astype(int) - frames[0]).mean() < 0.3  # the first snapshot held 0.2 s: 2 frames alike


def test_uniform_timing_with_holds(recording):
    from render3d.record.animate import frame_positions

    player = Player(recording, size=SIZE)
    try:
        positions = frame_positions(player, 10, frames_per_epoch=2, hold=0.2)
    finally:
        player.close()
    np.testing.assert_array_equal(positions, [0, 0, 0, 0.5, 1, 1.5, 2, 2, 2])


def test_panels_beside_the_scene_at_640(recording, tmp_path):
    from render3d.record.animate import render_frame
    from render3d.rendering.panels import panel_width

    first = imageio.imread(render_frame(recording, tmp_path / "a.png", position=0, size=(640, 360)))
    last = imageio.imread(render_frame(recording, tmp_path / "b.png", size=(640, 360)))
    assert first.shape == (360, 640, 3) and panel_width(640) == 192
    column = slice(640 - 192, 640)
    assert (first[:, column] < 200).any(axis=2).mean() > 0.02  # the input, bars and curves are drawn
    assert np.abs(last[:, column].astype(int) - first[:, column]).mean() > 0.5  # bars and curves moved


def test_cli_classes_with_the_wrong_count_is_one_line(recording, tmp_path, capsys):
    names = tmp_path / "names.txt"
    names.write_text("cat\ndog\n")
    code = main(
        [
            "animate",
            str(recording),
            "-o",
            str(tmp_path / "x.mp4"),
            "--size",
            "640x360",
            "--classes",
            str(names),
            "--duration",
            "0.5",
            "--hold",
            "0",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert f"--classes {names}: 2 class names, but the model has 10 outputs" in err
    assert not (tmp_path / "x.mp4").exists()


def test_held_frames_are_drawn_once_and_equal_a_fresh_drawing(recording, monkeypatch):
    from render3d.record import animate
    from render3d.rendering.composite import TOLERANCE
    from render3d.rendering.png import read_rgb

    positions = (0.0, 0.0, 0.0, 0.5, 1.0, 2.0, 2.0)
    player = Player(recording, size=SIZE)
    try:
        fresh = []
        for p in sorted(set(positions)):  # each position rendered on its own, for comparison
            player.set_position(p)
            fresh.append(read_rgb(player.plotter))
        drawn = []
        real = Player.set_position
        monkeypatch.setattr(Player, "set_position", lambda self, p: (drawn.append(p), real(self, p)))
        frames = list(animate.render_frames(player, animate.FramePlan(positions)))
    finally:
        player.close()
    assert drawn == [0, 0.5, 1, 2]  # the two repeats of 0 and the repeat of 2 reuse the frame before
    by_position = dict(zip(sorted(set(positions)), fresh, strict=True))
    for p, frame in zip(positions, frames, strict=True):
        assert np.abs(frame.astype(int) - by_position[p]).max() <= TOLERANCE
