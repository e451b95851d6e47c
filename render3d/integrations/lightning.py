"""``Render3DCallback`` for PyTorch Lightning: a recording of the probe's activations during ``fit``.

    trainer = L.Trainer(max_epochs=10, callbacks=[Render3DCallback("digit:3", "runs/rec")])
    trainer.fit(model, train_loader, val_loader)       # then: render3d animate runs/rec -o fit.mp4

A snapshot at the end of every ``every_n_epochs``-th training epoch (after its validation, so the
validation metrics are in its caption) and, with ``every_n_steps``, every that many optimizer steps
(at a fractional epoch). The caption holds ``trainer.callback_metrics``: what the module logged with
``self.log`` (``train_loss``, ``val_loss``, ``val_acc``, ...), scalars only. With ``grads`` the
layers' ‖grad‖ is measured before each optimizer step (numbers, no copy): Lightning has cleared the
gradients by the epoch's end.

Distributed: the Recorder is opened on every rank and only global rank 0 (``trainer.global_rank``)
writes. Under DDP the LightningModule itself (not the DDP wrapper) is traced on rank 0 alone: its
forward runs no collective. Under FSDP (``FSDPStrategy``, ``ModelParallelStrategy``) every rank
gathers the full state dict on CPU at each snapshot and rank 0 traces an unsharded copy of the module
made in ``setup``, before the strategy shards it (so a module whose layers are built in
``configure_model`` cannot be recorded under FSDP).
"""

from __future__ import annotations

import os
from typing import Any

import lightning.pytorch as pl
import torch

from render3d.integrations.snapshots import TrainingSnapshots

__all__ = ["Render3DCallback"]

#: strategies that shard the weights: the snapshot gathers them (see the module docstring)
SHARDING_STRATEGIES = ("FSDPStrategy", "ModelParallelStrategy")


class Render3DCallback(pl.Callback):
    """Record ``probe`` through the LightningModule at epoch ends (and every ``every_n_steps`` steps)
    into the recording folder ``out_dir``; ``grads``: store the last step's ‖grad‖ per layer.
    Further keyword arguments go to :class:`~render3d.record.recorder.Recorder` (``depth``,
    ``resume``, ``overwrite``, ``probe_name``, ``label``, ``classes``, ...)."""

    def __init__(
        self,
        probe: torch.Tensor | str,
        out_dir: str | os.PathLike[str],
        every_n_epochs: int | None = 1,
        every_n_steps: int | None = None,
        grads: bool = True,
        **recorder_options: Any,
    ) -> None:
        self.snapshots = TrainingSnapshots(
            probe,
            out_dir,
            every_n_epochs=every_n_epochs,
            every_n_steps=every_n_steps,
            grads=grads,
            recorder_options=recorder_options,
        )

    @property
    def recorder(self):
        """The :class:`~render3d.record.recorder.Recorder` (``None`` before the first snapshot)."""
        return self.snapshots.recorder

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if type(trainer.strategy).__name__ in SHARDING_STRATEGIES:
            self.snapshots.keep_template(pl_module, trainer.global_rank)

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any) -> None:
        self.snapshots.hold_gradients(pl_module, trainer.global_rank)  # gone by the epoch's end

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.snapshots.step_due(trainer.global_step):
            epoch = trainer.current_epoch + (batch_idx + 1) / max(trainer.num_training_batches, 1)
            self.snapshots.take(pl_module, trainer.global_rank, epoch, trainer.callback_metrics)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        done = trainer.current_epoch + 1
        if self.snapshots.epoch_due(done):
            self.snapshots.take(pl_module, trainer.global_rank, done, trainer.callback_metrics)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.snapshots.close()
