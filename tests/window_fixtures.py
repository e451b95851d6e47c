"""A scene window on a real model, driven offscreen as a user would: clicks and key presses go through
the interactor (press and release at a display pixel; KeyPressEvent then CharEvent)."""

from __future__ import annotations

import numpy as np

from render3d.rendering import build_plotter
from render3d.rendering.window import install_interaction, scene_window

SIZE = (640, 360)


def model_scenes(build):
    """The window's scene callback (:class:`~render3d.api.WindowScenes`) for ``build()`` (a torchvision
    builder, random init, seed 0) on one 64×64 input: cheap enough for a test, real enough to expand."""
    import torch

    import render3d
    from render3d.api import WindowScenes

    torch.manual_seed(0)
    model = build().eval()
    x = torch.randn(1, 3, 64, 64)
    return WindowScenes(lambda capture: render3d.trace(model, x, capture=capture))


def open_window(scene, **callbacks):
    """The :class:`SceneWindow` on ``scene`` at :data:`SIZE`, its interactor enabled (an offscreen one
    ignores events until then); close its plotter when done."""
    plotter, actors = build_plotter(scene, size=SIZE)
    install_interaction(plotter, actors, **callbacks)
    plotter.iren.interactor.Enable()
    plotter.render()
    return scene_window(plotter)


def block_pixel(window, node_id: str) -> tuple[int, int]:
    """A display pixel where the window picks block ``node_id`` as it shows it now: its centre, else a
    point nearer one of its corners (a block in front may cover the centre)."""
    blocks = window.actors.scene.blocks
    i = blocks.index(node_id)
    lo, hi = blocks.lower[i], blocks.upper[i]
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    for point in (blocks.centers[i], *(blocks.centers[i] + 0.8 * (corners - blocks.centers[i]))):
        x, y = display_point(window, point)
        if window.tooltip.pick(round(x), round(y)) == i:
            return round(x), round(y)
    raise AssertionError(f"block {node_id} is hidden behind others")


def display_point(window, point) -> tuple[float, float]:
    """Where the world ``point`` is drawn, in display pixels (y up)."""
    renderer = window.plotter.renderer
    renderer.SetWorldPoint(*point, 1.0)
    renderer.WorldToDisplay()
    x, y, _ = renderer.GetDisplayPoint()
    return x, y


def click(window, x: int, y: int) -> None:
    iren = window.plotter.iren.interactor
    iren.SetEventInformation(x, y)
    iren.LeftButtonPressEvent()
    iren.LeftButtonReleaseEvent()


def click_block(window, node_id: str) -> None:
    click(window, *block_pixel(window, node_id))


def press(window, key: str) -> None:
    iren = window.plotter.iren.interactor
    iren.SetKeySym(key)
    iren.SetKeyCode({"space": " ", "Escape": "\x1b"}.get(key, key[0]))
    iren.KeyPressEvent()
    iren.CharEvent()
    iren.KeyReleaseEvent()


def screenshot(window) -> np.ndarray:
    window.plotter.render()
    return window.plotter.screenshot(None, return_img=True)
