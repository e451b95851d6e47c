"""``render3d demo``: end to end in a short run, and the committed scene that points at its result."""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import numpy as np

from render3d.cli import main
from render3d.demo import DEMO_PROBE, demo_probe

ROOT = Path(__file__).resolve().parents[1]


def test_demo_two_epochs_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--epochs", "2"]) == 0
    text = capsys.readouterr().out
    assert f"wrote {out / 'training.mp4'}: 25 frames, 1280x720, 0.8 s (30 fps)" in text
    assert "final test accuracy: " in text and str(out / "activations.png") in text
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch_00.pt", "epoch_01.pt", "epoch_02.pt"]
    for name in ("architecture.png", "activations.png"):
        image = imageio.imread(out / name)
        assert image.shape[:2] == (900, 1600) and image.std() > 10
    with imageio.get_reader(out / "training.mp4") as reader:
        frames = [f for f in reader]
    assert len(frames) == 25 and frames[0].shape == (720, 1280, 3)
    assert np.abs(frames[-1].astype(int) - frames[0]).mean() > 1.0  # learning is visible
    from render3d.record import load_recording

    rec = load_recording(out / "recording")
    assert rec.epochs == [0, 1, 2] and rec.metrics[-1]["acc"] > rec.metrics[0]["acc"]


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
