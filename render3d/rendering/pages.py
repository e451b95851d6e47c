"""Texture pages: many feature-map atlases packed side by side into a few large textures.

Why: a GL draws each actor with its own state changes and draw call; on CPU GL (llvmpipe) that is ~65 µs
a frame per textured actor whatever its size, so the 101 plane stacks of Swin-T's activations cost ~6.6 ms
of a 19 ms 1080p frame as separate actors. Packed into one page and drawn as one mesh, they cost one.

Packing is by shelves (rows of atlases, tallest first), which wastes little when the atlases' heights
repeat, as those of a network's layers do; a page is at most :data:`PAGE_TEXELS` on a side (within every
GL's texture limit), and an atlas bigger than that gets a page of its own size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["PAGE_TEXELS", "Page", "pack_pages"]

#: a page's largest side, texels (GL guarantees 1024; every desktop and CPU GL here allows 16384)
PAGE_TEXELS = 4096


@dataclass(frozen=True)
class Page:
    """One texture: ``size`` (width, height) texels; atlas ``items[i]`` has its lower-left texel at
    ``places[i]`` (x, y), y counted upwards as VTK images are."""

    size: tuple[int, int]
    items: tuple[int, ...]
    places: tuple[tuple[int, int], ...]


def pack_pages(sizes: Sequence[tuple[int, int]], limit: int = PAGE_TEXELS) -> list[Page]:
    """Pack atlases of ``sizes`` (width, height) texels into pages; every index appears in one page.

    A page is as wide as a squarish result needs (at most ``limit``) and exactly as tall as its shelves;
    an atlas wider or taller than ``limit`` has a page to itself.
    """
    alone = [i for i, (w, h) in enumerate(sizes) if w > limit or h > limit]
    pages = [Page((sizes[i][0], sizes[i][1]), (i,), ((0, 0),)) for i in alone]
    rest = sorted(set(range(len(sizes))) - set(alone), key=lambda i: (-sizes[i][1], -sizes[i][0], i))
    if not rest:
        return pages
    area = sum(sizes[i][0] * sizes[i][1] for i in rest)
    width = max(max(sizes[i][0] for i in rest), min(limit, math.ceil(math.sqrt(area))))
    items: list[int] = []
    places: list[tuple[int, int]] = []
    x = y = shelf = used_width = 0
    for i in rest:
        w, h = sizes[i]
        if x + w > width:  # next shelf
            x, y, shelf = 0, y + shelf, 0
        if y + h > limit:  # page full (only ever on a new shelf: the tallest come first)
            pages.append(Page((used_width, y), tuple(items), tuple(places)))
            items, places, y, used_width = [], [], 0, 0
        items.append(i)
        places.append((x, y))
        x, shelf, used_width = x + w, max(shelf, h), max(used_width, x + w)
    pages.append(Page((used_width, y + shelf), tuple(items), tuple(places)))
    return pages
