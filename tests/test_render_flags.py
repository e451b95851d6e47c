"""Health flags in the pictures: scene data (blocks.flags, legend, note), red marks over exactly the
flagged blocks in a 640x360 PNG, none for a healthy model, the same marks in the window's plotter and
in MP4 frames."""

from __future__ import annotations

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
from broken_models import Net

import render3d
from render3d.models import SeedCNN
from render3d.rendering import build_plotter, render_png
from render3d.scene.builder import build_scene
from render3d.scene.camera import box_corners, project
from render3d.scene.flags import FLAG_RGB

SIZE = (640, 360)
FLAGGED = {"conv2#1": ("dead",), "expand#1": ("exploding",), "log#1": ("nan",)}  # relu2 is folded into conv2
#: badge half-size beyond its anchor and outline width, in pixels at 640x360
BADGE_PX = (40, 14)


def red_mask(image: np.ndarray, tolerance: int = 24) -> np.ndarray:
    """Pixels of the flag red (exact in a PNG: marks are unlit and anti-aliasing is off)."""
    return (np.abs(image[..., :3].astype(int) - np.array(FLAG_RGB)) <= tolerance).all(axis=-1)


@pytest.fixture(scope="module")
def broken_scene():
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    return build_scene(render3d.trace(Net(), x), "activations", image_size=SIZE)


@pytest.fixture(scope="module")
def healthy_scene():
    torch.manual_seed(0)
    return build_scene(render3d.trace(SeedCNN().eval(), torch.randn(1, 3, 64, 64)), "activations", image_size=SIZE)


@pytest.fixture(scope="module")
def broken_png(broken_scene, tmp_path_factory):
    path = render_png(broken_scene, tmp_path_factory.mktemp("flags") / "broken.png")
    return imageio.imread(path)


def screen_box(scene, i: int) -> np.ndarray:
    px = project(scene, box_corners(scene.blocks.lower[i], scene.blocks.upper[i]))
    return np.concatenate([px.min(axis=0), px.max(axis=0)])


def test_blocks_carry_the_flags_of_their_members(broken_scene):
    blocks = broken_scene.blocks
    assert {nid: f for nid, f in zip(blocks.node_ids, blocks.flags) if f} == FLAGGED


def test_tooltip_of_a_flagged_block_names_its_flags(broken_scene):
    info = broken_scene.blocks.info
    assert info[broken_scene.blocks.index("conv2#1")].splitlines()[-1] == "flags: dead"
    assert not any("flags:" in info[i] for i, f in enumerate(broken_scene.blocks.flags) if not f)


def test_legend_lists_each_flag_present_once_in_red(broken_scene):
    entries = [(name, rgb) for name, rgb in broken_scene.legend if rgb == FLAG_RGB]
    assert entries == [
        ("dead: no signal", FLAG_RGB),
        ("nan: NaN starts here", FLAG_RGB),
        ("exploding: >100× the median layer", FLAG_RGB),
    ]


def test_note_under_the_title_counts_the_flags(broken_scene):
    assert broken_scene.notes[0] == "flags: 1 layer dead, 1 nan, 1 exploding"


def test_healthy_scene_has_no_flag_legend_or_note(healthy_scene):
    assert not any(healthy_scene.blocks.flags)
    assert all(rgb != FLAG_RGB for _, rgb in healthy_scene.legend)
    assert not any(n.startswith("flags:") for n in healthy_scene.notes)


def test_png_marks_every_flagged_block(broken_scene, broken_png):
    red = red_mask(broken_png)
    for nid in FLAGGED:
        x0, y0, x1, y1 = screen_box(broken_scene, broken_scene.blocks.index(nid))
        yy0, yy1 = max(0, int(y0) - BADGE_PX[1]), int(y1) + BADGE_PX[1]
        xx0, xx1 = max(0, int(x0) - BADGE_PX[0]), int(x1) + BADGE_PX[0]
        assert red[yy0:yy1, xx0:xx1].sum() > 50, nid


