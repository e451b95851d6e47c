"""The forward-pass tour: stops in data-path order with split/join narration, camera path, timing, video."""

from __future__ import annotations

import logging

import imageio.v3 as iio
import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import render3d
from render3d.cli import main
from render3d.models import SeedCNN
from render3d.scene.builder import build_scene
from render3d.scene.camera import project_points
from render3d.scene.labels import text_width
from render3d.scene.tour import Layout, plan_stops, plan_tour, stop_camera, wrap_caption

SIZE = (640, 352)


@pytest.fixture(scope="module")
def seed():
    torch.manual_seed(0)
    t = render3d.trace(SeedCNN(), torch.randn(1, 3, 64, 64))
    return t, build_scene(t, "activations", image_size=SIZE)


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    t = render3d.trace(torchvision.models.resnet18(), torch.randn(1, 3, 64, 64))
    return t, build_scene(t, "activations", image_size=SIZE)


def test_seed_stops_follow_the_data_path(seed):
    stops = plan_stops(*seed)
    assert [s.title.split(" · ")[1] for s in stops] == [
        "input.0",
        "conv1",
        "pool",
        "conv2",
        "pool",
        "conv3",
        "pool",
        "conv4",
        "pool",
        "view",
        "fc1",
        "fc2",
    ]


def test_a_stop_narrates_the_layer_and_what_is_folded_into_it(seed):
    trace, scene = seed
    stop = plan_stops(trace, scene)[1]
    zeros = round(100 * trace["relu#1"].stats.zero_fraction)
    assert stop.text == (
        "Conv 3×3, 64 filters, stride 1: 3×64×64 → 64×64×64; each output value is a weighted sum "
        f"over a 3×3×3 patch. Then ReLU sets negatives to 0 ({zeros} % of values here)."
    )
    assert stop.title == "2/12 · conv1"


def test_the_input_caption_says_what_the_input_shows(seed):
    assert plan_stops(*seed, input_name="digit 3")[0].text == (
        "Input: 3×64×64, digit 3, the example this pass runs on."
    )


def test_resnet18_has_a_sane_number_of_stops(resnet):
    assert len(plan_stops(*resnet)) == 28


def test_folded_run_is_one_stop_with_its_count(resnet):
    (stop,) = [s for s in plan_stops(*resnet) if "layer1" in s.title]
    assert stop.text == (
        "BasicBlock ×2 (147,968 parameters): 64×16×16 → 64×16×16. Each of the 2 repeats runs Conv "
        "3×3 → BN → ReLU → Conv 3×3 → BN → add → ReLU."
    )


def test_split_and_join_are_narrated(resnet):
    texts = {s.title.split(" · ")[1]: s.text for s in plan_stops(*resnet)}
    assert texts["layer2.0.conv1"].startswith(
        "The path splits: a shortcut (Conv 1×1 stride 2) runs beside the next "
        "2 blocks. Conv 3×3, 128 filters, stride 2: 64×16×16 → 128×8×8;"
    )
    assert texts["layer2.1.conv1"].startswith(
        "The path splits: a skip connection carries this tensor around the next 2 blocks. "
    )
    assert texts["layer2.0.add"].startswith("Add (residual join): 128×8×8 → 128×8×8; the skip path is added")


def test_transformer_stops_narrate_attention_and_the_skip():
    torch.manual_seed(0)
    model = nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 4, 64, batch_first=True), 2)
    t = render3d.trace(model, torch.randn(1, 10, 32))
    stops = plan_stops(t, build_scene(t, "activations", image_size=SIZE))
    texts = [s.text for s in stops]
    assert stops[1].inset == "10 tokens × 32 values"
    assert texts[1] == (
        "The path splits: a skip connection carries this tensor around the next block. "
        "Self-attention, 4 heads of 8: 10×32 → 10×32; each of the 10 tokens takes a weighted mix "
        "of all tokens, weighted by query·key similarity."
    )
    assert texts[-1] == (
        "TransformerEncoderLayer (8,544 parameters): 10×32 → 10×32. Inside: MultiheadAttention → "
        "add → LN → Linear 32→64 → ReLU → Linear 64→32 → add → LN."
    )


def test_a_loop_drawn_as_one_block_lists_one_iteration():
    class Loop(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 8)

        def forward(self, x):
            for _ in range(3):
                x = torch.tanh(self.a(x)) * 2
            return self.b(x)

    t = render3d.trace(Loop(), torch.randn(1, 8))
    (stop,) = [s for s in plan_stops(t, build_scene(t, "activations", image_size=SIZE)) if "loop" in s.title]
    assert stop.text == "forward·loop ×3: 8 → 8. Each of the 3 repeats runs Linear 8→8 → tanh → mul."


def test_inset_title_counts_the_channels_shown(resnet):
    stops = {s.title.split(" · ")[1]: s for s in plan_stops(*resnet)}
    assert stops["conv1"].inset == "the 6 strongest of 64 channels, 32×32"
    assert stops["fc"].inset == "1,000 values (each cell the mean of 4)"


def test_stop_camera_puts_the_block_inside_the_focus_area(resnet):
    trace, scene = resnet
    layout = Layout.for_scene(scene)
    i = scene.blocks.index("layer3.0.conv1#1")
    camera = stop_camera(scene, i, layout)
    x, y = project_points(camera, scene.blocks.centers[i][None], SIZE)[0]
    x0, y0, x1, y1 = layout.focus
    assert x0 <= x <= x1 and y0 <= y <= y1


