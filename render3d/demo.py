"""``render3d demo``: train a small CNN on scikit-learn's bundled digits and watch it learn.

No download: the 1,797 8×8 digits ship with scikit-learn. They are upsampled to 32×32
(:func:`render3d.probe.digits_to_input`), split 80/20 with a fixed seed, and :class:`DigitsCNN` is
trained with Adam (batch 64) on the CPU. Every epoch (and epoch 0, the random start) writes a checkpoint
(``checkpoints/epoch_NN.pt`` with its metrics) and a snapshot of one held-out digit's activations
(``recording/``, named "digit 3", with the class names 0-9); at the end come ``architecture.png``,
``activations.png`` (final epoch) and ``training.mp4``: the activations changing over the epochs
beside the input digit, the prediction bars and the loss/accuracy curves, about 11 s with the first
and last epoch held (see :func:`render3d.record.animate.animate_recording`). About 40-60 s on two
CPU cores.

The demo replaces only files it wrote itself: ``render3d-demo.json`` lists each one with its
sha256, and a file it would overwrite or delete that is not listed with that content (a user's
``checkpoints/epoch_03.pt``) stops the demo before training, naming it. The recording is built
beside ``recording/`` and swapped in at the end (see :mod:`render3d.record.folder`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from render3d.atomic import atomic_write_text
from render3d.errors import OutputError

if TYPE_CHECKING:
    import torch

__all__ = ["DEMO_PROBE", "DemoResult", "demo_probe", "run_demo"]

SEED = 0
TEST_FRACTION = 0.2
BATCH = 64
LR = 2e-3
VIDEO_SIZE = (1280, 720)
IMAGE_SIZE = (1600, 900)
INPUT_SHAPE = (1, 1, 32, 32)
LEDGER = "render3d-demo.json"
OUTPUTS = ("architecture.png", "activations.png", "training.mp4")


@dataclass(frozen=True)
class DemoResult:
    out_dir: Path
    checkpoints: list[Path]
    recording: Path
    architecture: Path
    activations: Path
    video: Path
    probe: str
    test_accuracy: float
    seconds: float


class _Ledger:
    """The files a demo wrote into its folder, by relative path, with their sha256.

    A file counts as the demo's own only while its content still has the listed hash, so a
    user's file of the same name (or one the user changed) is never replaced or deleted.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / LEDGER
        self.files: dict[str, str] = {}
        #: a file at the ledger's name that is not a demo ledger (it would be overwritten)
        self.foreign = self.path.exists() or self.path.is_symlink()
        if self.path.is_file() and not self.path.is_symlink():
            try:
                data = json.loads(self.path.read_text())
            except (OSError, ValueError):
                data = None
            if isinstance(data, dict) and data.get("format") == "render3d-demo" and isinstance(data.get("files"), dict):
                self.files = {k: v for k, v in data["files"].items() if isinstance(k, str) and isinstance(v, str)}
                self.foreign = False

    def owns(self, rel: str) -> bool:
        path = self.folder / rel
        return rel in self.files and path.is_file() and not path.is_symlink() and _sha256(path) == self.files[rel]

    def refuse_foreign(self, rels: list[str]) -> None:
        """OutputError naming the existing files among ``rels`` (and the ledger) the demo did not write."""
        if self.folder.exists() and not self.folder.is_dir():
            raise OutputError(f"{self.folder} exists and is not a folder; choose a folder for -o")
        present = [rel for rel in rels if (self.folder / rel).exists() or (self.folder / rel).is_symlink()]
        foreign = [LEDGER] * self.foreign + [rel for rel in present if not self.owns(rel)]
        if foreign:
            from render3d.record.folder import name_list

            raise OutputError(
                f"{self.folder} holds files the demo did not write ({name_list(foreign)}); it would "
                "replace them: choose another -o folder or move them away"
            )

    def add(self, path: Path) -> None:
        self.files[path.relative_to(self.folder).as_posix()] = _sha256(path)
        self._save()

    def remove(self, rel: str) -> None:
        """Delete ``rel`` if it is provably the demo's own."""
        if self.owns(rel):
            (self.folder / rel).unlink()
        self.files.pop(rel, None)
        self._save()

    def _save(self) -> None:
        atomic_write_text(self.path, json.dumps({"format": "render3d-demo", "files": self.files}, indent=1) + "\n")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from render3d.probe import load_digits_images

    images, labels = load_digits_images()  # first: without scikit-learn it says what to install
    from sklearn.model_selection import train_test_split

    index = np.arange(len(labels))
    train, test = train_test_split(index, test_size=TEST_FRACTION, random_state=SEED, stratify=labels)
    return images, labels, np.sort(train), np.sort(test), index