def test_png_red_lies_only_over_flagged_blocks_and_the_legend(broken_scene, broken_png):
    red = red_mask(broken_png)
    allowed = np.zeros_like(red)
    for nid in FLAGGED:
        x0, y0, x1, y1 = screen_box(broken_scene, broken_scene.blocks.index(nid))
        allowed[
            max(0, int(y0) - BADGE_PX[1]) : int(y1) + BADGE_PX[1], max(0, int(x0) - BADGE_PX[0]) : int(x1) + BADGE_PX[0]
        ] = True
    x0, y0, x1, y1 = (int(v) for v in broken_scene.overlays.legend)
    allowed[y0 : y1 + 1, x0 : x1 + 1] = True
    assert red.sum() > 300 and not (red & ~allowed).any()


def test_png_of_a_healthy_model_has_no_red(healthy_scene, tmp_path):
    image = imageio.imread(render_png(healthy_scene, tmp_path / "healthy.png"))
    assert red_mask(image).sum() == 0


def test_window_plotter_draws_the_marks(broken_scene, healthy_scene):
    for scene, has_marks in ((broken_scene, True), (healthy_scene, False)):
        plotter, _ = build_plotter(scene, off_screen=True)  # what show() opens a window on
        try:
            assert bool(red_mask(plotter.screenshot(return_img=True)).sum() > 300) == has_marks
        finally:
            plotter.close()


def test_mp4_frames_show_the_marks(tmp_path):
    from render3d.record import Recorder
    from render3d.record.animate import animate_recording

    model = Net()
    probe = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    rec = Recorder(model, probe, tmp_path / "rec", overwrite=True)
    rec.snapshot(1)
    rec.snapshot(2)
    out = animate_recording(tmp_path / "rec", tmp_path / "broken.mp4", frames_per_epoch=1, size=(320, 192))
    with imageio.get_reader(out) as reader:
        frames = [f for f in reader]  # list() asks len(), which ffmpeg readers give as inf
    # video compression shifts colours a little: a looser tolerance than for the PNG
    assert all(red_mask(f, tolerance=60).sum() > 100 for f in frames)


def test_a_badge_on_the_right_most_block_stays_inside_the_image(broken_scene):
    import dataclasses

    from render3d.scene.flags import flag_badges

    last = int(np.argmax(broken_scene.blocks.centers[:, 0]))  # the output slab at the image's right
    flags = [()] * len(broken_scene.blocks)
    flags[last] = ("dead", "constant")
    blocks = dataclasses.replace(broken_scene.blocks, flags=flags)
    b = blocks
    anchor = np.array([[b.centers[last, 0], b.lower[last, 1], b.upper[last, 2]]])
    badges = flag_badges(blocks, broken_scene.camera, SIZE)
    width_px = badges.boxes[0, 2] - badges.boxes[0, 0]
    assert project(broken_scene, anchor, SIZE)[0, 0] + width_px > SIZE[0]  # at its block's edge: off the frame
    assert badges.boxes[0, 2] <= SIZE[0] - 5.9
    assert project(broken_scene, badges.anchors, SIZE)[0, 0] == pytest.approx(badges.boxes[0, 0] + 1 + badges.margin)


def test_labels_keep_their_clearance_from_flag_badges():
    # a ViT's zero-initialised head is flagged "dead constant": placed as if the badge were not there,
    # its own label sat under the block, against the badge
    from torchvision.models.vision_transformer import VisionTransformer

    from render3d.scene.flags import flag_badges
    from render3d.scene.labels import PAD_PX, label_pixel_boxes

    torch.manual_seed(0)
    vit = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64)
    scene = build_scene(render3d.trace(vit.eval(), torch.randn(1, 3, 32, 32)), "activations", image_size=SIZE)
    badges = flag_badges(scene.blocks, scene.camera, SIZE).boxes
    labels = label_pixel_boxes(scene.labels, scene.camera, SIZE, scene.labels.font_px) + [
        -PAD_PX,
        -PAD_PX,
        PAD_PX,
        PAD_PX,
    ]
    assert len(badges) == 1 and "head" in [t.split("\n")[0] for t in scene.labels.texts]
    apart = (
        (labels[:, None, 2] <= badges[None, :, 0])
        | (badges[None, :, 2] <= labels[:, None, 0])
        | (labels[:, None, 3] <= badges[None, :, 1])
        | (badges[None, :, 3] <= labels[:, None, 1])
    )
    assert apart.all()


