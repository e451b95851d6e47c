"""Rendering spread out: a video's frame ranges on 2 processes or on Ray, a gallery's scenes on 2
processes; the joined video holds the frames one process writes, and a failure leaves nothing behind."""

from __future__ import annotations

import os
import tempfile

import imageio.v3 as iio
import numpy as np
import pytest
from record_fixtures import make_recording

from render3d.cli import main
from render3d.errors import OutputError
from render3d.parallel import split_range
from render3d.record.animate import animate_recording
from render3d.record.segments import segment_count

pytestmark = pytest.mark.slow  # processes, a browser, training runs or model zoos: seconds each (-m 'not slow' skips)


OPTIONS = dict(size=(320, 192), frames_per_epoch=3, fps=10, progress=False)  # 3 snapshots: 7 frames


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return make_recording(tmp_path_factory.mktemp("workers") / "rec")


@pytest.fixture(scope="module")
def single(recording, tmp_path_factory):
    """The frames one process writes."""
    path = tmp_path_factory.mktemp("single") / "one.mp4"
    animate_recording(recording, path, **OPTIONS)
    return iio.imread(path)


def _assert_same_frames(path, single) -> None:
    frames = iio.imread(path)
    assert frames.shape == single.shape == (7, 192, 320, 3)
    # only encoding differs: each segment starts with its own key frame
    diff = np.abs(frames.astype(np.int16) - single).mean(axis=(1, 2, 3))
    assert diff.max() < 2.0, diff


def test_split_range_gives_contiguous_near_equal_ranges():
    assert split_range(7, 2) == [(0, 4), (4, 7)]
    assert split_range(10, 3) == [(0, 3), (3, 7), (7, 10)]
    assert split_range(2, 4) == [(0, 1), (1, 2)]  # never an empty range


def test_segment_count_keeps_segments_long_enough():
    assert segment_count(330, 2) == 5  # 3 a worker would be 55 frames each: under 60
    assert segment_count(7, 2) == 2  # one each at least
    assert segment_count(1, 4) == 1
    assert segment_count(10_000, 4) == 12


def test_two_workers_write_the_frames_of_one(recording, single, tmp_path):
    path = tmp_path / "two.mp4"
    animate_recording(recording, path, workers=2, **OPTIONS)
    _assert_same_frames(path, single)
    first = iio.imread(path, index=0)
    assert np.array_equal(first, single[0])  # the first segment starts as the single video does, bit for bit


def test_ray_local_instance_writes_the_frames_of_one(recording, single, tmp_path):
    path = tmp_path / "ray.mp4"
    animate_recording(recording, path, workers=2, ray="local", **OPTIONS)
    _assert_same_frames(path, single)


def test_a_failed_join_leaves_no_video_and_no_segments(recording, tmp_path, monkeypatch):
    import render3d.record.video as video

    def refuse(segments, path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(video, "concat_videos", refuse)
    before = set(os.listdir(tempfile.gettempdir()))
    with pytest.raises(OutputError, match="No space left"):
        animate_recording(recording, tmp_path / "v.mp4", workers=2, **OPTIONS)
    assert os.listdir(tmp_path) == []
    assert not [n for n in set(os.listdir(tempfile.gettempdir())) - before if n.startswith("render3d-segments")]


def test_cli_refuses_workers_for_a_gif(recording, tmp_path, capsys):
    assert main(["animate", str(recording), "-o", str(tmp_path / "v.gif"), "--workers", "2"]) == 2
    assert "a GIF's one palette needs every frame" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_gallery_on_two_workers_renders_every_scene_and_reports_bad_ones(tmp_path, capsys):
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    good = 'model = "render3d:SeedCNN"\nsize = [320, 192]\n'
    for name in ("a", "b"):
        (scenes / f"{name}.toml").write_text(good)
    (scenes / "c.toml").write_text(good + 'depth = "two"\n')
    assert main(["gallery", str(scenes), "-o", str(tmp_path / "gallery"), "--workers", "2"]) == 1
    assert sorted(p.name for p in (tmp_path / "gallery").iterdir()) == ["a.png", "b.png"]
    assert iio.imread(tmp_path / "gallery" / "a.png").shape == (192, 320, 3)
    captured = capsys.readouterr()
    assert "wrote 2 images to" in captured.out
    assert captured.err.splitlines()[0] == (
        f"SceneFileError: {scenes / 'c.toml'}: key 'depth' must be a positive integer, got 'two'"
    )


def test_a_worker_that_dies_fails_the_gallery_instead_of_hanging(tmp_path, capsys):
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    (tmp_path / "dies.py").write_text("import os\nos._exit(9)  # a crash in native code, as far as the pool sees\n")
    (scenes / "a.toml").write_text(f'model = "{tmp_path / "dies.py"}:Net"\nsize = [320, 192]\n')
    assert main(["gallery", str(scenes), "-o", str(tmp_path / "gallery"), "--workers", "2"]) == 1
    assert capsys.readouterr().err.startswith("WorkerError: a worker process died while rendering")
    assert not (tmp_path / "gallery").exists()
