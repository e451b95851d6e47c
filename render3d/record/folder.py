"""Which files in a recording folder are render3d's, and replacing a recording only after success.

render3d deletes or replaces only what it can prove it wrote: the files a valid manifest lists,
its lock, and its own temp files. A folder holding anything else is refused before any work, so
a user's data is never touched; a new recording is built in a temp folder beside the target and
swapped in only when it is complete, so a failure leaves the old recording as it was.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from render3d.atomic import HOST_TAG, is_temp_name, stale_match
from render3d.errors import OutputError, RecordingError
from render3d.record import store
from render3d.record.lock import LOCK, describe, is_stale, read_lock

__all__ = [
    "check_replaceable",
    "name_list",
    "new_recording_folder",
    "owned_names",
    "read_checked",
    "refuse_foreign",
    "remove_owned",
]

#: the only names a recorder writes (store.snapshot_name, store.graph_name, store.PROBE_FILE)
_OWN_NAME = re.compile(r"^(snapshot_\d+\.npz|graph_\d+\.json|probe\.npy)$")


def name_list(names: list[str]) -> str:
    """The first three names and how many more: a one-line error stays one line."""
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def owned_names(manifest: dict | None, stale_lock: dict | None = None) -> set[str]:
    """Names render3d may remove: the files a checked manifest lists, the lock, and the files a dead
    recorder's lock named as being written (its ``pending``)."""
    names = (store.owned_files(manifest) if manifest is not None else set()) | {LOCK}
    for name in (stale_lock or {}).get("pending", []):
        if isinstance(name, str) and _OWN_NAME.match(name):
            names.add(name)
    return names


def refuse_foreign(folder: Path, owned: set[str], *, recording: bool) -> None:
    """RecordingError when ``folder`` holds anything outside ``owned`` (render3d's temp files aside)."""
    foreign = sorted(p.name for p in folder.iterdir() if p.name not in owned and not is_temp_name(p.name))
    if foreign:
        what = "files not listed in its manifest" if recording else "files that are not a render3d recording"
        raise RecordingError(
            f"{folder} holds {what} ({name_list(foreign)}); render3d will not replace them: "
            "choose an empty or new folder"
        )


def read_checked(folder: Path) -> dict | None:
    """The folder's manifest (``None`` when it has none); RecordingError when it cannot be verified."""
    if not (folder / store.MANIFEST).exists():
        return None
    try:
        return store.read_manifest(folder)
    except RecordingError as exc:
        raise RecordingError(
            f"{folder} holds a recording render3d cannot verify ({exc}); move it away or choose another folder"
        ) from None


def check_replaceable(folder: Path) -> set[str]:
    """Refuse (RecordingError) unless ``folder`` is absent, empty, or an idle recording holding only its
    own files; returns the names there that render3d may remove."""
    if not folder.exists():
        return set()
    if not folder.is_dir():
        raise RecordingError(f"{folder} exists and is not a folder; choose a folder for the recording")
    manifest = read_checked(folder)
    lock = read_lock(folder)
    if lock is not None and not is_stale(lock):
        raise RecordingError(f"{folder} is being recorded by {describe(lock)}; choose another folder")
    owned = owned_names(manifest, lock)
    refuse_foreign(folder, owned, recording=manifest is not None)
    return owned


def remove_owned(folder: Path, owned: set[str]) -> None:
    """Delete the files named in ``owned`` and render3d temp files from ``folder``."""
    for p in folder.iterdir():
        if p.name in owned or is_temp_name(p.name):
            p.unlink(missing_ok=True)


@contextmanager
def new_recording_folder(out_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield the folder to record ``out_dir``'s new recording into; refused before any work when
    ``out_dir`` holds anything render3d did not write. The block must close its Recorder.

    An absent or empty ``out_dir`` is recorded into directly, and emptied of the recorder's files
    again (removed if this call created it) when the block fails. An old recording there is kept
    until the block succeeds: the new one goes into a temp folder beside it and is swapped in.
    """
    dest = Path(os.path.realpath(out_dir))
    old = check_replaceable(dest)
    direct = not dest.exists() or not any(dest.iterdir())
    created = not dest.exists()
    tag = f"r3d-{HOST_TAG}-{os.getpid()}-{secrets.token_hex(4)}"
    folder = dest if direct else dest.with_name(f".{dest.name}.{tag}.tmp")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(dest)
        folder.mkdir(exist_ok=direct)
    except OSError as exc:  # read-only, permissions, disk full
        raise OutputError(f"cannot record into {dest}: {exc}") from None
    try:
        yield folder
        if not direct:
            _swap_in(folder, dest, tag, old)
    except BaseException:
        if direct:  # it was empty: everything of the recorder's in it was written by this call
            remove_owned(folder, {p.name for p in folder.iterdir() if _is_recorder_file(p.name)})
            if created:
                _rmdir_if_empty(folder)
        raise
    finally:
        if not direct and folder.exists():  # created by this call and never handed over
            shutil.rmtree(folder, ignore_errors=True)


def _is_recorder_file(name: str) -> bool:
    return name in (store.MANIFEST, LOCK) or _OWN_NAME.match(name) is not None or is_temp_name(name)


def _rmdir_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:  # something else is in there: it stays
        pass


def _remove_leftovers(dest: Path) -> None:
    """Remove the temp folders beside ``dest`` of this host's runs that were killed (SIGKILL skips every
    ``finally``): only the files render3d can prove it wrote there, and the folder when that empties it."""
    name = re.escape(dest.name)
    pattern = re.compile(rf"^\.{name}\.r3d-(?P<host>[0-9a-f]{{6}})-(?P<pid>\d+)-[0-9a-f]{{8}}\.(tmp|old)$")
    for folder in dest.parent.iterdir():
        match = pattern.match(folder.name)
        if not stale_match(match) or folder.is_symlink() or not folder.is_dir():
            continue
        try:
            manifest = read_checked(folder)
            lock = read_lock(folder)
        except RecordingError:  # cannot prove what is in there: leave it
            continue
        if lock is None or is_stale(lock):
            remove_owned(folder, owned_names(manifest, lock))
            _rmdir_if_empty(folder)


def _swap_in(tmp: Path, dest: Path, tag: str, owned: set[str]) -> None:
    if check_replaceable(dest) != owned:  # the old recording changed while the new one was made
        raise RecordingError(
            f"{dest} changed while it was being re-recorded; the new recording was not swapped in: run again"
        )
    old = dest.with_name(f".{dest.name}.{tag}.old")
    os.rename(dest, old)
    os.rename(tmp, dest)
    remove_owned(old, owned)
    _rmdir_if_empty(old)  # a file that appeared there after the check stays, beside the new recording
