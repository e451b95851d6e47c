"""Writing files so that nobody ever sees half of one: a temp name beside the target, then a rename.

Every file render3d writes (PNG, MP4, trace JSON, recordings, checkpoints) goes through
:func:`atomic_path`; an exception mid-way leaves the target as it was and no temp file behind.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, suffix: str = "") -> Iterator[Path]:
    """Yield a temp path in ``path``'s folder; it replaces ``path`` when the block succeeds.

    ``suffix`` ends the temp name, for writers that choose a format by extension (``".png"``).
    The temp name starts with a dot and ends in ``.tmp<suffix>``, so checkpoint discovery and
    globs for ``*.pt`` never pick it up.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode())
