"""``render3d gallery``: every scene file of a folder rendered to ``<output>.png``, here or spread out.

Each scene file is one task: it builds its model, traces it and renders its PNG, and one bad file
never stops the others (its error is returned with it). With ``workers`` the files go to local
processes, with ``ray`` to Ray tasks (see :mod:`render3d.parallel`); each image comes back as PNG
bytes and is written here, atomically, so the output folder need not be shared with the workers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

__all__ = ["SceneFailure", "render_gallery", "scene_image"]


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
    with private_temp_dir("gallery") as folder:
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
        made = {f"{sf.output}.png": png.read_bytes()}
        if sf.page:
            made[f"{sf.output}.html"] = page.read_bytes()
        return made


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
    the files that failed. ``progress=None``: a bar only on a terminal."""
    from tqdm import tqdm

    from render3d.atomic import atomic_write_bytes
    from render3d.parallel import worker_pool

    out_dir = Path(out_dir)
    failed: list[SceneFailure] = []

    def keep(result: dict[str, bytes] | SceneFailure) -> None:
        if isinstance(result, SceneFailure):
            failed.append(result)
            return
        for name, data in result.items():
            atomic_write_bytes(out_dir / name, data)

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
    return failed
