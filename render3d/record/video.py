"""Frames → video file through imageio-ffmpeg's bundled ffmpeg, trusted only once it decodes.

imageio's own writer never looks at ffmpeg's exit status: when the disk fills while ffmpeg writes
the MP4 trailer (the ``moov`` atom, written last), it returns normally and the caller renames an
unplayable file over a good one. So ffmpeg is run here directly: :meth:`FrameWriter.close` raises
unless ffmpeg exited 0, and :func:`verify_video` decodes the container and counts its frames before
anyone may rename it. Failures are ``OSError`` naming the file, which
:func:`render3d.atomic.atomic_path` turns into one line while leaving the old file in place.

MP4: libx264, yuv420p, ``-preset ultrafast``, ``+faststart`` (browsers play while loading). GIF:
one palette computed over all frames (``palettegen``/``paletteuse``), looping.

A video rendered in parts (``render3d animate --workers``) is one MP4 segment per contiguous frame
range, each encoded with these same settings, joined by :func:`concat_videos` with ffmpeg's concat
demuxer without re-encoding (``-c copy``): the frames are exactly the segments' frames.
"""

from __future__ import annotations

import errno
import os
import queue
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from render3d.atomic import atomic_path, exit_if_terminated

__all__ = ["FFMPEG_PARAMS", "FrameWriter", "concat_videos", "open_writer", "video_bytes", "verify_video", "write_video"]

FFMPEG_PARAMS = ["-preset", "ultrafast", "-crf", "23", "-movflags", "+faststart"]
_CODEC_ARGS = {
    ".mp4": ["-vcodec", "libx264", "-pix_fmt", "yuv420p", *FFMPEG_PARAMS],
    ".gif": ["-vf", "split[a][b];[a]palettegen[p];[b][p]paletteuse", "-loop", "0"],
}
# Measured: a 320×192 animation of the test recording is ~0.06 byte per pixel per frame in MP4;
# GIF about four times that. Estimates for the free-space check, not promises.
_BYTES_PER_PIXEL_FRAME = {".mp4": 1 / 16, ".gif": 1 / 4}
_FFMPEG_PREFIX = re.compile(r"^\[[^]]*@ 0x[0-9a-f]+\]\s*")


def video_bytes(path: str | os.PathLike[str], frames: int, size: tuple[int, int]) -> int:
    """Rough size of a ``frames``-frame video at ``size`` in ``path``'s format (for free-space checks)."""
    return int(frames * size[0] * size[1] * _BYTES_PER_PIXEL_FRAME.get(Path(path).suffix.lower(), 1 / 16))


def _last_line(text: str) -> str:
    """ffmpeg's last message without its ``[mp4 @ 0x55d0...]`` prefix ("" when it said nothing)."""
    lines = [_FFMPEG_PREFIX.sub("", ln).strip() for ln in text.splitlines()]
    return next((ln for ln in reversed(lines) if ln), "")


def _failure(path: Path, detail: str) -> OSError:
    """The error a failed encode raises: an OSError on ``path``, as a failing ``write`` would give."""
    return OSError(errno.EIO, detail, str(path))


