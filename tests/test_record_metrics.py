"""Training health per layer (issue 10 item 4): the Recorder's ‖w‖, ‖Δw‖/‖w‖ and ‖grad‖ against a hand
computation, a frozen layer, activation stats over epochs, and blocks coloured by a metric in the MP4,
the window and the CLI; recordings made without layer norms still animate."""

from __future__ import annotations

import math

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
from record_fixtures import SHAPE, tiny_model, train_steps

from render3d.cli import main
from render3d.probe import make_probe
from render3d.record import Recorder, load_recording
from render3d.record.animate import Player, animate_recording
from render3d.record.metrics import MISSING_RGB, ZERO_RGB, LogScale, metric_colors
from render3d.rendering.meshes import face_shades

SIZE = (320, 192)
FROZEN = "conv2"


def _record(folder, *, layer_norms=True, keep=None):
    """3 snapshots, 2 SGD steps before each, conv2 frozen; ``keep`` gets (weights, grads) per snapshot."""
    model = tiny_model()
    for p in getattr(model, FROZEN).parameters():
        p.requires_grad_(False)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05, momentum=0.9)
    with Recorder(model, make_probe("digit:3", SHAPE), folder, layer_norms=layer_norms) as rec:
        for epoch in (1, 2, 3):
            loss = train_steps(model, optimizer, steps=2)
            rec.snapshot(epoch, loss=loss)
            if keep is not None:
                keep.append(
                    (
                        {n: p.detach().clone() for n, p in model.named_parameters()},
                        {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None},
                    )
                )
    return load_recording(folder)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    keep: list = []
    return _record(tmp_path_factory.mktemp("metrics") / "rec", keep=keep), keep


def _norm(tensors) -> float:
    return float(torch.linalg.vector_norm(torch.cat([t.double().reshape(-1) for t in tensors])))


def _layer(metric, node_id):
    return metric.values[:, metric.node_ids.index(node_id)]


def test_norms_match_a_hand_computation(recorded):
    rec, keep = recorded
    weights, updates, grads = (rec.layer_metric(m) for m in ("weight_norm", "update_ratio", "grad_norm"))
    assert weights.epochs == [1, 2, 3]
    assert weights.node_ids == ["conv1#1", "conv2#1", "conv3#1", "fc1#1", "fc2#1"]
    for layer in ("conv1", "fc2"):
        names = [f"{layer}.weight", f"{layer}.bias"]
        expect_w = [_norm([w[n] for n in names]) for w, _ in keep]
        expect_g = [_norm([g[n] for n in names]) for _, g in keep]
        expect_u = [math.nan] + [
            _norm([keep[s][0][n] - keep[s - 1][0][n] for n in names]) / expect_w[s] for s in (1, 2)
        ]
        np.testing.assert_allclose(_layer(weights, f"{layer}#1"), expect_w, rtol=1e-12)
        np.testing.assert_allclose(_layer(grads, f"{layer}#1"), expect_g, rtol=1e-6)  # float32 grads
        np.testing.assert_allclose(_layer(updates, f"{layer}#1"), expect_u, rtol=1e-9)


def test_frozen_layer_has_update_ratio_zero_and_no_gradient(recorded):
    rec, _ = recorded
    updates, grads = rec.layer_metric("update_ratio"), rec.layer_metric("grad_norm")
    assert _layer(updates, "conv2#1").tolist()[1:] == [0.0, 0.0]
    assert np.isnan(_layer(grads, "conv2#1")).all()
    assert (_layer(updates, "conv1#1")[1:] > 1e-4).all()


def test_activation_metrics_are_the_stored_stats(recorded):
    rec, _ = recorded
    zero, std = rec.layer_metric("zero_frac"), rec.layer_metric("act_std")
    assert "relu#1" in zero.node_ids and zero.node_ids == std.node_ids
    for s in range(3):
        stats = rec.read(s)["relu#1"].stats
        assert _layer(zero, "relu#1")[s] == stats.zero_fraction and _layer(std, "relu#1")[s] == stats.std


