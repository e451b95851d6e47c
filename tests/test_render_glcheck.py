"""GL probe, environment defaults and the torch-free import of the render room."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from render3d.errors import RenderUnavailableError
from render3d.rendering import glcheck


def test_ensure_gl_returns_window_class_quietly(capfd):
    name = glcheck.ensure_gl()
    assert name.startswith("vtk") and name.endswith("RenderWindow")
    assert glcheck.ensure_gl() == name  # cached
    out, err = capfd.readouterr()
    assert out == "" and err == ""


class FakeProbe:
    """Stands in for the probe's Popen: finishes with ``returncode``/``stdout`` or times out."""

    def __init__(self, returncode=0, stdout="", timeout=False):
        self.returncode, self.stdout, self.timeout, self.killed = returncode, stdout, timeout, False

    def communicate(self, timeout=None):
        if self.timeout and not self.killed:
            raise subprocess.TimeoutExpired(cmd="probe", timeout=timeout)
        return self.stdout, ""

    def kill(self):
        self.killed = True


@pytest.mark.parametrize(
    ("probe", "reason"),
    [
        (FakeProbe(returncode=-11), "killed by signal 11"),
        (FakeProbe(returncode=1), "exited with status 1"),
        (FakeProbe(timeout=True), "did not finish in 60 s"),
    ],
)
def test_failed_probe_raises_one_line_error(monkeypatch, probe, reason):
    monkeypatch.setattr(glcheck, "_cached", None)
    monkeypatch.setattr(glcheck, "_pending", None)
    monkeypatch.setattr(glcheck.subprocess, "Popen", lambda *a, **k: probe)
    with pytest.raises(RenderUnavailableError, match="apt-get install -y libegl1 libgl1-mesa-dri") as info:
        glcheck.ensure_gl()
    message = str(info.value)
    assert "\n" not in message
    assert reason in message
    assert "display" in message
    # The failure is cached: no second probe.
    monkeypatch.setattr(glcheck.subprocess, "Popen", lambda *a, **k: pytest.fail("probed twice"))
    with pytest.raises(RenderUnavailableError):
        glcheck.ensure_gl()


def test_background_probe_is_collected_by_ensure_gl(monkeypatch):
    monkeypatch.setattr(glcheck, "_cached", None)
    monkeypatch.setattr(glcheck, "_pending", None)
    started = []
    monkeypatch.setattr(
        glcheck.subprocess,
        "Popen",
        lambda *a, **k: started.append(1) or FakeProbe(stdout="render3d-gl-ok vtkEGLRenderWindow\n"),
    )
    glcheck.start_probe()
    glcheck.start_probe()  # a second start while one is pending starts nothing
    assert glcheck.ensure_gl() == "vtkEGLRenderWindow"
    assert started == [1]


def test_failed_probe_stops_build_plotter(monkeypatch):
    from render_fixtures import small_scene

    from render3d.rendering import build_plotter

    monkeypatch.setattr(glcheck, "_cached", RenderUnavailableError("No OpenGL context could be created"))
    with pytest.raises(RenderUnavailableError, match="No OpenGL context"):
        build_plotter(small_scene(), size=(64, 36))


@pytest.mark.parametrize(
    ("before", "after"),
    [(None, "vtkEGLRenderWindow"), ("", "vtkEGLRenderWindow"), ("vtkOSOpenGLRenderWindow", "vtkOSOpenGLRenderWindow")],
)
def test_configure_environment_without_display(monkeypatch, before, after):
    monkeypatch.setattr(glcheck.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if before is None:
        monkeypatch.delenv("VTK_DEFAULT_OPENGL_WINDOW", raising=False)
    else:
        monkeypatch.setenv("VTK_DEFAULT_OPENGL_WINDOW", before)
    glcheck.configure_environment()
    assert os.environ["VTK_DEFAULT_OPENGL_WINDOW"] == after


def test_configure_environment_leaves_display_machines_alone(monkeypatch):
    monkeypatch.setattr(glcheck.sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("VTK_DEFAULT_OPENGL_WINDOW", raising=False)
    glcheck.configure_environment()
    assert "VTK_DEFAULT_OPENGL_WINDOW" not in os.environ


def test_render_room_never_imports_torch():
    code = (
        "import sys, render3d.rendering, render3d.rendering.window\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_training_after_rendering_does_not_crash(tmp_path):
    """Render, then make the first optimizer (which imports Triton): segfaulted before preload_triton."""
    script = (
        "import torch, render3d\n"
        "from render3d.models import SeedCNN\n"
        "m = SeedCNN()\n"
        f"render3d.render(m, path={str(tmp_path / 'x.png')!r}, size=(320, 192))\n"
        "torch.optim.Adam(m.parameters())\n"
        "import torch._dynamo\n"
        "print('trained after render')\n"
    )
    env = {**os.environ, "PYVISTA_OFF_SCREEN": "true"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert "trained after render" in proc.stdout
