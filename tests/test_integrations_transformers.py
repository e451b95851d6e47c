"""Render3DCallback in a tiny Hugging Face Trainer run on CPU: a snapshot per epoch with loss and eval_loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from record_fixtures import SHAPE
from torch import nn
from transformers import Trainer, TrainingArguments

from render3d.integrations.transformers import Render3DCallback
from render3d.models import DigitsCNN
from render3d.record import load_recording

pytestmark = pytest.mark.slow  # processes, a browser, training runs or model zoos: seconds each (-m 'not slow' skips)


PROBE = torch.rand(SHAPE, generator=torch.Generator().manual_seed(3))


class DigitsForTrainer(nn.Module):
    """The Trainer's model contract: keyword inputs, a dict with the loss when labels are given."""

    def __init__(self) -> None:
        super().__init__()
        self.net = DigitsCNN(width=4)

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        logits = self.net(pixel_values)
        return {"logits": logits} if labels is None else {"loss": F.cross_entropy(logits, labels), "logits": logits}


class Digits(torch.utils.data.Dataset):
    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.x, self.y = torch.rand((32, *SHAPE[1:]), generator=g), torch.randint(0, 10, (32,), generator=g)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"pixel_values": self.x[i], "labels": self.y[i]}


def _train(tmp_path, callbacks) -> DigitsForTrainer:
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"),
        num_train_epochs=2,
        per_device_train_batch_size=16,
        per_device_eval_batch_size=16,
        eval_strategy="epoch",
        logging_strategy="epoch",
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
        learning_rate=5e-3,
    )
    torch.manual_seed(0)
    model = DigitsForTrainer()
    Trainer(model=model, args=args, train_dataset=Digits(), eval_dataset=Digits(), callbacks=callbacks).train()
    return model


def test_trainer_records_a_snapshot_per_epoch_with_its_logged_metrics(tmp_path):
    _train(tmp_path, [Render3DCallback(PROBE, tmp_path / "rec")])
    rec = load_recording(tmp_path / "rec")
    assert [s.epoch for s in rec.snapshots] == [1, 2]
    assert [sorted(s.metrics) for s in rec.snapshots] == [["eval_loss", "loss"]] * 2
    assert len({s.metrics["eval_loss"] for s in rec.snapshots}) == 2  # each epoch its own evaluation
    _, norms = rec.summary(1)
    assert (norms.norms[:, 2] > 0).all()  # ‖grad‖ held from the last optimizer step


def test_the_callback_leaves_training_unchanged(tmp_path):
    plain = _train(tmp_path / "a", [])
    recorded = _train(tmp_path / "b", [Render3DCallback(PROBE, tmp_path / "rec")])
    for (name, a), b in zip(plain.state_dict().items(), recorded.state_dict().values()):
        assert torch.equal(a, b), name
