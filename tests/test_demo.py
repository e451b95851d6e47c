"""``render3d demo``: end to end in a short run, and the committed scene that points at its result."""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import numpy as np

from render3d.cli import main
from render3d.demo import DEMO_PROBE, demo_probe

ROOT = Path(__file__).resolve().parents[1]


def test_demo_end_to_end(tmp_path, capsys):
    """The CLI's path through the demo, at a small size: files, the story video, the named recording."""
    from render3d.demo import run_demo
    from render3d.record import load_recording
    from render3d.record.animate import render_frame

    out = tmp_path / "demo"
    result = run_demo(out, epochs=10, progress=False, video_size=(640, 352), image_size=(640, 360), duration=3.0)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [f"epoch_{e:02d}.pt" for e in range(11)]
    for name in ("architecture.png", "activations.png"):
        image = imageio.imread(out / name)
        assert image.shape[:2] == (360, 640) and image.std() > 10
    with imageio.get_reader(result.video) as reader:
        frames = [f for f in reader]
    assert len(frames) == 90 and frames[0].shape == (352, 640, 3)
    held = np.abs(frames[12].astype(int) - frames[2]).mean()  # the random start is held 0.5 s (up to H.264 noise)
    assert held < 0.25 * np.abs(frames[-1].astype(int) - frames[2]).mean(), held
    rec = load_recording(result.recording)
    assert rec.epochs == list(range(11)) and rec.metrics[-1]["acc"] > rec.metrics[0]["acc"]
    assert (rec.probe_name, rec.probe_label, rec.classes) == ("digit 3", 3, [str(d) for d in range(10)])
    assert int(np.argmax(rec.logits(10))) == 3  # the prediction panel's top class ends on the right digit
    at3, at10 = (
        imageio.imread(render_frame(rec, tmp_path / f"e{e}.png", position=e, size=(640, 360))) for e in (3, 10)
    )
    assert np.abs(at10[:, :448].astype(int) - at3[:, :448]).mean() > 1.0  # the scene still changes late


def test_demo_cli_prints_where_everything_is(tmp_path, capsys, monkeypatch):
    import render3d.demo as demo

    real = demo.run_demo
    monkeypatch.setattr(
        demo,
        "run_demo",
        lambda out, epochs: real(
            out, epochs=epochs, progress=False, video_size=(320, 192), image_size=(320, 192), duration=0.5
        ),
    )
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--epochs", "1"]) == 0
    text = capsys.readouterr().out
    assert "final test accuracy: " in text and str(out / "activations.png") in text
    assert f"  video:        {out / 'training.mp4'}" in text


def test_demo_probe_is_pinned_and_the_scene_file_uses_it():
    from render3d.scenefile import read_scene_file

    assert demo_probe() == DEMO_PROBE
    sf = read_scene_file(ROOT / "scenes" / "digits_training.toml")
    assert sf.probe == DEMO_PROBE and sf.model == "render3d:DigitsCNN" and sf.mode == "activations"
    assert sf.weights is not None and sf.weights.is_file() and sf.weights.stat().st_size < 600_000

    import torch

    from render3d.checkpoints import load_checkpoint
    from render3d.models import DigitsCNN

    load_checkpoint(DigitsCNN(), sf.weights)  # weights-only, strict
    assert torch.load(sf.weights, weights_only=True)["epoch"] == 10
