"""The CLI's error boundary: every bad argument, model file, checkpoint or display gives exactly one line
``ErrorName: message`` naming what was wrong, exit 2 (usage) or 1 (runtime), no traceback, and leaves
every pre-existing file byte-identical."""

from __future__ import annotations

import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from render3d.cli import main
from render3d.errors import UsageError

ONE_LINE = re.compile(r"^\w+Error: .+$")


def run(argv: list[str], capsys) -> tuple[int, str]:
    """Exit code and the single stderr line (asserted to be the only one, in ErrorName: form)."""
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert ONE_LINE.match(lines[0]), lines[0]
    assert "Traceback" not in err
    return code, lines[0]


@pytest.fixture
def existing(tmp_path):
    """A pre-existing output file every failing command must leave byte-identical."""
    path = tmp_path / "out.png"
    path.write_bytes(b"the user's own picture")
    yield path
    assert path.read_bytes() == b"the user's own picture"


ANIMATE = ["animate", "render3d:SeedCNN", "--checkpoints", "nowhere"]


@pytest.mark.parametrize(
    "argv, line",
    [
        (
            ["trace", "render3d:SeedCNN", "--depth", "0"],
            "UsageError: render3d trace: argument --depth: '0' is not a positive integer (see render3d trace --help)",
        ),
        (["trace", "render3d:SeedCNN", "--depth", "-1"], "argument --depth: '-1' is not a positive integer"),
        (ANIMATE + ["--fps", "0"], "argument --fps: fps '0' is not valid: give a frame rate above 0 and at most 240"),
        (ANIMATE + ["--fps", "nan"], "argument --fps: fps 'nan' is not valid"),
        (ANIMATE + ["--fps", "inf"], "argument --fps: fps 'inf' is not valid"),
        (ANIMATE + ["--fps", "1e9"], "argument --fps: fps '1e9' is not valid"),
        (ANIMATE + ["--frames-per-epoch", "0"], "argument --frames-per-epoch: '0' is not a positive integer"),
        (["demo", "--epochs", "0"], "argument --epochs: '0' is not a positive integer"),
        (
            ["trace", "render3d:SeedCNN", "--device", "tpu"],
            "argument --device: device 'tpu' is not known: use cpu, cuda, cuda:N, mps or meta",
        ),
        (["trace", "render3d:SeedCNN", "--input-shape", ""], "argument --input-shape: input shape '' is not valid"),
        (
            ["trace", "render3d:SeedCNN", "--input-shape", "99999999999999999999"],
            "argument --input-shape: input shape 99999999999999999999 has 1e+20 elements, "
            "more than any tensor can hold",
        ),
        (
            ["render", "render3d:SeedCNN", "--mode", "activations", "--probe", "digit:-1"],
            "argument --probe: probe 'digit:-1' is not valid: use digit:N with N a whole number from 0",
        ),
        (
            ["render", "render3d:SeedCNN", "--probe", "nofile.npy"],
            "argument --probe: probe 'nofile.npy' is not 'random', 'digit:N' or an existing file",
        ),
        (["render", "render3d:SeedCNN", "--size", "0x0"], "argument --size: size 0x0 is not valid: width and height"),
        (
            ["render", "render3d:SeedCNN", "--size", "wide"],
            "argument --size: size 'wide' is not valid: use WIDTHxHEIGHT",
        ),
        (["render", "render3d:SeedCNN", "--size", "16400x300"], "argument --size: size 16400x300 is too large"),
        (["render", "render3d:SeedCNN", "--size", "100000x100000"], "argument --size: size 100000x100000 is too large"),
        (
            ["render", "render3d:SeedCNN", "--device", "meta", "--mode", "activations"],
            "argument --device: device 'meta' cannot draw activations: meta tensors have no values",
        ),
        (["render"], "the following arguments are required: MODEL"),
        (["render", "render3d:SeedCNN", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_bad_argument_is_one_usage_line_before_any_work(argv, line, capsys, existing):
    code, got = run(argv + (["-o", str(existing)] if argv[:1] == ["render"] else []), capsys)
    assert code == 2
    assert got.startswith("UsageError: render3d") and line in got


def test_cuda_without_a_gpu_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, line = run(["trace", "render3d:SeedCNN", "--device", "cuda"], capsys)
    assert code == 2
    assert line.endswith(
        "argument --device: device 'cuda' is not available: torch sees no CUDA GPU here; use cpu "
        "(see render3d trace --help)"
    )


@pytest.fixture
def pooled(tmp_path) -> str:
    """A model that takes any image size (adaptive pooling), as MODEL."""
    file = tmp_path / "pooled.py"
    file.write_text(
        "import torch\nfrom torch import nn\n"
        "def Net():\n    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.AdaptiveAvgPool2d(1))\n"
    )
    return f"{file}:Net"


def test_activations_too_large_for_memory_are_refused_from_the_meta_pass(pooled, capsys, existing):
    code, line = run(
        ["render", pooled, "--mode", "activations", "--input-shape", "1,3,60000,60000", "-o", str(existing)], capsys
    )
    assert code == 2
    assert re.match(
        r"ModelSpecError: this input needs at least \d+\.\d GiB for its activations \(largest: "
        r"1,8,60000,60000\), only \d+\.\d GiB of cpu memory is free",
        line,
    ), line


def test_animate_checks_activation_memory_before_reading_checkpoints(pooled, tmp_path, capsys):
    video = tmp_path / "old.mp4"
    video.write_bytes(b"the user's video")
    code, line = run(
        ["animate", pooled, "--input-shape", "1,3,60000,60000", "--checkpoints", str(tmp_path), "-o", str(video)],
        capsys,
    )
    assert code == 2 and line.startswith("ModelSpecError: this input needs at least ")
    assert video.read_bytes() == b"the user's video"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.mp4", "pooled.py"]


def test_huge_input_shape_still_traces_shapes_only(pooled, capsys):
    assert main(["trace", pooled, "--input-shape", "1,3,60000,60000"]) == 0
    assert "[1, 8, 60000, 60000]" in capsys.readouterr().out


def test_meta_pass_shape_error_is_reported_not_retried_at_full_size(capsys):
    # a real pass would first allocate a 43 GB input; the meta pass's error is the answer
    code, line = run(["trace", "render3d:SeedCNN", "--input-shape", "1,3,60000,60000"], capsys)
    assert (code, line) == (
        1,
        "TraceError: SeedCNN failed in its own forward(): RuntimeError: shape '[-1, 2048]' "
        "is invalid for input of size 1800000000",
    )


def test_show_with_display_but_no_x_server(monkeypatch, capsys):
    import pyvista as pv

    monkeypatch.setattr(pv, "OFF_SCREEN", False)
    monkeypatch.setenv("DISPLAY", ":97")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    code, line = run(["show", "render3d:SeedCNN"], capsys)
    assert code == 1
    assert line.startswith(
        "RenderUnavailableError: No display to open a window on "
        "(no X server answers on DISPLAY=:97); render a PNG instead"
    )


@pytest.mark.parametrize(
    "source, message",
    [
        (
            "import torch\nclass Net(torch.nn.Module:\n    pass\n",
            "ModelSpecError: model '{file}:Net' could not be built: SyntaxError: ",
        ),
        (
            "import torch\nclass Net(torch.nn.Module):\n"
            "    def __init__(self):\n        raise RuntimeError('no driver')\n",
            "ModelSpecError: model '{file}:Net' could not be built: RuntimeError: no driver",
        ),
    ],
)
def test_broken_model_file_names_the_model(tmp_path, capsys, source, message):
    file = tmp_path / "broken.py"
    file.write_text(source)
    code, line = run(["trace", f"{file}:Net", "--input-shape", "1,4"], capsys)
    assert code == 2
    assert line.startswith(message.format(file=file))


def test_unexpected_exception_is_one_line_and_debug_shows_the_traceback(tmp_path, capsys, monkeypatch):
    file = tmp_path / "odd.py"
    file.write_text(
        "import torch\nclass Net(torch.nn.Linear):\n    def __init__(self):\n"
        "        super().__init__(4, 2)\n    def example_input(self):\n        return 1 / 0\n"
    )
    code, line = run(["trace", f"{file}:Net"], capsys)
    assert (code, line) == (1, "ZeroDivisionError: division by zero")
    monkeypatch.setenv("RENDER3D_DEBUG", "1")
    assert main(["trace", f"{file}:Net"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert err.splitlines()[-1] == "ZeroDivisionError: division by zero"


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "CheckpointError: checkpoint {path} is truncated: its zip directory is missing"),
        (b"\x89PNG\r\n\x1a\n" + bytes(56), "CheckpointError: {path} is not a checkpoint: it is a PNG image"),
    ],
)
def test_bad_weights_are_one_runtime_line(tmp_path, capsys, existing, content, message):
    from render3d.models import SeedCNN

    path = tmp_path / "weights.pt"
    torch.save(SeedCNN().state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if content is None else content)
    code, line = run(["render", "render3d:SeedCNN", "--weights", str(path), "-o", str(existing)], capsys)
    assert code == 1
    assert line.startswith(message.format(path=path))


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("p.npy", b"garbage", "ValueError: "),
        ("p.png", b"garbage", "OSError: "),
        ("p.pt", b"PK\x03\x04garbage", "CheckpointError: checkpoint {path} is truncated"),
    ],
)
def test_bad_probe_file_is_one_line_naming_it(tmp_path, capsys, existing, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    code, line = run(
        ["render", "render3d:SeedCNN", "--mode", "activations", "--probe", str(path), "-o", str(existing)], capsys
    )
    assert code == 2
    assert line.startswith(f"ModelSpecError: probe '{path}' cannot be read: " + reason.format(path=path))


def test_warnings_print_as_one_line_each(tmp_path, capsys):
    file = tmp_path / "warns.py"
    file.write_text(
        "import warnings\nimport torch\nclass Net(torch.nn.Linear):\n    def __init__(self):\n"
        "        super().__init__(4, 2)\n    def forward(self, x):\n"
        "        warnings.warn('odd input\\nsecond line of advice')\n        return super().forward(x)\n"
    )
    assert main(["trace", f"{file}:Net", "--input-shape", "1,4", "--device", "cpu"]) == 0
    assert capsys.readouterr().err == "UserWarning: odd input\n"


ARG_TEXT = (
    st.text(max_size=24)
    | st.from_regex(r"-?[0-9]{1,22}(x-?[0-9]{1,12})?", fullmatch=True)
    | st.sampled_from(
        ["nan", "inf", "-inf", "1e9", "0", "1,3,64,64", "1x3x64x64", "digit:3", "digit:-1", "cuda:0", "meta", "0x0"]
    )
)


@settings(max_examples=120, deadline=None)
@given(
    option=st.sampled_from(
        ["--depth", "--input-shape", "--device", "--size", "--probe", "--fps", "--frames-per-epoch"]
    ),
    value=ARG_TEXT,
)
def test_any_argument_value_parses_or_is_one_usage_error(option, value):
    from render3d.cli import _check_combinations, build_parser

    animate = option in ("--fps", "--frames-per-epoch")
    argv = ["animate", "render3d:SeedCNN", "--checkpoints", "x"] if animate else ["render", "render3d:SeedCNN"]
    try:
        args = build_parser().parse_args([*argv, f"{option}={value}"])
        _check_combinations(args)
    except UsageError as exc:
        assert "\n" not in str(exc) and option in str(exc)
        return
    parsed = getattr(args, option.lstrip("-").replace("-", "_"))
    expected = {
        "--depth": int,
        "--input-shape": tuple,
        "--device": str,
        "--size": tuple,
        "--probe": str,
        "--fps": float,
        "--frames-per-epoch": int,
    }[option]
    assert isinstance(parsed, expected)
