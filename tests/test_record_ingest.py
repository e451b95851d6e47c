"""Checkpoint ingestion (render3d.record.ingest): each file read once, weights and metrics together,
and the one library call behind ``render3d animate MODEL --checkpoints``."""

from __future__ import annotations

import logging
import tempfile

import torch
from record_fixtures import tiny_model, train_steps

import render3d.checkpoints as checkpoints
from render3d.api import Spec
from render3d.checkpoints import save_checkpoint
from render3d.record import load_recording
from render3d.record.ingest import animate_checkpoints, record_checkpoints


def _checkpoints(folder, epochs=(1, 2)):
    torch.manual_seed(0)
    model = tiny_model()
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for epoch in epochs:
        loss = train_steps(model, opt, steps=1)
        save_checkpoint(model, folder / f"e{epoch}.pt", epoch=epoch * 10, loss=loss)
    return folder


def test_each_checkpoint_file_is_read_once(tmp_path, monkeypatch):
    ckpts = _checkpoints(tmp_path / "ckpt", epochs=(1, 2, 3))
    reads = []
    real = checkpoints._read

    def counted(path, **kw):
        reads.append(path.name)
        return real(path, **kw)

    monkeypatch.setattr(checkpoints, "_read", counted)
    rec = record_checkpoints(tiny_model(), "digit:3", ckpts, tmp_path / "rec", progress=False)
    assert reads == ["e1.pt", "e2.pt", "e3.pt"]
    assert rec.epochs == [10, 20, 30] and sorted(rec.metrics[0]) == ["loss"]


def test_animate_checkpoints_records_then_writes_the_video(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="render3d")
    ckpts = _checkpoints(tmp_path / "ckpt")
    src = tmp_path / "net.py"
    src.write_text("from render3d.models import DigitsCNN\ndef tiny():\n    return DigitsCNN(width=4)\n")
    out = tmp_path / "v.mp4"
    path = animate_checkpoints(
        Spec(model=f"{src}:tiny", probe="digit:3"),
        ckpts,
        out,
        recording=tmp_path / "rec",
        size=(320, 192),
        frames_per_epoch=2,
        fps=10,
    )
    assert path == out and out.is_file()
    assert caplog.records[-1].getMessage() == f"wrote {out}: 3 frames, 320x192, 0.3 s (10 fps)"
    rec = load_recording(tmp_path / "rec")
    assert (rec.epochs, rec.probe_name, rec.probe_label) == ([10, 20], "digit 3", 3)


def test_animate_checkpoints_leaves_no_recording_without_a_folder(tmp_path, monkeypatch):
    ckpts = _checkpoints(tmp_path / "ckpt")
    src = tmp_path / "net.py"
    src.write_text("from render3d.models import DigitsCNN\ndef tiny():\n    return DigitsCNN(width=4)\n")
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    animate_checkpoints(
        Spec(model=f"{src}:tiny", probe="digit:3"),
        ckpts,
        tmp_path / "v.mp4",
        size=(320, 192),
        frames_per_epoch=1,
        fps=10,
        progress=False,
    )
    assert (tmp_path / "v.mp4").is_file() and list(temp.iterdir()) == []
