"""Expanding ×N blocks and capturing activations on demand, in the scene builder and in the window
(issue 11 item 4): ResNet-50's layer3.1 … layer3.5 fold into one ×5 block."""

from __future__ import annotations

import pytest
import torchvision
from window_fixtures import SIZE, click_block, model_scenes, open_window, press

from render3d.rendering.window import key_map
from render3d.scene.builder import build_scene

RUN = ("layer3.1#1", "layer3.2#1", "layer3.3#1", "layer3.4#1", "layer3.5#1")


@pytest.fixture(scope="module")
def scenes():
    return model_scenes(torchvision.models.resnet50)


@pytest.fixture
def window(scenes):
    win = open_window(scenes("architecture", frozenset(), SIZE), rebuild=scenes)
    yield win
    win.plotter.close()


def test_build_scene_draws_an_expanded_block_as_its_repeats(scenes):
    trace = scenes.trace("architecture")
    folded = build_scene(trace, image_size=SIZE)
    expanded = build_scene(trace, image_size=SIZE, expanded={"layer3.1#1", "no-such-block"})
    assert folded.blocks.repeats[folded.blocks.index("layer3.1#1")] == 5
    assert len(expanded.blocks) == len(folded.blocks) + 4
    at = expanded.blocks.index("layer3.1#1")
    assert tuple(expanded.blocks.node_ids[at : at + 5]) == RUN
    assert (expanded.blocks.repeats[at : at + 5] == 1).all()
    assert expanded.notes[-1] == "expanded 1 ×N block: 5 blocks drawn in their place"
    chain = {(c.src, c.dst) for c in expanded.connectors}
    assert {("layer3.0.add#1", RUN[0]), *zip(RUN, RUN[1:]), (RUN[-1], "layer4.0.conv1#1")} <= chain


def test_clicking_a_xN_block_expands_it_in_place(window):
    before = len(window.actors.scene.blocks)
    click_block(window, "layer3.1#1")
    blocks = window.actors.scene.blocks
    assert len(blocks) == before + 4 and set(RUN) <= set(blocks.node_ids)
    assert window.expanded == {"layer3.1#1": RUN}
    assert window.panel.node_id is None
    assert key_map(window.plotter).notice_actor.GetInput().startswith("expanded 5 repeats")


def test_a_second_click_on_an_expanded_repeat_folds_the_run_again(window):
    before = len(window.actors.scene.blocks)
    click_block(window, "layer3.1#1")
    click_block(window, "layer3.3#1")
    assert window.panel.node_id == "layer3.3#1"  # the first click opens its panel
    click_block(window, "layer3.3#1")
    assert len(window.actors.scene.blocks) == before and window.expanded == {}
    assert window.actors.scene.blocks.repeats[window.actors.scene.blocks.index("layer3.1#1")] == 5


def test_x_folds_the_expanded_repeats_and_the_keys_still_work(window):
    before = len(window.actors.scene.blocks)
    click_block(window, "layer3.1#1")
    press(window, "x")
    assert len(window.actors.scene.blocks) == before
    press(window, "l")
    assert not window.actors.labels_visible  # l acts on the rebuilt scene's labels
    start = window.plotter.camera_position.to_list()
    window.plotter.camera.azimuth += 30
    press(window, "r")
    assert window.plotter.camera_position.to_list() == start


def test_a_in_architecture_mode_captures_activations(window, scenes):
    assert not window.actors.scene.feature_maps
    click_block(window, "conv1#1")
    press(window, "a")
    assert window.mode == "activations"
    assert len(window.actors.scene.feature_maps) == len(scenes("activations", frozenset(), SIZE).feature_maps) > 20
    assert window.actors.feature_values("conv1#1").shape == (6, 32, 32)
    assert key_map(window.plotter).notice_actor.GetInput().startswith("captured activations in ")
    assert window.panel.node_id == "conv1#1" and window.panel.grid_actor.GetVisibility()
    press(window, "a")
    assert not window.actors.activations_visible  # from now on a shows and hides them


def test_without_a_model_a_and_xN_clicks_say_why(scenes):
    window = open_window(scenes("architecture", frozenset(), SIZE))  # a Scene: nothing to rebuild it from
    try:
        notice = key_map(window.plotter).notice_actor
        press(window, "a")
        assert not window.actors.scene.feature_maps
        assert notice.GetInput().startswith("no activations to show: this window was given a scene without them")
        n = len(window.actors.scene.blocks)
        click_block(window, "layer3.1#1")
        assert len(window.actors.scene.blocks) == n and window.panel.node_id == "layer3.1#1"
        assert notice.GetInput().startswith("5 repeats folded here; expanding them needs the model")
    finally:
        window.plotter.close()


def test_help_lists_the_mouse_actions(window):
    lines = key_map(window.plotter).help_text().splitlines()
    for line in (
        "click a block: side panel: its channels, numbers and what it does",
        "click a ×N block: expand it into its N repeats",
        "click empty space: close the side panel",
        "Escape: close the side panel",
        "x: fold the expanded repeats again",
    ):
        assert line in lines