def test_caption_wraps_inside_its_width_and_never_gets_cut():
    text = "Conv 3×3, 64 filters, stride 1: 3×32×32 → 64×32×32; each output value is a weighted sum over a 3×3×3 patch"
    lines, font = wrap_caption(text, 24, 400)
    assert " ".join(lines) == text
    assert max(text_width(line, font) for line in lines) <= 400 and len(lines) <= 4 and font == 24


def test_long_caption_is_set_smaller_to_fit_four_lines():
    lines, font = wrap_caption("word " * 30, 24, 300)
    assert len(lines) <= 4 and font < 24


def test_tour_starts_and_ends_on_the_overview_and_holds_each_stop(seed):
    plan = plan_tour(*seed, fps=10, seconds_per_stop=1.0)
    assert plan.frames[0].stop == -1 and plan.frames[-1].stop == len(plan.stops)
    assert plan.frames[0].camera == plan.frames[-1].camera
    held = [sum(1 for f in plan.frames if f.stop == k and f.blend == 1.0) for k in range(len(plan.stops))]
    assert held == [11] * 12  # 1 s of hold plus the last frame of the move in


def test_duration_sets_the_video_length(seed):
    plan = plan_tour(*seed, fps=10, duration=20.0)
    assert len(plan.frames) == 200


def test_camera_glides_without_jumps(seed):
    plan = plan_tour(*seed, fps=30)
    focal = np.array([f.camera.focal_point for f in plan.frames])
    steps = np.linalg.norm(np.diff(focal, axis=0), axis=1)
    extent = np.linalg.norm(np.subtract(*seed[1].bounds[::-1]))
    assert steps.max() < 0.1 * extent


def test_tour_writes_a_video_with_a_caption_panel(tmp_path, caplog):
    torch.manual_seed(0)
    caplog.set_level(logging.INFO, logger="render3d")
    path = render3d.tour(
        SeedCNN(), torch.randn(1, 3, 64, 64), path=tmp_path / "t.mp4", size=(320, 176), fps=4, duration=6.0
    )
    assert caplog.messages == [f"wrote {path}: 24 frames, 320x176, 6.0 s (4 fps)"]  # duration met at a low fps
    frames = iio.imread(path)
    assert frames.shape[1:] == (176, 320, 3) and len(frames) >= 20
    middle = frames[len(frames) // 2]
    panel = middle[150:170, 10:150]  # the caption box, bottom left: white with dark text
    assert (panel.mean(axis=2) > 230).mean() > 0.5 and (panel.min(axis=2) < 100).any()


def test_cli_tour_of_a_named_model(tmp_path):
    out = tmp_path / "t.mp4"
    assert (
        main(
            [
                "tour",
                "render3d:SeedCNN",
                "-o",
                str(out),
                "--size",
                "320x176",
                "--fps",
                "2",
                "--duration",
                "4",
                "--probe",
                "digit:3",
            ]
        )
        == 0
    )
    assert len(iio.imread(out)) >= 6


def test_cli_refuses_a_trace_without_values(tmp_path, capsys):
    assert main(["tour", "render3d:SeedCNN", "-o", str(tmp_path / "t.mp4"), "--device", "meta"]) == 2
    assert "has no activations" in capsys.readouterr().err


def test_inset_tiles_are_enlarged_with_white_gaps():
    from render3d.rendering.meshes import colormap_lut, values_rgb
    from render3d.rendering.tour import GAP_PX, inset_image
    from render3d.scene.model import FeatureMap

    values = np.arange(24, dtype=np.float32).reshape(4, 2, 3)
    fm = FeatureMap("x", "planes", values, np.zeros(3), np.ones(2), 0.1, (0.0, 23.0))
    lut = colormap_lut("viridis")
    image = inset_image(fm, lut, 40)
    assert image.shape == (2 * 12 + GAP_PX, 2 * 18 + GAP_PX, 3)  # 2×2 tiles of 2×3 values, 6 px per value
    assert (image[0, 0] == values_rgb(values[0, 0, 0], (0.0, 23.0), lut)).all()
    assert (image[:, 18 : 18 + GAP_PX] == 255).all()
    assert (image[-1, -1] == values_rgb(values[3, 1, 2], (0.0, 23.0), lut)).all()


def test_a_block_without_feature_maps_is_drawn_in_front_at_its_stop(seed):
    from render3d.rendering.tour import OUTLINE_COLOR, TourView

    trace, scene = seed
    plan = plan_tour(trace, scene, fps=2, seconds_per_stop=0.5)
    k = next(i for i, s in enumerate(plan.stops) if s.title.endswith("· view"))
    j = max(i for i, f in enumerate(plan.frames) if f.stop == k)
    view = TourView(scene, plan)
    try:
        image = view.draw(j)
    finally:
        view.close()
    block = plan.stops[k].block
    x, y = project_points(plan.frames[j].camera, scene.blocks.centers[block][None], SIZE)[0]
    around = image[int(y) - 3 : int(y) + 4, int(x) - 3 : int(x) + 4].reshape(-1, 3)
    assert (around == scene.blocks.colors[block]).all(axis=1).any()  # the cube in its colour, inside the frame
    assert (around == OUTLINE_COLOR).all(axis=1).any()


def test_transformer_tour_writes_a_gif(tmp_path):
    torch.manual_seed(0)
    model = nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 4, 64, batch_first=True), 2)
    path = render3d.tour(
        model, torch.randn(1, 10, 32), path=tmp_path / "t.gif", size=(320, 176), fps=2, duration=8.0, progress=False
    )
    frames = iio.imread(path)
    assert frames.shape[1:3] == (176, 320) and len(frames) >= 14