class FrameWriter:
    """ffmpeg fed raw RGB frames from a background thread, so the next frame renders while the
    previous one goes down the pipe (a 1280×720 frame is 2.7 MB: a write blocks until ffmpeg has read
    it all). ffmpeg starts on the first frame, whose size fixes the video's. ``append_data`` re-raises
    an error of the thread; ``close`` finishes the file and checks ffmpeg's exit status; ``abort``
    stops ffmpeg at once (it must not finish, or recreate, a file being abandoned).
    """

    def __init__(self, path: str | os.PathLike[str], fps: float, *, queue_size: int = 3) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in _CODEC_ARGS:
            raise ValueError(f"{self.path}: video format {self.path.suffix!r} unknown; use .mp4 or .gif")
        self.fps = float(fps)
        self.frames = 0
        self._shape: tuple[int, ...] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr = tempfile.TemporaryFile()
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=queue_size)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="render3d-video", daemon=True)

    def _start(self, shape: tuple[int, ...]) -> None:
        import imageio_ffmpeg

        height, width = shape[:2]
        cmd = [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-y",
            "-v",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-r",
            repr(self.fps),
            "-i",
            "-",
            "-an",
            *_CODEC_ARGS[self.path.suffix.lower()],
            str(self.path),
        ]
        # Own session: Ctrl-C in a terminal reaches Python only, which then decides ffmpeg's fate.
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr, start_new_session=True
        )
        self._shape = shape
        self._thread.start()

    def _run(self) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        while (frame := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._proc.stdin.write(frame.data)  # the array's own bytes: no 2.7 MB copy per frame
                except BaseException as exc:  # handed to the caller on its next call
                    self._error = exc

    def append_data(self, frame: np.ndarray) -> None:
        """Queue one (H, W, 3|4) uint8 frame; every frame must have the first one's size."""
        exit_if_terminated()
        frame = np.ascontiguousarray(np.asarray(frame, dtype=np.uint8)[..., :3])
        if self._shape is None:
            self._start(frame.shape)
        elif frame.shape != self._shape:
            raise ValueError(
                f"frame {self.frames} is {frame.shape[1]}x{frame.shape[0]}, the video is "
                f"{self._shape[1]}x{self._shape[0]}"
            )
        if self._error is not None:  # ffmpeg closed its input: it is exiting, and says why
            self._finish()
        self._queue.put(frame)
        self.frames += 1

    def _drain(self) -> int:
        """Send the end marker, close ffmpeg's input and wait for it; returns its exit status."""
        assert self._proc is not None and self._proc.stdin is not None
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        try:
            self._proc.stdin.close()
        except OSError:  # ffmpeg already gone: its exit status tells why
            pass
        return self._proc.wait()

    def _finish(self) -> None:
        """Wait for ffmpeg; raise ``OSError`` with its last words unless it took every frame and exited 0."""
        try:
            status = self._drain()
            if self._error is not None or status != 0:
                how = f"killed by signal {-status}" if status < 0 else f"exited with status {status}"
                self._stderr.seek(0)
                said = _last_line(self._stderr.read().decode(errors="replace"))
                raise _failure(self.path, f"ffmpeg {how}: {said}" if said else f"ffmpeg {how}") from self._error
        finally:
            self._stderr.close()

    def close(self) -> None:
        """Finish the file; raise ``OSError`` unless every frame went in and ffmpeg exited with 0."""
        if self._proc is None:
            self._stderr.close()
            raise _failure(self.path, "no frames were written")
        self._finish()

    def abort(self) -> None:
        """Kill ffmpeg and wait for it; safe to call more than once, and after ``close``."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._drain()
        self._stderr.close()


def open_writer(path: str | os.PathLike[str], fps: float) -> FrameWriter:
    """A :class:`FrameWriter` for ``path`` (``.mp4``: browser-playable H.264; ``.gif``)."""
    return FrameWriter(path, fps)


def verify_video(path: str | os.PathLike[str], frames: int) -> None:
    """Raise ``OSError`` unless ``path`` is a complete video of ``frames`` frames (ffmpeg remuxes it
    to nowhere: the container must parse and every frame must be there)."""
    import imageio_ffmpeg

    try:
        found, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except (RuntimeError, OSError) as exc:
        raise _failure(Path(path), f"the encoded video does not decode ({_last_line(str(exc)) or exc})") from None
    if found != frames:
        raise _failure(Path(path), f"the encoded video holds {found} frames, {frames} were written")


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    total: int | None = None,
    progress: bool = False,
    desc: str = "video",
) -> int:
    """Encode ``frames`` into ``path`` (by its extension) and return how many went in. The video is
    written to a temp file beside ``path``, must finish (ffmpeg exit 0) and decode to every frame, and
    only then replaces ``path``; on any error or interruption ``path`` is left as it was."""
    from tqdm import tqdm

    path = Path(path)
    with atomic_path(path, suffix=path.suffix) as tmp:  # ffmpeg picks the container by suffix
        writer = open_writer(tmp, fps)
        try:
            with tqdm(total=total, desc=desc, unit="frame", disable=not progress, leave=False) as bar:
                for image in frames:
                    writer.append_data(image)
                    bar.update()
            writer.close()
        except BaseException:  # stop ffmpeg before the temp file goes, or it writes it again
            writer.abort()
            raise
        verify_video(tmp, writer.frames)
    return writer.frames


def concat_videos(segments: Sequence[str | os.PathLike[str]], path: str | os.PathLike[str]) -> None:
    """Join MP4 ``segments`` (encoded with identical settings) into ``path`` without re-encoding
    (ffmpeg's concat demuxer, ``-c copy``); ``OSError`` naming ``path`` unless ffmpeg exited 0."""
    import imageio_ffmpeg

    path = Path(path)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        for segment in segments:  # the demuxer's quoting: ' closes, \' is a quote, ' reopens
            listing.write("file '" + str(Path(segment).resolve()).replace("'", "'\\''") + "'\n")
    try:
        done = subprocess.run(
            [
                imageio_ffmpeg.get_ffmpeg_exe(),
                "-y",
                "-v",
                "error",
                "-f",
                "concat",
                "-safe",
                "0",
                "-i",
                listing.name,
                "-c",
                "copy",
                "-movflags",
                "+faststart",
                str(path),
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            start_new_session=True,
        )
    finally:
        os.unlink(listing.name)
    if done.returncode != 0:
        said = _last_line(done.stderr)
        raise _failure(path, f"ffmpeg could not join {len(segments)} segments: {said or f'status {done.returncode}'}")