def free_cores() -> int:
    """Cores not already busy (by the 1-minute load average): small conv batches on an
    oversubscribed core run several times slower with two threads than with one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):
        busy = 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))


def demo_probe() -> str:
    """The probe the demo records: the first held-out (test-split) image of a 3, as ``digit:N``."""
    _, labels, _, test, _ = _split()
    return f"digit:{int(next(i for i in test if labels[i] == 3))}"


DEMO_PROBE = "digit:45"  # == demo_probe(); pinned by tests/test_demo.py so the scene file can name it


@dataclass(frozen=True)
class _Digits:
    """The split digits as model inputs, and the probe the recording follows."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    probe: torch.Tensor

    @classmethod
    def load(cls) -> _Digits:
        import torch

        from render3d.probe import digits_to_input, make_probe

        images, labels, train, test, _ = _split()
        x = digits_to_input(images, INPUT_SHAPE)
        y = torch.from_numpy(labels)
        return cls(x[train], y[train], x[test], y[test], make_probe(DEMO_PROBE, INPUT_SHAPE))


def run_demo(
    out_dir: str | os.PathLike[str] = "render3d-demo",
    *,
    epochs: int = 10,
    progress: bool = True,
    video_size: tuple[int, int] = VIDEO_SIZE,
    image_size: tuple[int, int] = IMAGE_SIZE,
    duration: float | None = None,
) -> DemoResult:
    """Train, checkpoint and record for ``epochs`` epochs, then write the PNGs and the MP4 (``duration``
    seconds long, default :func:`render3d.record.frames.default_duration`: 11 s for 10 epochs)."""
    import torch

    from render3d.models import DigitsCNN
    from render3d.record.animate import animate_recording
    from render3d.record.frames import story_positions

    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    story_positions(np.zeros(epochs), 30, duration=duration)  # a duration too short fails before training
    start = time.perf_counter()
    out = Path(out_dir)
    ledger = _Ledger(out)
    stale = _claim(ledger, epochs)  # before any work: nothing is touched
    torch.set_num_threads(free_cores())
    torch.manual_seed(SEED)
    digits = _Digits.load()
    model = DigitsCNN()
    checkpoints, acc = _train_and_record(model, digits, out, ledger, epochs, progress)
    for rel in stale:  # a previous, longer run must not leak into the folder
        ledger.remove(rel)
    architecture, activations = _pictures(model, digits.probe, out, image_size, f"after {epochs} epochs", acc)
    recording = out / "recording"
    video = animate_recording(
        recording, out / "training.mp4", fps=30, size=video_size, duration=duration, progress=progress
    )
    for path in (architecture, activations, video):
        ledger.add(Path(path))
    return DemoResult(
        out, checkpoints, recording, architecture, activations, video, DEMO_PROBE, acc, time.perf_counter() - start
    )


def _checkpoint_name(epoch: int) -> str:
    return f"checkpoints/epoch_{epoch:02d}.pt"


