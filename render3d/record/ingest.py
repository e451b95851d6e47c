"""Checkpoint ingestion: a folder of checkpoints into a recording, and into a video in one call.

Each checkpoint file is read once (:func:`render3d.checkpoints.read_checkpoint`): its weights go into
the model, the plain numbers saved beside them (``epoch``, ``loss``, ...) become the snapshot's epoch
and metrics. ``render3d animate MODEL --checkpoints DIR`` is :func:`animate_checkpoints`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from render3d.errors import RecordingError
from render3d.record.recording import Recording, load_recording

if TYPE_CHECKING:
    import torch
    from torch import nn

    from render3d.api import Spec

__all__ = ["animate_checkpoints", "record_checkpoints"]


def record_checkpoints(
    model: nn.Module,
    probe: torch.Tensor | str,
    checkpoints: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    trust_pickle: bool = False,
    progress: bool = True,
    **recorder_options: Any,
) -> Recording:
    """Load each checkpoint (natural order) into ``model`` and snapshot ``probe``; returns the recording.

    ``checkpoints`` is a folder, a glob pattern or a list of files. The epoch of a snapshot is the
    checkpoint's own ``epoch`` entry when it has one, else its 1-based position; other plain-number
    entries (loss, acc, ...) become its metrics; epochs must strictly increase in that order.

    The recording is built in a temp folder beside ``out_dir`` and replaces it only when every
    checkpoint was recorded; ``out_dir`` must be new, empty or a recording (its manifest-listed files
    are the only ones removed). A folder holding anything else is refused before any checkpoint is read.
    ``recorder_options`` (``depth``, ``probe_name``, ``label``, ``classes``, ...) go to the
    :class:`~render3d.record.recorder.Recorder` that writes it.
    """
    from tqdm import tqdm

    from render3d.checkpoints import find_checkpoints, read_checkpoint
    from render3d.record.folder import new_recording_folder
    from render3d.record.recorder import Recorder

    if isinstance(checkpoints, (str, os.PathLike)):
        paths = find_checkpoints(checkpoints)
    else:
        paths = [Path(p) for p in checkpoints]
    if not paths:
        raise RecordingError("record_checkpoints: the list of checkpoints is empty; pass at least one file")
    with (
        new_recording_folder(out_dir) as folder,
        Recorder(model, probe, folder, **recorder_options) as recorder,
    ):
        last: tuple[Path, float] | None = None
        for i, p in enumerate(tqdm(paths, desc="record", unit="ckpt", disable=not progress, leave=False)):
            checkpoint = read_checkpoint(p, trust_pickle=trust_pickle)  # one read: weights and metrics
            checkpoint.load_into(model)
            metrics = dict(checkpoint.metrics)
            epoch = metrics.pop("epoch", i + 1)
            if not (math.isfinite(epoch) and epoch >= 0 and (last is None or epoch > last[1])):
                after = f"; it comes after {last[0]} (epoch {last[1]!r})" if last else ""
                raise RecordingError(
                    f"{p}: epoch {epoch!r} is not a finite number >= 0 larger than the one "
                    f"before{after}; fix its 'epoch' entry or the file names (natural order)"
                )
            recorder.snapshot(epoch, **metrics)
            last = (p, epoch)
    return load_recording(out_dir)


def animate_checkpoints(
    spec: Spec,
    checkpoints: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    path: str | os.PathLike[str],
    *,
    recording: str | os.PathLike[str] | None = None,
    classes: Sequence[str] | None = None,
    **options: Any,
) -> Path:
    """Record ``checkpoints`` into the model ``spec`` names (its probe, depth and ``trust_pickle``),
    then animate the recording into ``path``; returns ``path``.

    The recording is kept in ``recording`` when given, else in a private temp folder removed after.
    ``classes`` name the model's outputs (default: ImageNet's for a ``torchvision:`` model) in the
    recording and the video's panels; ``options`` go to :func:`~render3d.record.animate.animate_recording`.
    """
    from render3d.api import check_fits_in_memory, load_spec_model
    from render3d.atomic import private_temp_dir
    from render3d.probe import describe_probe
    from render3d.record.animate import animate_recording
    from render3d.record.story import torchvision_classes

    check_fits_in_memory(spec)
    model, probe = load_spec_model(spec)
    probe_name, label = describe_probe(spec.probe) if spec.probe else (None, None)
    names = classes or (torchvision_classes(spec.model) if spec.model.startswith("torchvision:") else None)
    with nullcontext(recording) if recording else private_temp_dir("rec") as folder:
        recorded = record_checkpoints(
            model,
            probe,
            checkpoints,
            folder,
            trust_pickle=spec.trust_pickle,
            depth=spec.depth,
            probe_name=probe_name,
            label=label,
            classes=names,
        )
        return animate_recording(recorded, path, classes=classes, **options)
