"""``render3d gallery``: every scene file of a folder rendered to ``<output>.png``, here or spread out.

Each scene file is one task: it builds its model, traces it and renders its PNG, and one bad file
never stops the others (its error is returned with it). With ``workers`` the files go to local
processes, with ``ray`` to Ray tasks (see :mod:`render3d.parallel`); each image comes back as PNG
bytes and is written here, atomically, so the output folder need not be shared with the workers.

The gallery is committed, so it is kept light in git history: its PNGs are encoded small
(:func:`compact_png`), and a file whose picture did not change (:func:`unchanged`) is left as it was,
so regenerating the gallery adds only the images whose scene changed.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = [
    "MAX_IMAGE_BYTES",
    "PIXEL_TOLERANCE",
    "STRAY_PIXELS",
    "SceneFailure",
    "compact_png",
    "render_gallery",
    "scene_image",
    "unchanged",
]

log = logging.getLogger("render3d")

#: a gallery image's budget: each regeneration that changes it adds its bytes to the repository's history
MAX_IMAGE_BYTES = 300_000
#: channel levels (of 255) by which a re-rendered image may differ from the file and still count as unchanged:
#: another GL driver rounds some edge pixels differently; any drawn change (a label, a colour) moves far more
PIXEL_TOLERANCE = 2
#: lone pixels (a fraction of the image) that may differ by more: a pixel whose centre falls on a texel's
#: edge rounds to the neighbouring texel when the texture layout changes (texture pages: 1-28 pixels of
#: 1.4 M); a drawn change, even one digit of a label, moves pixels that touch each other
STRAY_PIXELS = 1e-4


class SceneFailure(NamedTuple):
    """A scene file that could not be rendered: the error's type name and its first line."""

    file: Path
    kind: str
    message: str


def scene_image(file: str | os.PathLike[str], trust_pickle: bool = False) -> dict[str, bytes]:
    """The files one scene file makes, by name: ``<output>.png`` (the scene, or the still of the teaching
    video it names, see :mod:`render3d.stills`) and with ``page = true`` ``<output>.html``."""
    from render3d.api import scene_from_file
    from render3d.atomic import private_temp_dir
    from render3d.rendering import render_png
    from render3d.scenefile import read_scene_file
    from render3d.share import export

    sf = read_scene_file(file)
    with private_temp_dir("gallery") as folder, _quiet():
        page = folder / "page.html"
        if sf.video:
            from render3d.stills import render_still

            png = render_still(sf, folder / "still.png", trust_pickle=trust_pickle)
            if sf.page:  # a training still: the recording's page, with its epoch slider
                export(sf.recording, path=page, size=sf.size)
        else:
            scene, sf = scene_from_file(file, trust_pickle=trust_pickle)
            png = render_png(scene, folder / "scene.png", anti_aliasing=sf.anti_aliasing)
            if sf.page:
                export(scene, path=page)
        made = {f"{sf.output}.png": compact_png(_pixels(png))}
        if sf.page:
            made[f"{sf.output}.html"] = page.read_bytes()
        return made


