"""TensorBoard helpers against a fake writer (tensorboard is not a dependency)."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from record_fixtures import make_recording, tiny_model

from render3d.errors import OutputSpecError
from render3d.tensorboard import encode_gif, log_animation, log_render

SUMMARY_PB2 = "tensorboard.compat.proto.summary_pb2"


class FakeWriter:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []

    def add_image(self, *args, **kwargs) -> None:
        self.calls.append(("add_image", args, kwargs))

    def add_video(self, *args, **kwargs) -> None:
        self.calls.append(("add_video", args, kwargs))


def test_log_render_adds_an_hwc_uint8_image():
    writer = FakeWriter()
    log_render(writer, "model/arch", tiny_model(), torch.zeros(1, 1, 32, 32), step=3, size=(320, 180))
    ((name, args, kwargs),) = writer.calls
    assert name == "add_image" and args[0] == "model/arch"
    image = args[1]
    assert image.shape == (180, 320, 3) and image.dtype == np.uint8 and image.std() > 0
    assert kwargs == {"global_step": 3, "dataformats": "HWC"}


class FakeFileWriter:
    def __init__(self) -> None:
        self.summaries: list[tuple[object, int | None]] = []

    def add_summary(self, summary, global_step=None) -> None:
        self.summaries.append((summary, global_step))


class FakeSummaryWriter(FakeWriter):
    """The SummaryWriter surface log_animation uses: its file writer takes protobuf summaries."""

    def __init__(self) -> None:
        super().__init__()
        self.file_writer = FakeFileWriter()

    def _get_file_writer(self) -> FakeFileWriter:
        return self.file_writer


class StubSummary(SimpleNamespace):
    """Stands in for tensorboard's ``Summary`` protobuf class (tensorboard is not installed)."""

    Image = type("Image", (SimpleNamespace,), {})
    Value = type("Value", (SimpleNamespace,), {})


@pytest.fixture
def stub_summary_pb2(monkeypatch):
    module = types.ModuleType(SUMMARY_PB2)
    module.Summary = StubSummary
    monkeypatch.setitem(sys.modules, SUMMARY_PB2, module)


def test_log_animation_logs_every_frame_as_one_gif_image_summary(tmp_path, stub_summary_pb2):
    folder = make_recording(tmp_path / "rec", 2)
    writer = FakeSummaryWriter()
    gif = log_animation(writer, "model/training", folder, step=5, fps=4, frames_per_epoch=2, size=(160, 90))
    ((summary, step),) = writer.file_writer.summaries
    (value,) = summary.value
    assert step == 5 and value.tag == "model/training" and writer.calls == []
    assert (value.image.width, value.image.height, value.image.colorspace) == (160, 90, 3)
    assert value.image.encoded_image_string is gif
    frames = iio.imread(gif, extension=".gif", index=None)
    assert frames.shape == (3, 90, 160, 3)  # 2 snapshots at 2 frames per epoch: 0, 0.5, 1
    assert not np.array_equal(frames[0], frames[-1])


def test_encode_gif_loops_at_the_frame_rate():
    frames = np.zeros((2, 8, 12, 3), np.uint8)
    frames[1] = 255
    meta = iio.immeta(encode_gif(frames, 4), extension=".gif")
    assert (meta["duration"], meta["loop"]) == (250, 0)


def test_log_animation_rejects_a_writer_that_cannot_log_a_summary(tmp_path):
    with pytest.raises(
        TypeError,
        match=r"^log_animation: writer FakeWriter has neither _get_file_writer\(\) "
        r"nor add_summary\(\); pass a torch.utils.tensorboard.SummaryWriter$",
    ):
        log_animation(FakeWriter(), "model/training", tmp_path / "never-read")


def test_log_animation_without_tensorboard_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, SUMMARY_PB2, None)  # makes the import fail, installed or not
    with pytest.raises(ImportError, match=r"^log_animation: .* cannot be imported, .*; pip install tensorboard$"):
        log_animation(FakeSummaryWriter(), "model/training", tmp_path / "never-read")


def test_log_animation_rejects_a_frame_rate_a_gif_cannot_play(tmp_path):
    with pytest.raises(OutputSpecError, match="fps 60 is too high for an animated GIF: give at most 50"):
        log_animation(FakeSummaryWriter(), "model/training", tmp_path / "never-read", fps=60)


def test_tensorboard_is_not_imported():
    # in a fresh interpreter: other tests (or plugins) may import tensorboard into this one
    import subprocess
    import sys

    code = "import sys, render3d.tensorboard; print('tensorboard' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
