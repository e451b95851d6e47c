"""The lock a live :class:`~render3d.record.Recorder` holds on its recording folder.

Two Recorders writing one folder overwrite each other's snapshot files (run 1's epoch 3 ends up
holding run 2's activations), so a folder has at most one writer. The lock file names it: pid,
host, run id and the files it is about to create (``pending``). A lock whose process is gone (same
host, pid not alive) is stale and taken over; its pending files were being written when that
process died and are provably the recorder's own, so the new owner may remove them. A lock from
another host cannot be checked and is refused with the file to delete.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from render3d.atomic import HOST_TAG, atomic_write_text, is_alive
from render3d.errors import RecordingError

__all__ = [
    "HOST_TAG",
    "LOCK",
    "RecordingLock",
    "describe",
    "is_alive",
    "is_stale",
    "new_run_id",
    "read_lock",
    "release",
]

LOCK = "recorder.lock"


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def read_lock(folder: Path) -> dict[str, Any] | None:
    """The lock's content; ``None`` when there is no lock; RecordingError when it is unreadable."""
    path = folder / LOCK
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RecordingError(
            f"{path} cannot be read ({exc}); if no render3d run is writing {folder}, delete it"
        ) from None
    if not (isinstance(data, dict) and isinstance(data.get("pid"), int) and isinstance(data.get("run"), str)):
        raise RecordingError(f"{path} is not a render3d lock; if no render3d run is writing {folder}, delete it")
    return data


def is_stale(lock: dict[str, Any]) -> bool:
    """True when the lock's process has ended (only decidable on the same host)."""
    return lock.get("host") == socket.gethostname() and not is_alive(lock["pid"])


def describe(lock: dict[str, Any]) -> str:
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(lock.get("started", 0)))
    return f"pid {lock['pid']} on host {lock.get('host', '?')} (run {lock['run']}, since {since})"


class RecordingLock:
    """Hold ``folder``'s lock for run ``run``; :meth:`release` (or the Recorder's finaliser) drops it."""

    def __init__(self, folder: Path, run: str) -> None:
        self.folder = folder
        self.path = folder / LOCK
        self.run = run
        self._content = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "run": run,
            "started": round(time.time(), 3),
            "pending": [],
        }
        #: files the run before this one was writing when it died (set on a stale takeover)
        self.orphans: list[str] = []

    def acquire(self) -> None:
        """Create the lock, or take over a stale one; RecordingError when a live writer holds it."""
        text = json.dumps(self._content)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            self._take_over(text)
            return
        with os.fdopen(fd, "w") as fh:
            fh.write(text)

    def _take_over(self, text: str) -> None:
        held = read_lock(self.folder)
        if held is not None and not is_stale(held):
            raise RecordingError(
                f"{self.folder} is being recorded by {describe(held)}; one Recorder per folder "
                f"(if that run has ended, delete {self.path})"
            )
        atomic_write_text(self.path, text)
        if (read_lock(self.folder) or {}).get("run") != self.run:  # another process took it over first
            raise RecordingError(f"{self.folder} was just taken over by another Recorder; one Recorder per folder")
        self.orphans = [p for p in (held or {}).get("pending", []) if isinstance(p, str)]

    def set_pending(self, names: list[str]) -> None:
        """Name the files about to be written, so a takeover after a crash may remove them."""
        self._content["pending"] = names
        atomic_write_text(self.path, json.dumps(self._content))

    def release(self) -> None:
        release(self.path, self.run)


def release(path: Path, run: str) -> None:
    """Delete the lock at ``path`` if run ``run`` still holds it (a finaliser: never raises)."""
    try:
        held = json.loads(path.read_text())
        if held.get("run") == run and held.get("pid") == os.getpid():  # a forked child leaves its parent's lock
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass
