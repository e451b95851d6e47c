"""What a command imports is part of its start-up time: a render of a model file pays for torch and VTK, not
for torchvision, scikit-learn or imageio (each 0.3-2 s on a cold interpreter). Run in a fresh interpreter,
where ``sys.modules`` tells what the command itself pulled in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MODEL_FILE = """
import torch
from torch import nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 2)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))
"""

UNNEEDED = ("torchvision", "sklearn", "imageio", "transformers", "timm")


def _modules_after(argv: list[str], cwd: Path) -> dict:
    """Run ``render3d`` with ``argv`` in a fresh interpreter; its exit code and the unneeded modules it loaded."""
    code = (
        "import json, sys\n"
        "from render3d.cli import main\n"
        f"rc = main({argv!r})\n"
        f"print(json.dumps({{'rc': rc, 'loaded': [m for m in {UNNEEDED!r} if m in sys.modules]}}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_render_of_a_model_file_imports_no_torchvision_sklearn_or_imageio(tmp_path):
    (tmp_path / "tiny.py").write_text(MODEL_FILE)
    result = _modules_after(
        ["render", "tiny.py:Tiny", "--input-shape", "1,3,8,8", "--size", "320x180", "-o", "tiny.png"], tmp_path
    )
    assert result == {"rc": 0, "loaded": []}
    assert (tmp_path / "tiny.png").stat().st_size > 0


def test_building_the_command_line_parser_imports_neither_torch_nor_vtk():
    code = (
        "import sys\nfrom render3d.cli import build_parser\nbuild_parser()\n"
        "print(sorted(m for m in ('torch', 'vtk', 'pyvista', *" + repr(UNNEEDED) + ") if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
