"""The committed gallery stays light: compact lossless PNGs, and a regeneration rewrites only changed pictures."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from PIL import Image

from render3d import gallery
from render3d.gallery import PIXEL_TOLERANCE, STRAY_PIXELS, compact_png, render_gallery, unchanged

SCENE = 'model = "render3d:SeedCNN"\nsize = [320, 192]\ntitle = "{title}"\n'


def _pillow_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def scene(tmp_path):
    path = tmp_path / "seed.toml"
    path.write_text(SCENE.format(title="Seed"))
    return path


@pytest.mark.parametrize("channels", [3, 4])
def test_compact_png_is_lossless(channels):
    image = np.random.default_rng(0).integers(0, 256, (37, 53, channels), dtype=np.uint8)
    with Image.open(io.BytesIO(compact_png(image))) as im:
        assert np.array_equal(np.asarray(im), image)


def test_gallery_png_is_smaller_than_pillows_with_the_same_pixels(scene, tmp_path):
    assert render_gallery([scene], tmp_path / "out", progress=False) == []
    data = (tmp_path / "out" / "seed.png").read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        pixels = np.asarray(im)
    assert pixels.shape == (192, 320, 3)
    assert len(data) < 0.9 * len(_pillow_png(pixels))


def test_regenerating_an_unchanged_scene_leaves_its_file_untouched(scene, tmp_path, caplog):
    out = tmp_path / "out"
    render_gallery([scene], out, progress=False)
    before = (out / "seed.png").stat()
    caplog.set_level(logging.INFO, logger="render3d")
    render_gallery([scene], out, progress=False)
    after = (out / "seed.png").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert caplog.messages == [f"wrote 0 images to {out}/ (1 unchanged, left as they were)"]


def test_a_changed_scene_is_rewritten(scene, tmp_path, caplog):
    out = tmp_path / "out"
    render_gallery([scene], out, progress=False)
    before = (out / "seed.png").read_bytes()
    scene.write_text(SCENE.format(title="Seed, retitled"))
    caplog.set_level(logging.INFO, logger="render3d")
    render_gallery([scene], out, progress=False)
    assert (out / "seed.png").read_bytes() != before
    assert caplog.messages == [f"wrote 1 image to {out}/"]


@pytest.mark.parametrize("shift, same", [(PIXEL_TOLERANCE, True), (PIXEL_TOLERANCE + 1, False)])
def test_a_picture_within_the_tolerance_is_unchanged(tmp_path, shift, same):
    image = np.full((20, 30, 3), 100, np.uint8)
    moved = image.copy()
    moved[5, 7, 1] += shift
    (tmp_path / "a.png").write_bytes(_pillow_png(image))
    assert unchanged(tmp_path / "a.png", compact_png(moved)) is same


@pytest.mark.parametrize(
    "pixels, same",
    [
        ([(10, 10), (50, 80)], True),  # two lone pixels of 20,000: a texel edge rounding the other way
        ([(10, 10), (10, 11)], False),  # two touching: something drawn
        ([(10, 10), (11, 11)], False),  # corner to corner
        ([(10, 10), (50, 80), (90, 150)], False),  # more than STRAY_PIXELS of the image
    ],
)
def test_lone_stray_pixels_leave_a_picture_unchanged(tmp_path, pixels, same):
    image = np.full((100, 200, 3), 100, np.uint8)
    moved = image.copy()
    for y, x in pixels:
        moved[y, x] = 250
    (tmp_path / "a.png").write_bytes(_pillow_png(image))
    assert STRAY_PIXELS * image.shape[0] * image.shape[1] == 2
    assert unchanged(tmp_path / "a.png", compact_png(moved)) is same


def test_a_file_over_the_budget_is_rewritten_even_with_the_same_picture(tmp_path, monkeypatch):
    image = np.full((20, 30, 3), 100, np.uint8)
    (tmp_path / "a.png").write_bytes(_pillow_png(image))
    monkeypatch.setattr(gallery, "MAX_IMAGE_BYTES", 10)
    assert unchanged(tmp_path / "a.png", compact_png(image)) is False


def test_an_unreadable_file_is_replaced(tmp_path):
    (tmp_path / "a.png").write_bytes(b"not a png")
    assert unchanged(tmp_path / "a.png", compact_png(np.zeros((2, 2, 3), np.uint8))) is False


def test_an_image_over_the_budget_is_written_with_a_warning(scene, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(gallery, "MAX_IMAGE_BYTES", 1000)
    render_gallery([scene], tmp_path / "out", progress=False)
    size = (tmp_path / "out" / "seed.png").stat().st_size
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"{tmp_path / 'out' / 'seed.png'}: {size / 1000:.0f} KB, over the gallery's 1 KB budget: "
        "a smaller size in its scene file makes it lighter"
    ]


def test_every_committed_gallery_image_is_at_most_300_kb():
    from pathlib import Path

    pngs = sorted((Path(__file__).resolve().parents[1] / "gallery").glob("*.png"))
    assert len(pngs) >= 30  # the README shows them
    assert {p.name: p.stat().st_size for p in pngs if p.stat().st_size > 300_000} == {}
