"""``Render3DCallback`` for the Hugging Face ``Trainer``: a recording of the probe's activations.

    trainer = Trainer(model, args, train_dataset=..., eval_dataset=...,
                      callbacks=[Render3DCallback(probe, "runs/rec")])
    trainer.train()                                     # then: render3d animate runs/rec -o train.mp4

A snapshot at the end of every ``every_n_epochs``-th epoch and, with ``every_n_steps``, every that
many optimizer steps. The Trainer logs and evaluates right after ``on_epoch_end``/``on_step_end``,
without changing the weights, so the snapshot is taken just after that (at the next step, epoch or
the end of training): its caption then holds the latest logged ``loss`` and ``eval_*`` metrics. The
Trainer zeroes gradients right after each optimizer step, so with ``grads`` the callback measures
each layer's ‖grad‖ at ``on_optimizer_step`` (numbers, no copy of the gradients).

Distributed: only the world's process 0 (``args.process_index`` 0, where
``state.is_world_process_zero``) writes. The model the Trainer hands to callbacks is traced through
any DDP wrapper on process 0 alone. Under FSDP every process gathers the full state dict on CPU at
each snapshot and process 0 traces an unsharded copy made at ``on_init_end``, before the Trainer
shards the model.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from render3d.integrations.snapshots import TrainingSnapshots

__all__ = ["Render3DCallback"]

#: entries of the Trainer's log that are bookkeeping, not metrics worth a caption
_NOT_METRICS = ("epoch", "step", "total_flos", "learning_rate", "grad_norm")
_NOT_METRIC_SUFFIXES = ("_runtime", "_per_second", "_flos")


def latest_metrics(state: TrainerState) -> dict[str, Any]:
    """The latest logged value of each training/evaluation metric in ``state.log_history``."""
    out: dict[str, Any] = {}
    for entry in state.log_history:
        for name, value in entry.items():
            if name not in _NOT_METRICS and not name.endswith(_NOT_METRIC_SUFFIXES) and not name.startswith("train_"):
                out[name] = value
    return out


class Render3DCallback(TrainerCallback):
    """Record ``probe`` through the Trainer's model at epoch ends (and every ``every_n_steps`` steps)
    into the recording folder ``out_dir``; ``grads``: store the last step's ‖grad‖ per layer.
    Further keyword arguments go to :class:`~render3d.record.recorder.Recorder`."""

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
        self._pending: float | None = None

    @property
    def recorder(self):
        """The :class:`~render3d.record.recorder.Recorder` (``None`` before the first snapshot)."""
        return self.snapshots.recorder

    def on_init_end(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: torch.nn.Module | None = None,
        **kwargs: Any,
    ) -> None:
        if model is not None and (args.fsdp or os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true"):
            self.snapshots.keep_template(model, args.process_index)

    def on_optimizer_step(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: torch.nn.Module | None = None,
        **kwargs: Any,
    ) -> None:
        if model is not None:
            self.snapshots.hold_gradients(model, args.process_index)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if self.snapshots.step_due(state.global_step):
            self._pending = state.epoch

    def on_epoch_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self.snapshots.epoch_due(int(round(state.epoch))):
            self._pending = state.epoch

    def on_step_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: torch.nn.Module | None = None,
        **kwargs: Any,
    ) -> None:
        self._flush(args, state, model)

    def on_epoch_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: torch.nn.Module | None = None,
        **kwargs: Any,
    ) -> None:
        self._flush(args, state, model)

    def on_train_end(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: torch.nn.Module | None = None,
        **kwargs: Any,
    ) -> None:
        self._flush(args, state, model)
        self.snapshots.close()

    def _flush(self, args: TrainingArguments, state: TrainerState, model: torch.nn.Module | None) -> None:
        """Take the snapshot due since the last step or epoch end, now that its logs are in."""
        if self._pending is not None and model is not None:
            epoch, self._pending = self._pending, None
            self.snapshots.take(model, args.process_index, epoch, latest_metrics(state))
