"""TensorBoard helpers against a fake writer (tensorboard is not a dependency)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from record_fixtures import make_recording, tiny_model
from render3d.tensorboard import log_animation, log_render


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
    (name, args, kwargs), = writer.calls
    assert name == "add_image" and args[0] == "model/arch"
    image = args[1]
    assert image.shape == (180, 320, 3) and image.dtype == np.uint8 and image.std() > 0
    assert kwargs == {"global_step": 3, "dataformats": "HWC"}


def test_log_animation_adds_an_ntchw_video(tmp_path):
    folder = make_recording(tmp_path / "rec", 2)
    writer = FakeWriter()
    video = log_animation(writer, "model/training", folder, step=5, fps=4, frames_per_epoch=2, size=(320, 180))
    (name, args, kwargs), = writer.calls
    assert name == "add_video" and args[0] == "model/training" and args[1] is video
    assert video.shape == (1, 3, 3, 176, 320) and video.dtype == np.uint8  # 180 rounds to 176 (x16)
    assert kwargs == {"global_step": 5, "fps": 4}
    assert not np.array_equal(video[0, 0], video[0, -1])


def test_tensorboard_is_not_imported():
    import sys

    assert "tensorboard" not in sys.modules or pytest.skip("tensorboard imported by something else")
