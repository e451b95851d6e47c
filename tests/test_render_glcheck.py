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


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (subprocess.CompletedProcess([], -11, stdout="", stderr="Segmentation fault"), "killed by signal 11"),
        (subprocess.CompletedProcess([], 1, stdout="", stderr="boom"), "exited with status 1"),
        (subprocess.TimeoutExpired(cmd="probe", timeout=60), "did not finish in 60 s"),
    ],
)
def test_failed_probe_raises_one_line_error(monkeypatch, result, reason):
    def fake_run(*args, **kwargs):
        if isinstance(result, BaseException):
            raise result
        return result

    monkeypatch.setattr(glcheck, "_cached", None)
    monkeypatch.setattr(glcheck.subprocess, "run", fake_run)
    with pytest.raises(RenderUnavailableError, match="apt-get install -y libegl1 libgl1-mesa-dri") as info:
        glcheck.ensure_gl()
    message = str(info.value)
    assert "\n" not in message
    assert reason in message
    assert "display" in message
    # The failure is cached: no second probe.
    monkeypatch.setattr(glcheck.subprocess, "run", lambda *a, **k: pytest.fail("probed twice"))
    with pytest.raises(RenderUnavailableError):
        glcheck.ensure_gl()


def test_failed_probe_stops_build_plotter(monkeypatch):
    from render3d.rendering import build_plotter
    from render_fixtures import small_scene

    monkeypatch.setattr(glcheck, "_cached", RenderUnavailableError("No OpenGL context could be created"))
    with pytest.raises(RenderUnavailableError, match="No OpenGL context"):
        build_plotter(small_scene(), size=(64, 36))


@pytest.mark.parametrize(("before", "after"), [(None, "vtkEGLRenderWindow"), ("", "vtkEGLRenderWindow"),
                                               ("vtkOSOpenGLRenderWindow", "vtkOSOpenGLRenderWindow")])
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
