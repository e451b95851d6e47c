"""Gallery stills of the teaching videos: scene-file keys and one frame of each video."""

from dataclasses import replace
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from render3d.errors import SceneFileError
from render3d.scenefile import read_scene_file
from render3d.stills import render_still

SCENES = Path(__file__).resolve().parent.parent / "scenes"
SMALL = (320, 180)


def _file(tmp_path, text):
    path = tmp_path / "x.toml"
    path.write_text(text)
    return path


def test_training_still_needs_no_model(tmp_path):
    sf = read_scene_file(_file(tmp_path, 'video = "training"\nrecording = "rec"\nat = 0.25\n'))
    assert (sf.video, sf.model, sf.recording, sf.at) == ("training", "", tmp_path / "rec", 0.25)


@pytest.mark.parametrize(
    "text, message",
    [
        ('model = "render3d:SeedCNN"\nvideo = "explain"\n', r"x.toml: video = 'explain' needs key 'layer'$"),
        ('video = "training"\n', r"x.toml: video = 'training' needs key 'recording'$"),
        (
            'model = "render3d:SeedCNN"\nlayer = "conv1"\n',
            r"x.toml: key 'layer' needs video = one of 'tour', 'explain'",
        ),
        (
            'model = "render3d:SeedCNN"\nvideo = "tour"\nlayer = "conv1"\n',
            r"x.toml: key 'layer' applies to video = 'explain', not 'tour'$",
        ),
        ('model = "render3d:SeedCNN"\nvideo = "tour"\nat = 1.5\n', r"x.toml: key 'at' must be a number from 0 to 1"),
        (
            'model = "render3d:SeedCNN"\nvideo = "movie"\n',
            r"x.toml: key 'video' must be one of 'tour', 'explain', 'training'",
        ),
    ],
)
def test_video_keys_are_checked(tmp_path, text, message):
    with pytest.raises(SceneFileError, match=message):
        read_scene_file(_file(tmp_path, text))


def test_training_still_moves_with_at(tmp_path):
    sf = replace(read_scene_file(SCENES / "teach_training.toml"), size=SMALL)
    first = iio.imread(render_still(replace(sf, at=0.0), tmp_path / "a.png"))
    last = iio.imread(render_still(replace(sf, at=1.0), tmp_path / "b.png"))
    assert first.shape[:2] == last.shape[:2] == (180, 320)
    assert np.abs(first.astype(int) - last.astype(int)).max() > 100  # epoch 0 and epoch 10 differ


def test_tour_still_is_the_frame_at_its_fraction(tmp_path):
    sf = replace(read_scene_file(SCENES / "teach_tour.toml"), size=SMALL)
    start = iio.imread(render_still(replace(sf, at=0.0), tmp_path / "a.png"))
    stop = iio.imread(render_still(sf, tmp_path / "b.png"))
    assert start.shape[:2] == stop.shape[:2] == (180, 320)
    assert (np.abs(start.astype(int) - stop.astype(int)).sum(axis=-1) > 60).mean() > 0.2  # overview vs conv1 close-up


def test_explain_still_fills_in_the_output_as_at_grows(tmp_path):
    sf = replace(read_scene_file(SCENES / "teach_explain.toml"), size=SMALL)
    early = iio.imread(render_still(replace(sf, at=0.0), tmp_path / "a.png"))[..., :3]
    late = iio.imread(render_still(sf, tmp_path / "b.png"))[..., :3]

    def grey(im: np.ndarray) -> int:
        """Pixels of the not-yet-computed output cells."""
        return int((np.abs(im.astype(int) - 229).max(axis=-1) <= 3).sum())

    assert grey(late) < grey(early)


def test_gallery_writes_the_still_a_scene_file_names(tmp_path):
    from render3d.gallery import render_gallery

    scene = _file(
        tmp_path,
        f'video = "training"\nrecording = "{SCENES / "recordings" / "digits"}"\n'
        'size = [320, 180]\noutput = "story"\npage = true\n',
    )
    assert render_gallery([scene], tmp_path / "out", progress=False) == []
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["story.html", "story.png"]
    assert iio.imread(tmp_path / "out" / "story.png").shape[:2] == (180, 320)
    page = (tmp_path / "out" / "story.html").read_text()
    assert page.startswith("<!doctype html>") and "epoch 10/10" in page  # the recording's page: every epoch


def test_a_page_of_a_tour_still_is_refused(tmp_path):
    with pytest.raises(SceneFileError, match=r"x.toml: page = true exports a scene or a recording; video = 'tour'"):
        read_scene_file(_file(tmp_path, 'model = "render3d:SeedCNN"\nvideo = "tour"\npage = true\n'))