def test_unknown_metric_names_the_valid_ones(recorded):
    rec, _ = recorded
    with pytest.raises(ValueError, match="update_ratio, grad_norm, weight_norm, zero_frac, act_std"):
        rec.layer_metric("grad")


def test_colours_zero_missing_and_log_scale():
    scale = LogScale.fit(np.array([[1e-4, 1e-2, np.nan], [0.0, 1e-3, 1e-1]]), q=(0.0, 100.0))
    assert (scale.lo, scale.hi) == pytest.approx((1e-4, 1e-1))
    lut = np.stack([np.arange(256)] * 3, axis=1).astype(np.uint8)
    rgb = metric_colors(np.array([0.0, np.nan, 1e-4, 1e-1, 10.0, 10**-2.5]), scale, lut)
    assert rgb.tolist() == [list(ZERO_RGB), list(MISSING_RGB), [0] * 3, [255] * 3, [255] * 3, [128] * 3]


def _block_pixel(player: Player, node_id: str) -> tuple[int, int]:
    """Display pixel (row, column) of the centre of the block that shows ``node_id``."""
    blocks = player.actors.scene.blocks
    k = next(i for i, m in enumerate(blocks.members) if node_id in m)
    renderer = player.plotter.renderer
    renderer.SetWorldPoint(*blocks.centers[k], 1.0)
    renderer.WorldToDisplay()
    x, y, _ = renderer.GetDisplayPoint()
    return player.plotter.window_size[1] - 1 - round(y), round(x)


def test_update_ratio_video_moves_and_draws_the_frozen_block_as_zero(recorded, tmp_path):
    rec, _ = recorded
    out = animate_recording(
        rec, tmp_path / "u.mp4", frames_per_epoch=1, size=SIZE, metric="update_ratio", progress=False
    )
    with imageio.get_reader(out) as reader:
        frames = [f.astype(int) for f in reader]
    assert len(frames) == 3
    assert np.abs(frames[2] - frames[0]).mean() > 1.0  # no update at the first snapshot, colours after
    player = Player(rec, size=SIZE, metric="update_ratio")
    try:
        frozen, trained = _block_pixel(player, "conv2#1"), _block_pixel(player, "conv1#1")
    finally:
        player.close()
    shaded = np.outer(face_shades(), ZERO_RGB)  # the zero colour on each face of a box
    assert np.abs(shaded - frames[2][frozen]).max(axis=1).min() <= 12  # video compression
    assert np.ptp(frames[2][trained]) > 40  # a trained layer is on the (colourful) map, not grey


def test_window_m_key_steps_through_the_views(recorded):
    rec, _ = recorded
    player = Player(rec, size=SIZE)
    try:
        player.set_position(2.0)
        categories = player.actors.block_meshes["open"].cell_data["rgb"].copy()
        title, legend = player.actors.title_actor.GetInput(), player.actors.legend_actor.GetNumberOfEntries()
        assert player.next_view() == "update_ratio"
        assert player.actors.caption_actor.GetInput().startswith("update_ratio · epoch 3/3")
        assert player.actors.title_actor.GetInput() == "DigitsCNN: update_ratio over training"
        assert [player.actors.legend_actor.GetEntryString(i) for i in range(2)] == ["0 (frozen / none)", "no value"]
        assert not any(a.GetVisibility() for a in player.actors.feature_actors.values())
        assert [player.next_view() for _ in range(5)] == [
            "grad_norm",
            "weight_norm",
            "zero_frac",
            "act_std",
            "activations",
        ]
        assert all(a.GetVisibility() for a in player.actors.feature_actors.values())
        assert player.actors.title_actor.GetInput() == title
        assert player.actors.legend_actor.GetNumberOfEntries() == legend
        assert np.array_equal(player.actors.block_meshes["open"].cell_data["rgb"], categories)
    finally:
        player.close()


