"""Reading a frame back without pyvista's screenshot pipeline gives the very same pixels."""

from __future__ import annotations

import numpy as np
from render_fixtures import small_scene

from render3d.rendering import build_plotter
from render3d.rendering.png import read_rgb


def test_read_rgb_is_the_screenshot_pixel_for_pixel():
    plotter, _ = build_plotter(small_scene(), size=(320, 180))
    try:
        ours = read_rgb(plotter)
        plotter.render()
        theirs = plotter.screenshot(None, return_img=True)
    finally:
        plotter.close()
    assert ours.shape == (180, 320, 3) and ours.dtype == np.uint8
    assert np.array_equal(ours, theirs)