def _claim(ledger: _Ledger, epochs: int) -> list[str]:
    """Refuse a folder holding files the demo did not write; returns the demo's checkpoints of a previous,
    longer run, which this one removes."""
    names = [_checkpoint_name(e) for e in range(epochs + 1)]
    ckpt_dir = ledger.folder / "checkpoints"
    found = sorted(f"checkpoints/{p.name}" for p in ckpt_dir.glob("epoch_*.pt")) if ckpt_dir.is_dir() else []
    ledger.refuse_foreign(sorted(set(names + found)) + list(OUTPUTS))
    return sorted(set(found) - set(names))


def _evaluate(model: torch.nn.Module, digits: _Digits) -> tuple[float, float]:
    """Test loss and accuracy."""
    import torch
    import torch.nn.functional as F

    model.eval()
    with torch.no_grad():
        logits = model(digits.x_test)
    return float(F.cross_entropy(logits, digits.y_test)), float((logits.argmax(1) == digits.y_test).float().mean())


def _train_epoch(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, digits: _Digits, generator: torch.Generator
) -> float:
    """One pass over the training split in seeded random batches; returns the mean training loss."""
    import torch
    import torch.nn.functional as F

    model.train()
    order = torch.randperm(len(digits.x_train), generator=generator)
    total = 0.0
    for s in range(0, len(order), BATCH):
        idx = order[s : s + BATCH]
        loss = F.cross_entropy(model(digits.x_train[idx]), digits.y_train[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    return total / len(order)


def _train_and_record(
    model: torch.nn.Module, digits: _Digits, out: Path, ledger: _Ledger, epochs: int, progress: bool
) -> tuple[list[Path], float]:
    """Train ``epochs`` epochs, keeping a checkpoint and a recording snapshot after each (and of the random
    start, epoch 0, so the video shows learning begin); returns the checkpoints and the final test accuracy."""
    import torch
    from tqdm import tqdm

    from render3d.checkpoints import save_checkpoint
    from render3d.probe import describe_probe
    from render3d.record.folder import new_recording_folder
    from render3d.record.recorder import Recorder

    probe_name, label = describe_probe(DEMO_PROBE)  # "digit 3", 3
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    generator = torch.Generator().manual_seed(SEED)
    checkpoints: list[Path] = []
    with (
        new_recording_folder(out / "recording") as folder,
        Recorder(
            model, digits.probe, folder, probe_name=probe_name, label=label, classes=[str(d) for d in range(10)]
        ) as recorder,
    ):
        test_loss, acc = _evaluate(model, digits)
        train_loss = test_loss  # epoch 0 has not trained: its test loss stands for both
        bar = tqdm(range(epochs + 1), desc="train", unit="epoch", disable=not progress, leave=False)
        for epoch in bar:
            if epoch:
                train_loss = _train_epoch(model, optimizer, digits, generator)
                test_loss, acc = _evaluate(model, digits)
                bar.set_postfix_str(f"loss {train_loss:.3f} acc {acc:.1%}")
            path = out / _checkpoint_name(epoch)
            save_checkpoint(model, path, epoch=epoch, loss=train_loss, test_loss=test_loss, acc=acc)
            ledger.add(path)
            checkpoints.append(path)
            recorder.snapshot(epoch, loss=train_loss, test_loss=test_loss, acc=acc)
        bar.close()
    return checkpoints, acc


def _pictures(
    model: torch.nn.Module, probe: torch.Tensor, out: Path, size: tuple[int, int], when: str, acc: float
) -> tuple[Path, Path]:
    """``architecture.png`` and ``activations.png`` of the trained model on the probe."""
    from render3d.probe import describe_probe
    from render3d.rendering import render_png
    from render3d.scene.builder import build_scene
    from render3d.tracing.tracer import trace

    architecture = render_png(
        build_scene(trace(model, probe, capture="none"), "architecture"), out / "architecture.png", size=size
    )
    final = replace(
        build_scene(trace(model, probe), "activations"),
        title=f"DigitsCNN {when}: activations for {describe_probe(DEMO_PROBE)[0]} (test acc {acc:.1%})",
    )
    return architecture, render_png(final, out / "activations.png", size=size)
