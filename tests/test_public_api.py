"""The public surface: names are pinned, load lazily, and importing the package costs no torch/VTK."""

from __future__ import annotations

import subprocess
import sys

import pytest

import render3d


def test_public_names_are_pinned():
    assert render3d.__all__ == sorted(
        [
            "Node",
            "Recorder",
            "Scene",
            "Trace",
            "__version__",
            "animate",
            "build_scene",
            "explain",
            "export",
            "load_checkpoint",
            "plotter",
            "render",
            "show",
            "tour",
            "trace",
        ]
    )


@pytest.mark.parametrize("name", [n for n in render3d.__all__ if n != "__version__"])
def test_every_public_name_resolves(name):
    assert getattr(render3d, name) is not None


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'render3d' has no attribute 'traec'"):
        render3d.traec  # noqa: B018


def test_import_render3d_loads_neither_torch_nor_vtk():
    code = (
        "import sys, render3d, render3d.scene, render3d.record; "
        "print(sorted({'torch', 'vtk', 'pyvista'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
