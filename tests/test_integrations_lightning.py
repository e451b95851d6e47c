"""Render3DCallback in a real Lightning fit on CPU: snapshots with the logged metrics, training unchanged."""

from __future__ import annotations

import subprocess
import sys

import lightning.pytorch as pl
import pytest
import torch
import torch.nn.functional as F
from record_fixtures import SHAPE
from torch.utils.data import DataLoader, TensorDataset

from render3d.integrations.lightning import Render3DCallback
from render3d.models import DigitsCNN
from render3d.record import load_recording

pytestmark = pytest.mark.slow  # processes, a browser, training runs or model zoos: seconds each (-m 'not slow' skips)


PROBE = torch.rand(SHAPE, generator=torch.Generator().manual_seed(3))


class Digits(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = DigitsCNN(width=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", F.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=5e-3)


def _loader() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.rand((32, *SHAPE[1:]), generator=g), torch.randint(0, 10, (32,), generator=g))
    return DataLoader(data, batch_size=16)  # 2 steps an epoch


def _fit(tmp_path, callbacks) -> Digits:
    pl.seed_everything(0, verbose=False)
    module = Digits()
    trainer = pl.Trainer(
        max_epochs=2,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=callbacks,
    )
    trainer.fit(module, _loader(), _loader())
    return module, trainer


def test_fit_records_a_snapshot_per_epoch_with_the_logged_metrics(tmp_path):
    module, trainer = _fit(tmp_path, [Render3DCallback(PROBE, tmp_path / "rec")])
    rec = load_recording(tmp_path / "rec")
    assert [s.epoch for s in rec.snapshots] == [1, 2]
    assert [sorted(s.metrics) for s in rec.snapshots] == [["train_loss", "val_acc", "val_loss"]] * 2
    last = rec.snapshots[-1].metrics
    assert last == {k: float(v) for k, v in trainer.callback_metrics.items()}


def test_the_callback_leaves_training_unchanged(tmp_path):
    plain, _ = _fit(tmp_path / "a", [])
    recorded, _ = _fit(tmp_path / "b", [Render3DCallback(PROBE, tmp_path / "rec")])
    for (name, a), b in zip(plain.state_dict().items(), recorded.state_dict().values()):
        assert torch.equal(a, b), name


def test_every_n_steps_adds_fractional_epochs(tmp_path):
    _fit(tmp_path, [Render3DCallback(PROBE, tmp_path / "rec", every_n_steps=1)])
    rec = load_recording(tmp_path / "rec")
    assert [s.epoch for s in rec.snapshots] == [0.5, 1, 1.5, 2]


def test_layer_gradients_of_the_last_step_are_stored(tmp_path):
    _fit(tmp_path, [Render3DCallback(PROBE, tmp_path / "rec")])
    _, norms = load_recording(tmp_path / "rec").summary(1)
    assert norms.paths == ("net.conv1", "net.conv2", "net.conv3", "net.fc1", "net.fc2")
    assert (norms.norms[:, 2] > 0).all()  # ‖grad‖ of every layer


def test_importing_render3d_imports_no_training_framework():
    code = (
        "import sys, render3d, render3d.integrations, render3d.integrations.snapshots; "
        "print(sorted(m for m in ('lightning', 'transformers', 'ray') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
