"""Writing files so that nobody ever sees half of one, and nothing but the target ever changes.

Every file render3d writes (PNG/JPEG, MP4/GIF, trace JSON, recordings, checkpoints) goes through
:func:`atomic_path`: the output is checked first (:func:`check_output`: not a folder, FIFO or
device, a writable folder, enough free space), written to a temp file beside the real target (a
symlink is written *through*: the link stays, its target gets the new content), flushed to disk and
renamed over it only when the writer succeeded. Temp files carry ``render3d-tmp``, the host and the pid in their
name, so one left behind by a killed process is recognisably ours and is removed by the next
render3d that writes into the same folder (:func:`sweep_stale_temps`); the same goes for the
temporary folders of :func:`private_temp_dir`. :func:`cleanup_on_sigterm` turns SIGTERM into an
ordinary exit so that all of this cleanup runs.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from render3d.errors import OutputError, OutputSpecError, Render3DError

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_output",
    "cleanup_on_sigterm",
    "is_temp_name",
    "private_temp_dir",
    "sweep_stale_temps",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
VIDEO_EXTENSIONS = (".mp4", ".gif")

TEMP_TAG = "render3d-tmp"
# A short digest of the host name: a folder on a network share may hold temp files of live processes
# on other machines, whose pids mean nothing here; only this host's are ever swept.
HOST_TAG = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
_TEMP_FILE = re.compile(rf"^\..+\.{TEMP_TAG}-(?P<host>[0-9a-f]{{6}})-(?P<pid>\d+)-[0-9a-f]+(\.[^.]+)?$")
_TEMP_DIR = re.compile(r"^render3d-[a-z]+-(?P<host>[0-9a-f]{6})-(?P<pid>\d+)-")

# Write failures whose message says plainly that the *output* is the problem.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


def _describe(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "FIFO (named pipe)"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return "special file"


def _size(n: float) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB"


def is_alive(pid: int) -> bool:
    """True while process ``pid`` exists on this host."""
    if pid <= 0:  # 0 and -1 would address process groups
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    except (OverflowError, ValueError):  # not a pid this system can have (a name with 20 digits)
        return False
    return True


def _remove_quietly(path: Path) -> None:
    """Unlink ``path`` if it is there; a failure (read-only FS) must never hide the error in flight."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _fsync(path: Path, *, folder: bool = False) -> None:
    """Flush ``path`` to disk; for a folder (where a rename is recorded) only where the OS allows it."""
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if folder else 0))
    except OSError:
        if folder:
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not folder:  # a file that cannot be flushed is a failed write
            raise
    finally:
        os.close(fd)


