"""What the Lightning and Hugging Face callbacks share: when a snapshot is due, which metrics caption
it, and the one :class:`~render3d.record.recorder.Recorder` behind it (opened on every rank, writing
on global rank 0; an FSDP model's snapshot is a collective every rank joins)."""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from render3d.record.recorder import Recorder

__all__ = ["TrainingSnapshots", "scalar_metrics"]


def scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The finite scalar entries of ``metrics`` as floats (tensors, numpy and Python numbers); others
    (lists, strings, tensors with more than one element) are left out of the caption."""
    out = {}
    for name, value in metrics.items():
        if isinstance(value, bool):
            continue
        if hasattr(value, "numel") and value.numel() != 1:
            continue
        try:
            number = float(value.item() if hasattr(value, "item") else value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out[str(name)] = number
    return out


def _positive(name: str, value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"Render3DCallback: {name} must be a positive integer or None, got {value!r}")
    return value


class TrainingSnapshots:
    """A schedule and a Recorder opened on the first snapshot, when the trainer has placed the model.

    ``grads``: each snapshot stores the layers' ‖grad‖ of the last optimizer step before it (the
    callback calls :meth:`hold_gradients` where the trainer zeroes gradients before the snapshot);
    ``False`` stores none. Snapshots never change training: tracing runs the probe in eval mode
    without gradients and restores every training flag, and reading gradients copies nothing back.
    """

    def __init__(
        self,
        probe: torch.Tensor | str,
        out_dir: str | os.PathLike[str],
        *,
        every_n_epochs: int | None = 1,
        every_n_steps: int | None = None,
        grads: bool = True,
        recorder_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.probe = probe
        self.out_dir = Path(out_dir)
        self.every_n_epochs = _positive("every_n_epochs", every_n_epochs)
        self.every_n_steps = _positive("every_n_steps", every_n_steps)
        if self.every_n_epochs is None and self.every_n_steps is None:
            raise ValueError("Render3DCallback: every_n_epochs and every_n_steps are both None; set one")
        self.grads = bool(grads)
        self.options = dict(recorder_options or {})
        self.recorder: Recorder | None = None
        self.template: nn.Module | None = None
        self.last: float | None = None
        self._step = 0

    def keep_template(self, model: nn.Module, rank: int) -> None:
        """On rank 0, copy ``model`` (not sharded yet) to CPU: the unsharded copy an FSDP snapshot
        loads the gathered weights into (see :mod:`render3d.record.distributed`)."""
        if rank == 0 and self.template is None:
            self.template = copy.deepcopy(model).to("cpu").eval()

    def epoch_due(self, epochs_done: int) -> bool:
        return self.every_n_epochs is not None and epochs_done % self.every_n_epochs == 0

    def step_due(self, step: int) -> bool:
        """Whether optimizer step ``step`` is due, once (accumulating batches repeat a step count)."""
        due = self.every_n_steps is not None and step > 0 and step % self.every_n_steps == 0 and step != self._step
        self._step = step
        return due

    def hold_gradients(self, model: nn.Module, rank: int) -> None:
        if self.grads:
            self._open(model, rank).hold_gradients()

    def take(self, model: nn.Module, rank: int, epoch: float, metrics: Mapping[str, Any]) -> Path | None:
        """Snapshot ``model`` at ``epoch`` (fractional between epoch ends) unless that position is
        recorded already (a step snapshot that fell on an epoch's end)."""
        if self.last is not None and not epoch > self.last:
            return None
        written = self._open(model, rank).snapshot(epoch, **scalar_metrics(metrics))
        self.last = epoch
        return written

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()

    def _open(self, model: nn.Module, rank: int) -> Recorder:
        if self.recorder is None:
            self.recorder = Recorder(
                model, self.probe, self.out_dir, rank=rank, template=self.template, grads=self.grads, **self.options
            )
        return self.recorder
