"""Recordings under faults and hostile input: nothing the user wrote is touched, every failure is one line.

Covers issue 9 item 2 (locks, resume, never deleting what render3d did not write) and the
recording half of item 6 (manifest schema and snapshot files validated on load).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from record_fixtures import SHAPE, make_recording, tiny_model

from render3d.checkpoints import save_checkpoint
from render3d.cli import main
from render3d.errors import OutputError, RecordingError
from render3d.graph import Trace
from render3d.models import DigitsCNN
from render3d.probe import make_probe
from render3d.record import Recorder, load_recording, record_checkpoints, store
from render3d.record.lock import HOST_TAG, LOCK


def _contents(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes): equal before and after means untouched."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _probe() -> torch.Tensor:
    return make_probe("digit:3", SHAPE)


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    """A valid two-snapshot recording; tests copy it before damaging it."""
    return make_recording(tmp_path_factory.mktemp("faults") / "rec", 2)


@pytest.fixture
def copy(recording, tmp_path) -> Path:
    return Path(shutil.copytree(recording, tmp_path / "rec"))


def _write_manifest(folder: Path, data) -> None:
    (folder / store.MANIFEST).write_text(json.dumps(data))


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


# --- one writer per folder ------------------------------------------------------------------------


def test_second_recorder_on_a_folder_is_refused(tmp_path):
    model = tiny_model()
    first = Recorder(model, _probe(), tmp_path / "rec")
    first.snapshot(1)
    with pytest.raises(RecordingError, match=rf"is being recorded by pid {os.getpid()} on host .*one Recorder per"):
        Recorder(model, _probe(), tmp_path / "rec", resume=True)
    first.snapshot(2)
    first.close()
    assert load_recording(tmp_path / "rec").epochs == [1, 2]


def test_second_run_into_a_finished_recording_needs_resume(copy):
    before = _contents(copy)
    expected = r"already holds a recording \(2 snapshots, epochs 1-2\); pass resume=True"
    with pytest.raises(RecordingError, match=expected):
        Recorder(tiny_model(), _probe(), copy)
    assert _contents(copy) == before


def test_resume_continues_with_later_epochs_only(copy):
    with Recorder(tiny_model(), _probe(), copy, resume=True) as rec:
        with pytest.raises(RecordingError, match="epoch 2 does not come after the last recorded epoch 2"):
            rec.snapshot(2)
        rec.snapshot(3)
    loaded = load_recording(copy)
    assert loaded.epochs == [1, 2, 3]
    runs = [s["run"] for s in loaded.manifest["snapshots"]]
    assert runs[0] == runs[1] != runs[2]


def test_resume_with_a_different_model_graph_is_refused(copy):
    before = _contents(copy)
    torch.manual_seed(0)
    with Recorder(DigitsCNN(width=8), _probe(), copy, resume=True) as rec:  # same class, other shapes
        with pytest.raises(RecordingError, match="is not the one recorded in"):
            rec.snapshot(3)
    assert _contents(copy) == before


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    lock = {
        "pid": _dead_pid(),
        "host": socket.gethostname(),
        "run": "deadbeef0000",
        "started": 0,
        "pending": ["snapshot_0000.npz"],
    }
    (folder / LOCK).write_text(json.dumps(lock))
    (folder / "snapshot_0000.npz").write_bytes(b"half a snapshot")  # its write was cut short
    with Recorder(tiny_model(), _probe(), folder) as rec:
        assert json.loads((folder / LOCK).read_text())["run"] == rec.run
        assert not (folder / "snapshot_0000.npz").exists()
        rec.snapshot(1)
    assert load_recording(folder).epochs == [1] and not (folder / LOCK).exists()


def test_lock_from_another_host_is_refused_with_the_file_to_delete(tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    (folder / LOCK).write_text(json.dumps({"pid": 1, "host": "elsewhere.invalid", "run": "0" * 12, "started": 0}))
    with pytest.raises(RecordingError, match=rf"host elsewhere.invalid .*delete {folder / LOCK}"):
        Recorder(tiny_model(), _probe(), folder)


def test_failed_manifest_write_adds_nothing_and_the_retry_no_duplicate(tmp_path, monkeypatch):
    rec = Recorder(tiny_model(), _probe(), tmp_path / "rec")
    rec.snapshot(1)
    real = store.atomic_write_text
    calls = []

    def fail_once(path, text):
        calls.append(path)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        real(path, text)

    monkeypatch.setattr(store, "atomic_write_text", fail_once)
    with pytest.raises(OutputError, match="snapshot of epoch 2 could not be written .*No space left.*unchanged"):
        rec.snapshot(2)
    assert len(rec) == 1 and not (tmp_path / "rec" / store.snapshot_name(1)).exists()
    rec.snapshot(2)
    rec.close()
    assert load_recording(tmp_path / "rec").epochs == [1, 2]


def test_recorder_refuses_a_folder_with_foreign_files(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.txt").write_text("do not lose me")
    before = _contents(folder)
    for overwrite in (False, True):
        with pytest.raises(RecordingError, match=r"holds files that are not a render3d recording \(thesis.txt\)"):
            Recorder(tiny_model(), _probe(), folder, overwrite=overwrite)
    assert _contents(folder) == before and sorted(os.listdir(folder)) == ["thesis.txt"]


def test_unwritable_recording_folder_is_one_output_error(tmp_path):
    (tmp_path / "file").write_text("x")
    expected = rf"cannot record into {tmp_path / 'file' / 'rec'}: \[Errno 20\] Not a directory"
    with pytest.raises(OutputError, match=expected):
        Recorder(tiny_model(), _probe(), tmp_path / "file" / "rec")


# --- record_checkpoints / --recording DIR / demo -o DIR ---------------------------------------------------


def _checkpoints(folder: Path, n: int = 2) -> Path:
    model = tiny_model()
    for epoch in range(1, n + 1):
        with torch.no_grad():
            model.conv1.weight.mul_(1.1)
        save_checkpoint(model, folder / f"e{epoch}.pt", epoch=epoch, loss=1.0 / epoch)
    return folder


def test_cli_recording_dir_with_a_foreign_file_is_refused_untouched(tmp_path, capsys):
    src = tmp_path / "net.py"
    src.write_text("from render3d.models import DigitsCNN\ndef tiny():\n    return DigitsCNN(width=4)\n")
    folder = tmp_path / "rec"
    folder.mkdir()
    (folder / "notes.txt").write_bytes(b"user data \x00\xff")
    ckpts = _checkpoints(tmp_path / "ckpt")
    before = _contents(tmp_path)
    code = main(
        [
            "animate",
            f"{src}:tiny",
            "--checkpoints",
            str(ckpts),
            "--probe",
            "digit:3",
            "-o",
            str(tmp_path / "v.mp4"),
            "--recording",
            str(folder),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "RecordingError: " in err and "holds files that are not a render3d recording (notes.txt)" in err
    assert _contents(tmp_path) == before and sorted(os.listdir(tmp_path)) == ["ckpt", "net.py", "rec"]


def test_failed_checkpoint_leaves_the_old_recording_intact(tmp_path):
    ckpts = _checkpoints(tmp_path / "ckpt")
    record_checkpoints(tiny_model(), "digit:3", ckpts, tmp_path / "rec", progress=False)
    before = _contents(tmp_path / "rec")
    save_checkpoint(tiny_model(), ckpts / "e3.pt", epoch=1)  # fails after two snapshots were recorded
    with pytest.raises(RecordingError, match=r"e3.pt: epoch 1 is not"):
        record_checkpoints(tiny_model(), "digit:3", ckpts, tmp_path / "rec", progress=False)
    assert _contents(tmp_path / "rec") == before
    assert sorted(os.listdir(tmp_path)) == ["ckpt", "rec"]  # no temp folder left beside it


def test_rerecording_replaces_only_the_old_recordings_files(tmp_path):
    ckpts = _checkpoints(tmp_path / "ckpt", 3)
    record_checkpoints(tiny_model(), "digit:3", [ckpts / "e1.pt"], tmp_path / "rec", progress=False)
    rec = record_checkpoints(tiny_model(), "digit:3", ckpts, tmp_path / "rec", progress=False)
    assert rec.epochs == [1, 2, 3]
    assert sorted(os.listdir(tmp_path)) == ["ckpt", "rec"]
    assert sorted(os.listdir(tmp_path / "rec")) == [
        "manifest.json",
        "probe.npy",
        "snapshot_0000.npz",
        "snapshot_0001.npz",
        "snapshot_0002.npz",
    ]


@pytest.mark.parametrize("existed", [False, True])
def test_failed_recording_into_a_new_or_empty_folder_leaves_it_as_it_was(tmp_path, existed):
    model = tiny_model()
    for name, epoch in (("a.pt", 5), ("b.pt", 5)):
        save_checkpoint(model, tmp_path / "ckpt" / name, epoch=epoch)
    if existed:
        (tmp_path / "rec").mkdir()
    with pytest.raises(RecordingError, match=r"b.pt: epoch 5 is not .* after .*a.pt \(epoch 5\)"):
        record_checkpoints(tiny_model(), "digit:3", tmp_path / "ckpt", tmp_path / "rec", progress=False)
    assert sorted(os.listdir(tmp_path)) == ["ckpt", "rec"] if existed else ["ckpt"]
    assert not existed or os.listdir(tmp_path / "rec") == []


def test_demo_refuses_a_folder_with_user_checkpoints(tmp_path, capsys):
    out = tmp_path / "demo"
    save_checkpoint(DigitsCNN(), out / "checkpoints" / "epoch_05.pt", epoch=5, note=1.0)
    (out / "training.mp4").write_bytes(b"my own video")
    before = _contents(out)
    assert main(["demo", "-o", str(out), "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "OutputError: " in err
    assert "holds files the demo did not write (checkpoints/epoch_05.pt, training.mp4)" in err
    assert _contents(out) == before and sorted(os.listdir(out)) == ["checkpoints", "training.mp4"]


def test_temp_folder_of_a_killed_run_is_removed_at_the_next_start(tmp_path):
    ckpts = _checkpoints(tmp_path / "ckpt", 1)
    dead = _dead_pid()
    killed = tmp_path / f".rec.r3d-{HOST_TAG}-{dead}-0123abcd.tmp"  # what SIGKILL mid-swap leaves beside rec/
    record_checkpoints(tiny_model(), "digit:3", ckpts, killed, progress=False)
    (killed / LOCK).write_text(json.dumps({"pid": dead, "host": socket.gethostname(), "run": "0" * 12}))
    kept = [
        tmp_path / f".rec.r3d-{HOST_TAG}-{os.getpid()}-4567cdef.tmp",  # a live process's
        tmp_path / f".rec.r3d-ffffff-{dead}-89abcdef.tmp",
    ]  # another host's: its pid means nothing here
    for folder in kept:
        folder.mkdir()
    record_checkpoints(tiny_model(), "digit:3", ckpts, tmp_path / "rec", progress=False)
    assert sorted(os.listdir(tmp_path)) == sorted([*(k.name for k in kept), "ckpt", "rec"])


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    from render3d.demo import run_demo

    return run_demo(tmp_path_factory.mktemp("demo") / "out", epochs=2, progress=False).out_dir


def test_demo_rerun_removes_only_its_own_stale_checkpoints(demo_run, tmp_path):
    out = Path(shutil.copytree(demo_run, tmp_path / "out"))
    (out / "checkpoints" / "mine.pt").write_bytes(b"user file")
    assert main(["demo", "-o", str(out), "--epochs", "1"]) == 0
    assert sorted(os.listdir(out / "checkpoints")) == ["epoch_00.pt", "epoch_01.pt", "mine.pt"]
    assert (out / "checkpoints" / "mine.pt").read_bytes() == b"user file"
    assert load_recording(out / "recording").epochs == [0, 1]


def test_demo_file_changed_by_the_user_is_not_replaced(demo_run, tmp_path, capsys):
    out = Path(shutil.copytree(demo_run, tmp_path / "out"))
    (out / "activations.png").write_bytes(b"edited by hand")
    before = _contents(out)
    assert main(["demo", "-o", str(out), "--epochs", "2"]) == 1
    assert "holds files the demo did not write (activations.png)" in capsys.readouterr().err
    assert _contents(out) == before


# --- damaged recordings -------------------------------------------------------------------------------


def _exercise(folder: Path) -> None:
    """Everything the Recording API reads; must succeed or raise RecordingError."""
    rec = load_recording(folder)
    assert len(rec) == len(rec.epochs) == len(rec.metrics)
    rec.probe()
    assert isinstance(rec.graph, Trace)
    for i in range(len(rec)):
        rec.snapshot_graph(i)
        rec.trace(i)
    rec.color_limits()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _mutate(data, draw):
    """``data`` with one value somewhere inside replaced by random JSON, or deleted."""
    if not isinstance(data, (dict, list)) or not data or draw(st.integers(0, 3)) == 0:
        return draw(_JSON)
    keys = list(data) if isinstance(data, dict) else list(range(len(data)))
    key = draw(st.sampled_from(keys))
    out = dict(data) if isinstance(data, dict) else list(data)
    if draw(st.integers(0, 4)) == 0:
        del out[key]
    else:
        out[key] = _mutate(data[key], draw)
    return out


#: database=None: no .hypothesis/ folder in the checkout; the strategies are small enough to cover anew each run
_FUZZ = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_FUZZ
@given(st.one_of(_JSON, st.dictionaries(st.sampled_from(["format", "version", "snapshots", "probe", "graph"]), _JSON)))
def test_random_json_manifest_is_a_recording_error(recording, manifest):
    with tempfile.TemporaryDirectory(dir=recording.parent) as tmp:
        folder = Path(shutil.copytree(recording, Path(tmp) / "rec"))
        _write_manifest(folder, manifest)
        with pytest.raises(RecordingError):
            _exercise(folder)


@_FUZZ
@given(st.data())
def test_mutated_manifest_is_a_recording_or_a_recording_error(recording, data):
    valid = json.loads((recording / store.MANIFEST).read_text())
    mutated = _mutate(valid, data.draw)
    with tempfile.TemporaryDirectory(dir=recording.parent) as tmp:
        folder = Path(shutil.copytree(recording, Path(tmp) / "rec"))
        _write_manifest(folder, mutated)
        try:
            _exercise(folder)
        except RecordingError as exc:
            assert "\n" not in str(exc)


@pytest.mark.parametrize(
    "size, problem",
    [
        (0, "is empty (an interrupted write?)"),
        (200, "is not a readable .npz (truncated?): File is not a zip file"),
        (1000, "is not a readable .npz (truncated?): File is not a zip file"),
    ],
)
def test_truncated_or_empty_snapshot_is_named(copy, size, problem):
    path = copy / "snapshot_0001.npz"
    path.write_bytes(path.read_bytes()[:size])
    with pytest.raises(RecordingError) as info:
        load_recording(copy)
    assert str(info.value) == f"snapshot file {path} {problem}"


def test_damaged_snapshot_data_is_a_recording_error_on_read(copy):
    path = copy / "snapshot_0001.npz"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)  # inside the deflated arrays: CRC or inflate fails
    path.write_bytes(bytes(raw))
    rec = load_recording(copy)
    with pytest.raises(RecordingError, match=rf"snapshot file {path} cannot be read"):
        rec.color_limits()


@pytest.mark.parametrize("name", ["../outside.npz", "/etc/passwd", "", "sub/snapshot_0000.npz"])
def test_snapshot_file_outside_the_folder_is_refused(copy, name):
    manifest = json.loads((copy / store.MANIFEST).read_text())
    manifest["snapshots"][0]["file"] = name
    _write_manifest(copy, manifest)
    with pytest.raises(RecordingError, match=r"snapshots\[0\].file' must be a file name inside the recording"):
        load_recording(copy)


def test_snapshot_symlink_escaping_the_folder_is_refused(copy, tmp_path):
    outside = tmp_path / "elsewhere.npz"
    shutil.move(copy / "snapshot_0000.npz", outside)
    (copy / "snapshot_0000.npz").symlink_to(outside)
    with pytest.raises(RecordingError, match="points outside the recording folder"):
        load_recording(copy)


@pytest.mark.parametrize(
    "epochs, match",
    [
        ([-1, 2], r"snapshots\[0\].epoch must be a finite number >= 0, got -1"),
        ([1, 1], r"snapshots\[1\].epoch 1 does not come after epoch 1"),
        ([3, 2], r"snapshots\[1\].epoch 2 does not come after epoch 3"),
        ([1, math.nan], r"snapshots\[1\].epoch must be a finite number >= 0, got nan"),
        ([1, "2"], r"snapshots\[1\].epoch must be a finite number >= 0, got '2'"),
        ([True, 2], r"snapshots\[0\].epoch must be a finite number >= 0, got True"),
    ],
)
def test_bad_epochs_are_refused(copy, epochs, match):
    manifest = json.loads((copy / store.MANIFEST).read_text())
    for entry, epoch in zip(manifest["snapshots"], epochs):
        entry["epoch"] = epoch
    _write_manifest(copy, manifest)
    with pytest.raises(RecordingError, match=match):
        load_recording(copy)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda m: [m], "the manifest is a JSON list, not an object"),
        (lambda m: {**m, "version": "one"}, "'version' must be a positive integer, got 'one'"),
        (lambda m: {k: v for k, v in m.items() if k != "graph"}, "'graph' must be a JSON object, got NoneType"),
        (lambda m: {**m, "snapshots": [{**m["snapshots"][0], "metrics": None}]}, r"snapshots\[0\].metrics must be"),
    ],
)
def test_damaged_manifest_through_the_cli_is_one_line(copy, capsys, edit, match):
    _write_manifest(copy, edit(json.loads((copy / store.MANIFEST).read_text())))
    assert main(["show", str(copy)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RecordingError: " in err
    assert re.search(match, err)


def test_unknown_node_is_a_recording_error(recording):
    with pytest.raises(RecordingError, match="has no activation for node 'nope'"):
        load_recording(recording).values(0, "nope")


def test_recorder_refuses_bad_epochs(tmp_path):
    with Recorder(tiny_model(), _probe(), tmp_path / "rec") as rec:
        for bad in (-1, math.nan, math.inf):
            with pytest.raises(RecordingError, match="epoch must be a finite number >= 0"):
                rec.snapshot(bad)
    assert not (tmp_path / "rec").exists()  # created by the Recorder, never written to: removed again
