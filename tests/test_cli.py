"""The ``render3d`` command: tables, JSON, exit codes, one-line errors, PNGs from a clean process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from render3d.cli import main


def test_trace_prints_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "seed.json"
    assert main(["trace", "render3d:SeedCNN", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "pool#4" in text and "[1, 128, 4, 4]" in text and "Total params: 1,310,274" in text
    data = json.loads(out.read_text())
    assert data["model"] == "SeedCNN" and len(data["nodes"]) == 18


def test_trace_depth_and_input_shape(capsys):
    assert main(["trace", "torchvision:resnet18", "--input-shape", "1,3,32,32", "--depth", "1"]) == 0
    text = capsys.readouterr().out
    assert "layer4#1" in text and "[1, 512, 1, 1]" in text and "layer4.0" not in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["trace", "torchvision:resnet19"], "torchvision has no model 'resnet19'. Did you mean: "),
        (["trace", "resnet18"], "use torchvision:NAME, path/to/file.py:Class or package.module:Class"),
        (["trace", "missing.py:Net"], "file 'missing.py' does not exist"),
        (["trace", "render3d.models:Nope"], "has no attribute 'Nope'; it defines: "),
        (["trace", "torchvision:resnet18", "--input-shape", "1,3,x"], "input shape '1,3,x' is not valid"),
        (["trace", "torchvision:resnet18", "--input-shape", "0,3,8,8"], "input shape '0,3,8,8' is not valid"),
        (["render", "scenes/none.toml"], "scene file 'scenes/none.toml' does not exist"),
    ],
)
def test_bad_model_or_shape_is_one_line_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_model_from_python_file(tmp_path, capsys):
    source = tmp_path / "mynet.py"
    source.write_text(
        "import torch\nfrom torch import nn\n"
        "class Tiny(nn.Module):\n"
        "    example_input_shape = (1, 4)\n"
        "    def __init__(self):\n        super().__init__(); self.a = nn.Linear(4, 3)\n"
        "    def forward(self, x):\n        return torch.sigmoid(self.a(x))\n"
    )
    assert main(["trace", f"{source}:Tiny"]) == 0
    assert "sigmoid#1" in capsys.readouterr().out


def test_missing_input_shape_says_how_to_fix(tmp_path, capsys):
    source = tmp_path / "noshape.py"
    source.write_text("from torch import nn\nNet = lambda: nn.Linear(2, 2)\n")
    assert main(["trace", f"{source}:Net"]) == 2
    assert "pass --input-shape" in capsys.readouterr().err


def test_unknown_scene_key_names_file_and_key(tmp_path, capsys):
    scene = tmp_path / "typo.toml"
    scene.write_text('model = "render3d:SeedCNN"\nmdoe = "activations"\n')
    assert main(["render", str(scene), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "typo.toml: unknown key 'mdoe'" in err
    assert not (tmp_path / "x.png").exists()


def _run_cli(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYVISTA_OFF_SCREEN": "true"}
    return subprocess.run(
        [sys.executable, "-m", "render3d.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("mode", ["architecture", "activations"])
def test_render_resnet18_headless_in_a_fresh_process(tmp_path, mode):
    out = tmp_path / f"{mode}.png"
    proc = _run_cli(
        "render",
        "torchvision:resnet18",
        "--mode",
        mode,
        "--input-shape",
        "1,3,64,64",
        "--size",
        "640x360",
        "-o",
        str(out),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"wrote {out}: 640x360, ")
    import imageio.v3 as iio

    image = iio.imread(out)
    assert image.shape == (360, 640, 3)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 20  # not blank


def test_render_scene_file_uses_its_size(tmp_path):
    scene = tmp_path / "seed.toml"
    scene.write_text('model = "render3d:SeedCNN"\nsize = [320, 192]\ntitle = "Seed"\n')
    assert main(["render", str(scene), "-o", str(tmp_path / "s.png")]) == 0
    import imageio.v3 as iio

    assert iio.imread(tmp_path / "s.png").shape == (192, 320, 3)


def test_gallery_renders_every_scene_file(tmp_path, capsys):
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    for name in ("a", "b"):
        (scenes / f"{name}.toml").write_text('model = "render3d:SeedCNN"\nsize = [320, 192]\n')
    assert main(["gallery", str(scenes), "-o", str(tmp_path / "gallery")]) == 0
    assert sorted(p.name for p in (tmp_path / "gallery").iterdir()) == ["a.png", "b.png"]
    assert "wrote 2 images to" in capsys.readouterr().out


def test_the_console_script_is_run_not_main():
    from pathlib import Path

    import tomllib

    with open(Path(__file__).parents[1] / "pyproject.toml", "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    assert scripts == {"render3d": "render3d.cli:run"}


def test_run_gives_the_command_sparse_collections_and_freezes_the_heap_before_exit(tmp_path):
    """In a process of its own (a frozen heap would outlive this test): main's exit code comes back,
    main ran with GC_THRESHOLDS, and the heap is frozen afterwards."""
    script = (
        "import gc\n"
        "from render3d import cli\n"
        "seen = []\n"
        "cli.main = lambda: seen.append(gc.get_threshold()) or 3\n"
        "code = cli.run()\n"
        "print(seen, code, gc.get_freeze_count() > 0, cli.GC_THRESHOLDS)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[(50000, 5, 50)] 3 True (50000, 5, 50)", proc.stderr