def compact_png(image: np.ndarray) -> bytes:
    """``image`` (H, W, 3|4 uint8) as a PNG with unfiltered rows and zlib level 9: on render3d's flat-coloured
    renders 10-25 % smaller than Pillow's adaptive row filters (vit_b_16_activations: 340 KB → 274 KB), and
    lossless."""
    height, width, channels = image.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, -1)], axis=1)  # filter 0
    header = struct.pack(">IIBBBBB", width, height, 8, {3: 2, 4: 6}[channels], 0, 0, 0)  # 8-bit RGB or RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _pixels(source: Path | bytes) -> np.ndarray:
    """An image file's (or PNG bytes') pixels as (H, W, 3|4) uint8."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
        return np.asarray(im if im.mode in ("RGB", "RGBA") else im.convert("RGB"))


def unchanged(path: Path, png: bytes) -> bool:
    """Whether the image file at ``path`` shows the picture ``png`` does (each channel within
    :data:`PIXEL_TOLERANCE` but for :data:`STRAY_PIXELS` lone pixels) and is within :data:`MAX_IMAGE_BYTES`,
    so rewriting it would only grow history."""
    if not path.is_file() or path.stat().st_size > MAX_IMAGE_BYTES:
        return False
    try:
        old = _pixels(path)
    except OSError:  # not a readable image (Pillow's UnidentifiedImageError is an OSError): replaced
        return False
    new = _pixels(png)
    if old.shape != new.shape:
        return False
    off = np.abs(old.astype(np.int16) - new).max(axis=-1, initial=0) > PIXEL_TOLERANCE
    return int(off.sum()) <= STRAY_PIXELS * off.size and not _touching(off)


def _touching(mask: np.ndarray) -> bool:
    """Whether two set pixels of ``mask`` touch (side or corner)."""
    below, right = mask[1:] & mask[:-1], mask[:, 1:] & mask[:, :-1]
    diagonals = (mask[1:, 1:] & mask[:-1, :-1]) | (mask[1:, :-1] & mask[:-1, 1:])
    return bool(below.any() or right.any() or diagonals.any())


@contextmanager
def _quiet() -> Iterator[None]:
    """Hold back the steps' own ``wrote <temp file>`` log lines: the gallery reports the files it keeps."""
    logger = logging.getLogger("render3d")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def gallery_task(file: str, trust_pickle: bool) -> dict[str, bytes] | SceneFailure:
    """One scene file on a worker: its files, or its error as plain values (any error pickles)."""
    from render3d.errors import one_line
    from render3d.parallel import report

    try:
        return scene_image(file, trust_pickle)
    except Exception as exc:  # one bad scene must not stop the others; each is reported at the end
        return SceneFailure(Path(file), type(exc).__name__, one_line(exc))
    finally:
        report(1)


def render_gallery(
    files: Sequence[Path],
    out_dir: str | os.PathLike[str],
    *,
    trust_pickle: bool = False,
    workers: int | None = None,
    ray: str | None = None,
    progress: bool | None = None,
) -> list[SceneFailure]:
    """Render ``files`` into ``out_dir`` (here, on ``workers`` local processes, or on Ray); returns
    the files that failed. An image whose picture is :func:`unchanged` is not rewritten; the count of
    each is logged (INFO, logger ``render3d``). ``progress=None``: a bar only on a terminal."""
    from tqdm import tqdm

    from render3d.atomic import atomic_write_bytes
    from render3d.parallel import worker_pool

    out_dir = Path(out_dir)
    failed: list[SceneFailure] = []
    images: Counter[str] = Counter()

    def keep(result: dict[str, bytes] | SceneFailure) -> None:
        if isinstance(result, SceneFailure):
            failed.append(result)
            return
        for name, data in result.items():
            path = out_dir / name
            is_image = path.suffix == ".png"
            if unchanged(path, data) if is_image else path.is_file() and path.read_bytes() == data:
                images["unchanged"] += is_image
                continue
            atomic_write_bytes(path, data)
            images["written"] += is_image
            if is_image and len(data) > MAX_IMAGE_BYTES:
                log.warning(
                    f"{path}: {len(data) / 1000:.0f} KB, over the gallery's {MAX_IMAGE_BYTES // 1000} KB budget: "
                    "a smaller size in its scene file makes it lighter"
                )

    disable = None if progress is None else not progress
    with tqdm(total=len(files), desc="gallery", unit="scene", disable=disable) as bar:
        if ray is None and (workers or 1) <= 1:
            for file in files:
                bar.set_postfix_str(file.name)
                keep(gallery_task(str(file), trust_pickle))
                bar.update()
        else:
            with worker_pool(int(workers or 0), ray=ray, bar=bar) as pool:
                for file in files:
                    pool.submit(gallery_task, str(file), trust_pickle)
                for result in pool.gather():
                    keep(result)
    kept = f" ({images['unchanged']} unchanged, left as they were)" if images["unchanged"] else ""
    log.info(f"wrote {images['written']} image{'s' * (images['written'] != 1)} to {out_dir}/{kept}")
    return failed