def test_badges_are_one_textured_mesh_of_one_quad_per_flagged_block(broken_scene):
    plotter, _ = build_plotter(broken_scene, size=SIZE)
    try:
        badges = plotter.renderer.actors["flags:badges"]
        assert badges.mapper.dataset.n_cells == 2 * len(FLAGGED)  # two triangles a badge
        assert badges.texture is not None
    finally:
        plotter.close()


def test_badges_of_neighbouring_flagged_blocks_are_stacked_not_drawn_over_each_other(broken_scene):
    import dataclasses

    from render3d.scene.flags import flag_badges

    # every block flagged with the longest text: side by side, neighbouring badges would overlap
    blocks = dataclasses.replace(broken_scene.blocks, flags=[("dead", "constant")] * len(broken_scene.blocks))
    badges = flag_badges(blocks, broken_scene.camera, SIZE)
    b = badges.boxes
    starts = np.array([_badge_start(broken_scene, blocks, int(i)) for i in badges.index])
    unstacked_top = starts[:, 1] + 1 + badges.margin - (b[:, 3] - b[:, 1])
    clash = [
        (i, j)
        for i in range(len(b))
        for j in range(i)
        if b[i, 0] < b[j, 2]
        and b[j, 0] < b[i, 2]
        and unstacked_top[i] < starts[j, 1]
        and unstacked_top[j] < starts[i, 1]
    ]
    assert clash  # the scene has badges that would have been drawn over each other
    apart = [
        b[i, 2] + badges.margin <= b[j, 0]
        or b[j, 2] + badges.margin <= b[i, 0]
        or b[i, 3] + badges.margin <= b[j, 1]
        or b[j, 3] + badges.margin <= b[i, 1]
        for i in range(len(b))
        for j in range(i)
    ]
    assert all(apart)
    fits = starts[:, 0] - 1 - badges.margin + (b[:, 2] - b[:, 0]) <= SIZE[0] - 6  # else moved left off the edge
    right = b[fits, 0] - (starts[fits, 0] - 1 - badges.margin)
    assert (right >= -1e-9).all() and (right <= 0.25 * (b[fits, 2] - b[fits, 0]) + 1e-9).all()  # near its block
    # each badge is drawn where its box says (its anchor is the text's lower left)
    px = project(broken_scene, badges.anchors, SIZE)
    np.testing.assert_allclose(px, np.column_stack([b[:, 0], b[:, 3]]) + [1 + badges.margin, -1 - badges.margin])


def test_a_badge_clipping_the_end_of_another_moves_right_past_it():
    from render3d.scene.flags import _separated

    boxes = np.array([[10.0, 80, 60, 95], [55, 82, 105, 97], [200, 80, 250, 95]])  # 5 px of 50 overlap
    np.testing.assert_array_equal(_separated(boxes, (400, 200), gap=2), [[0, 0], [7, 0], [0, 0]])


def test_a_badge_mostly_over_another_goes_under_it_or_above_where_under_leaves_the_image():
    from render3d.scene.flags import _separated

    boxes = np.array([[10.0, 80, 60, 95], [30, 82, 80, 97], [200, 80, 250, 95]])  # 30 px of 50 overlap
    np.testing.assert_array_equal(_separated(boxes, (400, 200), gap=2), [[0, 0], [0, 15], [0, 0]])
    np.testing.assert_array_equal(_separated(boxes, (400, 100), gap=2), [[0, 0], [0, -19], [0, 0]])


def _badge_start(scene, blocks, i: int) -> np.ndarray:
    """Screen point a badge starts from: its block's bottom front edge, at the block's centre."""
    anchor = np.array([[blocks.centers[i, 0], blocks.lower[i, 1], blocks.upper[i, 2]]])
    return project(scene, anchor, SIZE)[0]
