"""The story panels' cached text draws exactly what Pillow's ``ImageDraw.text`` draws."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from render3d.rendering.panels import _draw_text, _font


def test_cached_text_matches_pillow_at_fractional_positions():
    font = _font(19)
    for xy in [(3.0, 4.0), (10.25, 7.5), (0.7, 0.35), (-2.4, 5.6)]:
        ours, pillow = Image.new("RGB", (120, 40), "white"), Image.new("RGB", (120, 40), "white")
        _draw_text(ImageDraw.Draw(ours), xy, "loss 0.41", font, (0, 114, 178))
        ImageDraw.Draw(pillow).text(xy, "loss 0.41", font=font, fill=(0, 114, 178))
        assert np.array_equal(np.asarray(ours), np.asarray(pillow)), xy
