"""Faults while writing outputs: a full disk at several points of an MP4 and a PNG, SIGTERM/SIGKILL of
``render3d animate`` mid-write, symlinks, FIFOs, device nodes, folders and read-only folders as outputs,
formats by extension, absurd sizes and frame rates. Each case checks the one-line error, the exit code
where a command runs, and that every file that was there before is byte-identical afterwards.

A full or read-only disk is a real small tmpfs where this process may mount one (root); elsewhere a
per-file size limit (``RLIMIT_FSIZE``, inherited by ffmpeg) or a refused permission stands in.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import resource
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
from record_fixtures import make_recording, tiny_model, train_steps
from render_fixtures import small_scene

from render3d import atomic
from render3d.checkpoints import save_checkpoint
from render3d.cli import main
from render3d.errors import OutputError, OutputSpecError
from render3d.limits import FALLBACK_MAX_SIDE
from render3d.record import animate as anim
from render3d.record.animate import animate_recording
from render3d.record.video import FrameWriter
from render3d.rendering import render_png
from render3d.rendering.png import write_image

SIZE = (320, 192)
LEFT_UNCHANGED = "; the existing file was left unchanged"


def files_in(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) with its sha256: the "nothing changed" witness."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def one_error_line(err: str, name: str, message: str) -> None:
    """``err`` is exactly one line, ``[render3d CMD: ]NAME: MESSAGE`` (``message`` a regex), progress bars
    (redrawn with carriage returns) aside."""
    lines = [ln.strip() for ln in re.split(r"[\r\n]", err) if ln.strip() and not re.match(r"\s*\w+:\s+\d+%\|", ln)]
    assert len(lines) == 1, err
    assert re.fullmatch(rf"(render3d \w+: )?{name}: {message}", lines[0]), lines[0]


@cache
def can_mount() -> bool:
    folder = Path(tempfile.mkdtemp(prefix="render3d-test-mnt-"))
    try:
        ok = (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True
            ).returncode
            == 0
        )
        if ok:
            subprocess.run(["umount", str(folder)], check=True)
        return ok
    except OSError:
        return False
    finally:
        folder.rmdir()


@contextmanager
def tmpfs(folder: Path, size: int) -> Iterator[Path]:
    folder.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={max(size, 4096)}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


@contextmanager
def room_for(folder: Path, files: dict[str, bytes], room: int) -> Iterator[Path]:
    """``folder`` holding ``files``, where writing more than ~``room`` new bytes fails (disk full)."""
    pages = sum(-(-len(data) // 4096) for data in files.values()) * 4096
    if can_mount():
        with tmpfs(folder, pages + room // 4096 * 4096):
            for name, data in files.items():
                (folder / name).write_bytes(data)
            yield folder
        return
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (room, hard))
    try:
        yield folder
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


@contextmanager
def read_only(folder: Path, files: dict[str, bytes], monkeypatch) -> Iterator[Path]:
    """``folder`` holding ``files`` on a read-only file system (or without write permission)."""
    if can_mount():
        with tmpfs(folder, 1 << 20):
            for name, data in files.items():
                (folder / name).write_bytes(data)
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
            yield folder
        return
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    real = os.access  # root ignores permission bits: refuse writing there instead
    monkeypatch.setattr(atomic.os, "access", lambda p, mode: False if Path(p) == folder else real(p, mode))
    yield folder


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    return make_recording(tmp_path_factory.mktemp("faults") / "rec", 3)


@pytest.fixture(scope="module")
def good_mp4(recording, tmp_path_factory) -> bytes:
    """The bytes of a complete, playable video of ``recording``: the "old file" faults must keep."""
    out = tmp_path_factory.mktemp("good") / "v.mp4"
    animate_recording(recording, out, fps=10, frames_per_epoch=4, size=SIZE, progress=False)
    return out.read_bytes()


@pytest.fixture(scope="module")
def cli_inputs(tmp_path_factory) -> tuple[Path, Path]:
    """A model file and two checkpoints for ``render3d animate``."""
    root = tmp_path_factory.mktemp("cli")
    model = tiny_model()
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for epoch in (1, 2):
        save_checkpoint(model, root / "ckpt" / f"e{epoch}.pt", epoch=epoch, loss=train_steps(model, opt, steps=2))
    (root / "net.py").write_text("from render3d.models import DigitsCNN\ndef tiny():\n    return DigitsCNN(width=4)\n")
    return root / "net.py", root / "ckpt"


# --- disk full ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.95])
def test_disk_full_while_encoding_keeps_the_old_mp4(recording, good_mp4, tmp_path, monkeypatch, fraction, capsys):
    monkeypatch.setattr(anim, "video_bytes", lambda *a: 0)  # the disk fills after the free-space check
    with room_for(tmp_path / "disk", {"v.mp4": good_mp4}, int(len(good_mp4) * fraction)) as disk:
        before = files_in(disk)
        with pytest.raises(OutputError) as info:
            animate_recording(recording, disk / "v.mp4", fps=10, frames_per_epoch=4, size=SIZE, progress=False)
        assert files_in(disk) == before
    message = str(info.value)
    assert "\n" not in message
    assert re.fullmatch(
        rf"could not write {re.escape(str(disk / 'v.mp4'))}: ffmpeg "
        rf"(exited with status \d+|killed by signal \d+)(: .+)?{LEFT_UNCHANGED}",
        message,
    )
    assert "wrote" not in capsys.readouterr().out


def test_cli_animate_on_a_full_disk_is_one_line_and_exit_1(cli_inputs, good_mp4, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(anim, "video_bytes", lambda *a: 0)  # the disk fills after the free-space check
    model, ckpt = cli_inputs
    with room_for(tmp_path / "disk", {"v.mp4": good_mp4}, 24 * 1024) as disk:  # the snapshots (18 KB) fit
        before = files_in(disk)
        code = main(
            [
                "animate",
                f"{model}:tiny",
                "--checkpoints",
                str(ckpt),
                "--probe",
                "digit:3",
                "-o",
                str(disk / "v.mp4"),
                "--size",
                "320x192",
                "--frames-per-epoch",
                "12",
                "--fps",
                "10",
            ]
        )
        captured = capsys.readouterr()
        assert files_in(disk) == before
    one_error_line(
        captured.err,
        "OutputError",
        rf"could not write {re.escape(str(disk / 'v.mp4'))}: ffmpeg "
        rf"(exited with status \d+|killed by signal \d+)(: .+)?{LEFT_UNCHANGED}",
    )
    assert code == 1 and "wrote" not in captured.out


def test_too_little_free_space_is_refused_before_any_frame(recording, good_mp4, tmp_path, monkeypatch):
    (tmp_path / "v.mp4").write_bytes(good_mp4)
    before = files_in(tmp_path)
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda p: type("U", (), {"free": 10_000})())
    monkeypatch.setattr(anim, "Player", lambda *a, **k: pytest.fail("a frame was drawn"))
    with pytest.raises(
        OutputError,
        match=rf"^{re.escape(str(tmp_path / 'v.mp4'))}: needs about 34 KB, only 10 KB "
        rf"free in {re.escape(str(tmp_path))}$",
    ):
        animate_recording(recording, tmp_path / "v.mp4", fps=10, frames_per_epoch=4, size=SIZE, progress=False)
    assert files_in(tmp_path) == before


def test_disk_full_while_writing_a_png_keeps_the_old_one(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (192, 320, 3), dtype=np.uint8)  # ~180 KB as PNG
    old = b"\x89PNG old image"
    with room_for(tmp_path / "disk", {"a.png": old}, 16 * 1024) as disk:
        before = files_in(disk)
        with pytest.raises(OutputError) as info:
            write_image(disk / "a.png", image)
        assert files_in(disk) == before
    reason = "No space left on device" if can_mount() else "File too large"
    assert str(info.value) == f"could not write {disk / 'a.png'}: {reason}{LEFT_UNCHANGED}"


def test_ffmpeg_dying_mid_stream_is_an_error_not_a_video(tmp_path):
    writer = FrameWriter(tmp_path / "v.mp4", 10)
    frame = np.zeros((64, 64, 3), np.uint8)
    writer.append_data(frame)
    writer._proc.kill()
    with pytest.raises(OSError, match=r"^\[Errno 5\] ffmpeg killed by signal 9"):
        for _ in range(50):  # the pipe notices on a later frame
            writer.append_data(frame)
            time.sleep(0.01)
        writer.close()
    writer.abort()


# --- signals ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signalled(cli_inputs, tmp_path_factory) -> dict[int, tuple[subprocess.CompletedProcess, int, Path, bytes]]:
    """``render3d animate`` over an existing ``v.mp4``, one run SIGTERMed and one SIGKILLed once its temp
    video exists (both at once: they share the start-up cost); by signal: (process, pid, folder, old bytes)."""
    model, ckpt = cli_inputs
    env = {**os.environ, "PYVISTA_OFF_SCREEN": "true"}
    runs = {}
    for signum in (signal.SIGTERM, signal.SIGKILL):
        folder = tmp_path_factory.mktemp(signal.Signals(signum).name)
        old = f"old video {signum}".encode()
        (folder / "v.mp4").write_bytes(old)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "render3d.cli",
                "animate",
                f"{model}:tiny",
                "--checkpoints",
                str(ckpt),
                "--probe",
                "digit:3",
                "-o",
                str(folder / "v.mp4"),
                "--size",
                "320x192",
                "--frames-per-epoch",
                "2000",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        runs[signum] = (proc, folder, old)
    deadline = time.monotonic() + 240
    pending = dict(runs)
    while pending:
        for signum, (proc, folder, _) in list(pending.items()):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            if list(folder.glob(".v.mp4.render3d-tmp-*")):
                time.sleep(0.3)  # frames going down the pipe
                proc.send_signal(signum)
                del pending[signum]
        time.sleep(0.05)
    done = {}
    for signum, (proc, folder, old) in runs.items():
        stdout, stderr = proc.communicate(timeout=60)
        done[signum] = (subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), proc.pid, folder, old)
    time.sleep(0.5)  # an ffmpeg that outlived render3d would write now
    return done


def _rec_folders(pid: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"render3d-rec-*-{pid}-*"))


def test_sigterm_mid_write_exits_143_and_leaves_only_the_old_file(signalled):
    proc, pid, folder, old = signalled[signal.SIGTERM]
    assert proc.returncode == 128 + signal.SIGTERM
    assert "Traceback" not in proc.stderr and "wrote" not in proc.stdout
    assert files_in(folder) == {"v.mp4": hashlib.sha256(old).hexdigest()}
    assert _rec_folders(pid) == []


def test_sigkill_mid_write_leaves_the_old_file_and_the_next_run_cleans_up(signalled):
    proc, pid, folder, old = signalled[signal.SIGKILL]
    assert proc.returncode == -signal.SIGKILL
    left = sorted(p.name for p in folder.iterdir())
    assert left[1:] == ["v.mp4"] and left[0].startswith(".v.mp4.render3d-tmp-")
    assert (folder / "v.mp4").read_bytes() == old and len(_rec_folders(pid)) == 1
    atomic.check_output(folder / "v.mp4", extensions=atomic.VIDEO_EXTENSIONS)  # the next start ...
    with atomic.private_temp_dir("rec"):
        pass
    assert sorted(p.name for p in folder.iterdir()) == ["v.mp4"]  # ... removes the dead run's temp files
    assert _rec_folders(pid) == []


def test_stale_temps_of_dead_processes_are_swept_live_ones_kept(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = atomic.HOST_TAG
    names = {
        f".a.png.render3d-tmp-{host}-{dead.pid}-0badcafe.png": False,  # removed
        f".a.png.render3d-tmp-{host}-{os.getpid()}-0badcafe.png": True,  # this process: alive
        f".a.png.render3d-tmp-ffffff-{dead.pid}-0badcafe.png": True,  # another host's
        "user.png": True,
    }
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    stale_dir = Path(tempfile.gettempdir()) / f"render3d-rec-{host}-{dead.pid}-test"
    stale_dir.mkdir()
    atomic.check_output(tmp_path / "a.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n, keep in names.items() if keep)
    with atomic.private_temp_dir("rec") as folder:
        assert folder.name.startswith(f"render3d-rec-{host}-{os.getpid()}-") and folder.is_dir()
        assert not stale_dir.exists()
    assert not folder.exists()


def test_cleanup_that_fails_does_not_hide_the_first_error(tmp_path, monkeypatch):
    (tmp_path / "a.json").write_text("old")

    def refuse(self, missing_ok=False):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    with pytest.raises(RuntimeError, match="^the writer failed$"):
        with atomic.atomic_path(tmp_path / "a.json") as tmp:
            tmp.write_text("half")
            monkeypatch.setattr(Path, "unlink", refuse)
            raise RuntimeError("the writer failed")
    monkeypatch.undo()
    assert (tmp_path / "a.json").read_text() == "old"


# --- what is at the output path ----------------------------------------------------------------------


def test_symlink_output_is_written_through(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "picture.png"
    target.write_bytes(b"old")
    link = tmp_path / "link.png"
    link.symlink_to(target)
    assert render_png(small_scene(), link, size=(160, 96)) == link
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["link.png", "picture.png", "real"]


def _special_files(folder: Path) -> dict[str, str]:
    """A FIFO and a device-like node (a character device where allowed, else a socket) in ``folder``."""
    os.mkfifo(folder / "pipe.png")
    try:
        os.mknod(folder / "null.png", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        kind = "character device"
    except PermissionError:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(folder / "null.png"))
        sock.close()
        kind = "socket"
    return {"pipe.png": "FIFO (named pipe)", "null.png": kind}


@pytest.mark.parametrize("name", ["pipe.png", "null.png"])
def test_fifo_and_device_outputs_are_refused_before_rendering(name, tmp_path, capsys):
    folder = Path(tempfile.mkdtemp(prefix="r3d-"))  # short: socket paths are limited to 108 bytes
    try:
        kind = _special_files(folder)[name]
        mode = os.lstat(folder / name).st_mode
        code = main(["render", "render3d:SeedCNN", "-o", str(folder / name), "--size", "320x192"])
        one_error_line(
            capsys.readouterr().err,
            "OutputError",
            re.escape(
                f"{folder / name} is a {kind}, not a regular file: render3d only replaces "
                "regular files; write to a file and copy it there"
            ),
        )
        assert code == 1 and os.lstat(folder / name).st_mode == mode
        assert sorted(p.name for p in folder.iterdir()) == ["null.png", "pipe.png"]
    finally:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()


def test_folder_output_is_refused_before_rendering(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("user data")
    before = files_in(tmp_path)
    code = main(["render", "render3d:SeedCNN", "-o", str(tmp_path / "out")])
    one_error_line(
        capsys.readouterr().err,
        "OutputError",
        re.escape(f"{tmp_path / 'out'} is a folder: give a file name, e.g. {tmp_path / 'out' / 'out.png'}"),
    )
    assert code == 1 and files_in(tmp_path) == before


def test_read_only_folder_is_refused_before_any_checkpoint_is_read(cli_inputs, good_mp4, tmp_path, monkeypatch, capsys):
    model, ckpt = cli_inputs
    with read_only(tmp_path / "ro", {"v.mp4": good_mp4}, monkeypatch) as folder:
        before = files_in(folder)
        code = main(["animate", f"{model}:tiny", "--checkpoints", str(ckpt), "-o", str(folder / "v.mp4")])
        one_error_line(
            capsys.readouterr().err,
            "OutputError",
            re.escape(
                f"{folder / 'v.mp4'}: the folder {folder} is not writable (read-only file system or no permission)"
            ),
        )
        assert code == 1 and files_in(folder) == before


# --- formats and bounds --------------------------------------------------------------------------------


def test_jpg_extension_writes_jpeg_bytes(tmp_path):
    from PIL import Image

    out = render_png(small_scene(), tmp_path / "a.jpg", size=(160, 96))
    assert out.read_bytes()[:3] == b"\xff\xd8\xff"
    with Image.open(out) as image:
        assert (image.format, image.size) == ("JPEG", (160, 96))


def test_unknown_extension_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "a.bmp").write_bytes(b"user")
    before = files_in(tmp_path)
    code = main(["render", "render3d:SeedCNN", "-o", str(tmp_path / "a.bmp")])
    one_error_line(
        capsys.readouterr().err,
        "OutputSpecError",
        re.escape(
            f"{tmp_path / 'a.bmp'}: extension '.bmp' is not an output format render3d writes; "
            "use one of .png, .jpg, .jpeg"
        ),
    )
    assert code == 2 and files_in(tmp_path) == before


def test_gif_animation_decodes_to_every_frame(recording, tmp_path):
    import imageio_ffmpeg

    out = animate_recording(recording, tmp_path / "v.gif", fps=10, frames_per_epoch=2, size=(160, 96), progress=False)
    assert out.read_bytes()[:6] == b"GIF89a"
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 5


@pytest.mark.parametrize(
    "size, message",
    [
        (
            (100000, 100000),
            f"size 100000x100000 is too large: the OpenGL limit here is {FALLBACK_MAX_SIDE} pixels per side",
        ),
        ((16400, 300), f"size 16400x300 is too large: the OpenGL limit here is {FALLBACK_MAX_SIDE} pixels per side"),
        ((-5, 10), "size -5x10 is not valid: width and height must be at least 1 pixel"),
        ((0, 0), "size 0x0 is not valid: width and height must be at least 1 pixel"),
        ((1.5, 10), "size 1.5x10 is not valid: width and height must be whole numbers of pixels, e.g. 1920x1080"),
    ],
)
def test_absurd_sizes_are_one_line_before_allocating(size, message, tmp_path):
    (tmp_path / "a.png").write_bytes(b"old")
    start = time.perf_counter()
    with pytest.raises(OutputSpecError) as info:
        render_png(small_scene(), tmp_path / "a.png", size=size)
    assert str(info.value) == message
    assert time.perf_counter() - start < 5 and (tmp_path / "a.png").read_bytes() == b"old"


def test_size_beyond_available_memory_is_refused(tmp_path, monkeypatch):
    import render3d.limits as limits

    monkeypatch.setattr(limits, "available_memory", lambda: 2**30)
    with pytest.raises(
        OutputSpecError,
        match=r"^size 8000x8000 needs about 4\.1 GiB to render, only 1\.0 GiB of "
        r"memory is available; use a smaller size$",
    ):
        render_png(small_scene(), tmp_path / "a.png", size=(8000, 8000))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fps", [0, float("nan"), 1e9, -1])
def test_bad_frame_rates_are_refused_before_any_frame(fps, recording, tmp_path):
    with pytest.raises(OutputSpecError, match=r"^fps .+ is not valid: give a frame rate above 0 and at most 240$"):
        animate_recording(recording, tmp_path / "v.mp4", fps=fps, size=SIZE, progress=False)
    assert list(tmp_path.iterdir()) == []


def _fake_gl_probe(monkeypatch, stdout: str):
    """The GL probe subprocess replaced by one that printed ``stdout``, nothing of an earlier probe kept."""
    from render3d.rendering import glcheck

    class Probe:
        returncode = 0

        def communicate(self, timeout=None):
            return stdout, ""

    monkeypatch.setattr(glcheck, "_cached", None)
    monkeypatch.setattr(glcheck, "_pending", None)
    monkeypatch.setattr(glcheck, "_max_side", None)
    monkeypatch.setattr(glcheck.subprocess, "Popen", lambda *a, **k: Probe())
    return glcheck


def test_the_gl_probe_reports_the_context_limit_and_sizes_obey_it(monkeypatch, tmp_path):
    glcheck = _fake_gl_probe(monkeypatch, "render3d-gl-ok vtkEGLRenderWindow\nrender3d-gl-max 8192\n")
    assert glcheck.gl_max_size() == 8192
    with pytest.raises(
        OutputSpecError,
        match=r"^size 8200x100 is too large: the OpenGL limit here is 8192 pixels "
        r"per side$",
    ):
        render_png(small_scene(), tmp_path / "a.png", size=(8200, 100))
    assert list(tmp_path.iterdir()) == []


def test_a_gl_probe_that_cannot_read_the_limit_falls_back_to_the_safe_size(monkeypatch):
    from render3d.limits import FALLBACK_MAX_SIDE

    # the context worked, the limit query raised inside the probe: no "render3d-gl-max" line
    glcheck = _fake_gl_probe(monkeypatch, "render3d-gl-ok vtkEGLRenderWindow\n")
    assert glcheck.gl_max_size() == FALLBACK_MAX_SIDE


def test_a_video_that_does_not_decode_is_never_trusted(good_mp4, tmp_path):
    from render3d.record.video import verify_video

    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good_mp4[: len(good_mp4) // 2])
    with pytest.raises(OSError, match=r"^\[Errno 5\] the encoded video does not decode \(.+\): '.+cut\.mp4'$"):
        verify_video(cut, 9)
    (tmp_path / "v.mp4").write_bytes(good_mp4)
    with pytest.raises(OSError, match=r"^\[Errno 5\] the encoded video holds 9 frames, 10 were written: "):
        verify_video(tmp_path / "v.mp4", 10)
    verify_video(tmp_path / "v.mp4", 9)


def test_render_api_checks_the_output_before_tracing(tmp_path, monkeypatch):
    import render3d
    import render3d.api as api

    monkeypatch.setattr(api, "to_scene", lambda *a, **k: pytest.fail("traced before the output was checked"))
    (tmp_path / "out.png").mkdir()
    with pytest.raises(OutputError, match=rf"^{re.escape(str(tmp_path / 'out.png'))} is a folder: "):
        render3d.render(tiny_model(), path=tmp_path / "out.png")
    with pytest.raises(OutputSpecError, match=r"^size 0x5 is not valid: "):
        render3d.render(tiny_model(), path=tmp_path / "a.png", size=(0, 5))
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_a_sigterm_whose_raise_was_lost_still_stops_the_write(tmp_path, monkeypatch):
    # the handler's SystemExit vanishes when the signal lands inside a finaliser; the flag it set stays
    target = tmp_path / "a.png"
    target.write_bytes(b"old")
    monkeypatch.setattr(atomic, "_terminated", 143)
    with pytest.raises(SystemExit) as stopped:
        atomic.atomic_write_bytes(target, b"new")
    assert stopped.value.code == 143
    assert files_in(tmp_path) == {"a.png": hashlib.sha256(b"old").hexdigest()}


def test_a_temp_name_with_an_impossible_pid_is_swept_not_an_error(tmp_path):
    # os.kill raises OverflowError for a 20-digit pid: the sweep before every write must not
    odd = tmp_path / f".a.png.render3d-tmp-{atomic.HOST_TAG}-99999999999999999999-0badcafe.png"
    odd.write_bytes(b"x")
    atomic.atomic_write_bytes(tmp_path / "a.png", b"new")
    assert files_in(tmp_path) == {"a.png": hashlib.sha256(b"new").hexdigest()}
