"""Big scenes render with a bounded number of actors (merged meshes), and ×N decks are drawn."""

from __future__ import annotations

import numpy as np
import scene_fixtures as fx

from render3d.rendering import build_plotter
from render3d.scene.builder import build_scene


def _actor_count(pl) -> int:
    return pl.renderer.GetActors().GetNumberOfItems() + pl.renderer.GetViewProps().GetNumberOfItems()


def test_5000_block_scene_renders_with_a_bounded_number_of_actors():
    counts = []
    for n in (100, 1666):  # 302 and 5000 blocks
        scene = build_scene(
            fx.big_residual(n), max_blocks=10_000, fold_repeats=False, labels="none", image_size=(320, 180)
        )
        pl, actors = build_plotter(scene, size=(320, 180))
        try:
            pl.render()
            img = pl.screenshot(return_img=True)
            assert (img < 250).any()  # something drawn
            counts.append(_actor_count(pl))
            assert sum(m.n_cells for m in actors.block_meshes.values()) == 6 * len(scene.blocks)
        finally:
            pl.close()
    assert counts[0] == counts[1] and counts[1] < 30


def test_folded_blocks_get_a_deck_of_copies_and_recolour_in_place():
    scene = build_scene(fx.big_residual(20), labels="none", unfold_first="never", image_size=(320, 180))
    assert scene.blocks.repeats.max() == 20
    pl, actors = build_plotter(scene, size=(320, 180))
    try:
        assert actors.shadow_mesh is not None and actors.shadow_mesh.n_cells == 6 * 3
        rgb = np.zeros((len(scene.blocks), 3), dtype=np.uint8)
        actors.set_block_colors(rgb)
        assert (actors.shadow_mesh.cell_data["rgb"] < 255).all()
        pl.render()
        pl.screenshot(return_img=True)
    finally:
        pl.close()