def test_recording_without_layer_norms_still_animates(tmp_path, capsys):
    rec = _record(tmp_path / "old", layer_norms=False)
    assert rec.summary(0)[1] is None
    assert rec.layer_metric("grad_norm").node_ids == []
    assert (
        main(["animate", str(rec.path), "-o", str(tmp_path / "a.mp4"), "--frames-per-epoch", "1", "--size", "320x192"])
        == 0
    )
    assert "wrote" in capsys.readouterr().out and (tmp_path / "a.mp4").is_file()


def test_cli_animates_a_recording_by_grad_norm(recorded, tmp_path, capsys):
    rec, _ = recorded
    out = tmp_path / "g.mp4"
    assert (
        main(
            [
                "animate",
                str(rec.path),
                "--metric",
                "grad_norm",
                "-o",
                str(out),
                "--frames-per-epoch",
                "1",
                "--size",
                "320x192",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == f"wrote {out}: 3 frames, 320x192, 0.1 s (30 fps)"


def test_cli_rejects_an_unknown_metric(recorded, tmp_path, capsys):
    rec, _ = recorded
    assert main(["animate", str(rec.path), "--metric", "grads", "-o", str(tmp_path / "x.mp4")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("UsageError: render3d animate: argument --metric: metric 'grads' is not known")
    assert not (tmp_path / "x.mp4").exists()


def test_a_failed_snapshot_does_not_move_the_update_reference(tmp_path, monkeypatch):
    import render3d.record.store as store

    model = tiny_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with Recorder(model, make_probe("digit:3", SHAPE), tmp_path / "rec") as rec:
        rec.snapshot(1)
        first = model.fc2.weight.detach().clone(), model.fc2.bias.detach().clone()
        train_steps(model, optimizer, steps=1)
        real = store.write_snapshot
        monkeypatch.setattr(store, "write_snapshot", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
        with pytest.raises(Exception, match="disk full"):
            rec.snapshot(2)
        monkeypatch.setattr(store, "write_snapshot", real)
        train_steps(model, optimizer, steps=1)
        rec.snapshot(2)
    now = model.fc2.weight.detach(), model.fc2.bias.detach()
    expect = _norm([now[0] - first[0], now[1] - first[1]]) / _norm(now)
    ratio = _layer(load_recording(tmp_path / "rec").layer_metric("update_ratio"), "fc2#1")[1]
    assert ratio == pytest.approx(expect, rel=1e-9)


def test_cli_animate_of_a_model_still_needs_checkpoints(tmp_path, capsys):
    assert main(["animate", "render3d:SeedCNN", "-o", str(tmp_path / "x.mp4")]) == 2
    assert capsys.readouterr().err.strip() == (
        "UsageError: render3d animate: MODEL needs --checkpoints DIR_OR_GLOB (or give a recording folder as MODEL)"
    )


def test_damaged_layer_norms_are_one_recording_error(recorded, tmp_path):
    import shutil

    from render3d.errors import RecordingError

    rec, _ = recorded
    folder = shutil.copytree(rec.path, tmp_path / "rec")
    path = folder / rec.snapshots[1].file
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["layer_norms"] = arrays["layer_norms"][:2]  # 5 paths, 2 rows
    np.savez_compressed(path, **arrays)
    with pytest.raises(RecordingError, match=r"layer_paths and layer_norms disagree \(5 paths, 2 rows"):
        load_recording(folder).layer_metric("grad_norm")


def test_legend_saved_for_a_metric_view_keeps_light_swatches_white():
    # the scene legend frames a white +Inf swatch; saving and restoring it around a metric view must not
    # read the frame's colour back as the entry's
    from vtkmodules.vtkRenderingAnnotation import vtkLegendBoxActor

    from render3d.record.metric_view import _legend_entries, _set_legend

    entries = [("+Inf", (255, 255, 255)), ("Conv", (0, 114, 178))]
    legend = vtkLegendBoxActor()
    _set_legend(legend, entries)
    assert _legend_entries(legend) == entries
    assert legend.GetEntrySymbol(0).GetNumberOfCells() == 2  # framed: frame + swatch