def stale_match(match: re.Match[str] | None) -> bool:
    """A temp name matched with ``host`` and ``pid`` groups belongs to a dead process of this host."""
    return match is not None and match["host"] == HOST_TAG and not is_alive(int(match["pid"]))


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is an :func:`atomic_path` temp file (of any process, on any host)."""
    return _TEMP_FILE.match(name) is not None


def sweep_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove render3d temp files in ``folder`` left by processes of this host that no longer run
    (SIGKILL, power loss); returns what was removed. Files of live processes are never touched."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        stale = TEMP_TAG in entry.name and stale_match(_TEMP_FILE.match(entry.name))
        if stale and entry.is_file(follow_symlinks=False):
            _remove_quietly(Path(entry.path))
            if not os.path.lexists(entry.path):
                removed.append(Path(entry.path))
    return removed


@contextmanager
def private_temp_dir(kind: str) -> Iterator[Path]:
    """A fresh folder ``render3d-<kind>-<host>-<pid>-*`` in the temp directory, removed on exit.

    Folders of the same pattern whose process is gone (killed before it could clean up) are removed
    first, so they do not pile up in ``/tmp``.
    """
    root = Path(tempfile.gettempdir())
    try:
        entries = list(os.scandir(root))
    except OSError:
        entries = []
    for entry in entries:
        if entry.name.startswith("render3d-") and stale_match(_TEMP_DIR.match(entry.name)):
            shutil.rmtree(entry.path, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"render3d-{kind}-{HOST_TAG}-{os.getpid()}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _resolve(path: Path) -> Path:
    """The file a write to ``path`` should land in: symlinks (also dangling ones) followed."""
    return Path(os.path.realpath(path)) if os.path.islink(path) else path


def check_output(path: str | os.PathLike[str], *, extensions: Sequence[str] = (), estimate: int = 0) -> Path:
    """Check, before any work, that ``path`` can be written; return the file that will be replaced.

    Refused with one line: an extension not in ``extensions`` (:class:`OutputSpecError`); a folder,
    FIFO, device or socket at ``path``, a folder that is not writable, less free space than
    ``estimate`` bytes (:class:`OutputError`). A symlink is followed: its target is what gets
    written. Missing parent folders are fine (they are created when writing). Stale render3d temp
    files in the folder are removed.
    """
    path = Path(path)
    target = _resolve(path)
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputError(f"{path}: cannot be checked for writing ({exc.strerror})") from None
    if mode is not None and stat.S_ISDIR(mode):
        example = path / f"out{extensions[0] if extensions else path.suffix}"
        raise OutputError(f"{path} is a folder: give a file name, e.g. {example}")
    if mode is not None and not stat.S_ISREG(mode):
        raise OutputError(
            f"{path} is a {_describe(mode)}, not a regular file: render3d only replaces regular "
            "files; write to a file and copy it there"
        )
    if extensions and path.suffix.lower() not in extensions:
        given = f"extension {path.suffix!r}" if path.suffix else "no extension"
        raise OutputSpecError(
            f"{path}: {given} is not an output format render3d writes; use one of {', '.join(extensions)}"
        )
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(f"{path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: the folder {folder} is not writable (read-only file system or no permission)")
    if estimate > 0:
        free = shutil.disk_usage(folder).free
        if free < estimate:
            raise OutputError(f"{path}: needs about {_size(estimate)}, only {_size(free)} free in {folder}")
    if folder == target.parent:
        sweep_stale_temps(folder)
    return target


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, suffix: str = "") -> Iterator[Path]:
    """Yield a temp path beside ``path``'s real target; it replaces the target when the block succeeds.

    ``suffix`` ends the temp name, for writers that choose a format by extension (``".png"``).
    The temp name starts with a dot and holds ``render3d-tmp``, so checkpoint discovery and globs
    for ``*.pt`` never pick it up. A replaced file keeps its permission bits. Write failures that
    concern the output (disk full, read-only, file too large) become one-line :class:`OutputError`;
    the target is then unchanged and the temp file gone.
    """
    path = Path(path)
    target = check_output(path)
    tmp = target.with_name(f".{target.name}.{TEMP_TAG}-{HOST_TAG}-{os.getpid()}-{secrets.token_hex(4)}{suffix}")
    existed = target.exists()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"could not create the folder of {path}: {exc.strerror or exc}") from None
    ours = {str(tmp), str(target)}
    try:
        yield tmp
        if existed:
            try:
                os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
            except OSError:
                pass
        _fsync(tmp)  # the bytes are on disk before the name points at them (power loss, crash)
        exit_if_terminated()
        os.replace(tmp, target)
        _fsync(target.parent, folder=True)
    except OSError as exc:
        if isinstance(exc, Render3DError) or not (exc.errno in _WRITE_ERRNOS or str(exc.filename) in ours):
            raise
        kept = "the existing file was left unchanged" if existed else "nothing was written"
        raise OutputError(f"could not write {path}: {exc.strerror or exc}; {kept}") from exc
    finally:
        _remove_quietly(tmp)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode())


#: the exit status a SIGTERM asked for, once one arrived (see :func:`cleanup_on_sigterm`)
_terminated: int | None = None


def exit_if_terminated() -> None:
    """Raise the SIGTERM's ``SystemExit`` again. The handler's own raise is lost when the signal lands
    while Python runs a finaliser or ``__del__`` (their exceptions are only printed), so long loops call
    this per step and :func:`atomic_path` before it replaces a file: a terminated run never writes."""
    if _terminated is not None:
        raise SystemExit(_terminated)


def cleanup_on_sigterm() -> None:
    """Make SIGTERM exit through ``finally`` blocks (status 143), so temp files and encoders are
    cleaned up as on Ctrl-C. A handler installed before is called first; an ignored SIGTERM stays
    ignored. For command-line entry points: a library must not take over the process's signals.
    """
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN or getattr(previous, "render3d_cleanup", False):
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        global _terminated
        _terminated = 128 + signum
        if callable(previous):
            previous(signum, frame)
        raise SystemExit(_terminated)

    terminate.render3d_cleanup = True  # type: ignore[attr-defined]  # installed once per process
    signal.signal(signal.SIGTERM, terminate)
