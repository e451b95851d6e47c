"""A small recording made by a real (tiny) training loop, shared by the record/animate tests."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from render3d.models import DigitsCNN
from render3d.probe import digits_to_input, load_digits_images, make_probe

SHAPE = (1, 1, 32, 32)


def tiny_model() -> DigitsCNN:
    torch.manual_seed(0)
    return DigitsCNN(width=4)


def train_steps(model: torch.nn.Module, optimizer: torch.optim.Optimizer, steps: int = 4) -> float:
    images, labels = load_digits_images()
    x, y = digits_to_input(images[:256], SHAPE), torch.from_numpy(labels[:256])
    loss = torch.tensor(0.0)
    for s in range(steps):
        idx = slice(64 * (s % 4), 64 * (s % 4 + 1))
        loss = F.cross_entropy(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


def make_recording(folder: Path, snapshots: int = 3, *, keep_traces: list | None = None) -> Path:
    """``snapshots`` epochs of a few Adam steps each, snapshotting digit 3 after every epoch."""
    from render3d.record import Recorder

    model = tiny_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    probe = make_probe("digit:3", SHAPE)
    rec = Recorder(model, probe, folder, overwrite=True)
    for epoch in range(1, snapshots + 1):
        loss = train_steps(model, optimizer)
        rec.snapshot(epoch, loss=loss, acc=0.25 * epoch, lr=torch.tensor(5e-3))
        if keep_traces is not None:
            import render3d

            keep_traces.append(render3d.trace(model, probe, capture=rec.capture))
    return folder
