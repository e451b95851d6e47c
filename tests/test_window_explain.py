"""``e`` in the window (issue 11 part 3): the selected block's operation explainer played in place of
the scene, and back to the scene exactly as it was; driven offscreen through the interactor."""

from __future__ import annotations

import pytest
import torch
import torchvision
from window_fixtures import click_block, open_window, press

import render3d
from render3d.api import WindowScenes
from render3d.explainer import explain_scene
from render3d.models import SeedCNN
from render3d.rendering.window import key_map


@pytest.fixture(scope="module")
def scenes():
    torch.manual_seed(0)
    model = SeedCNN().eval()
    x = torch.randn(1, 3, 64, 64)
    return WindowScenes(
        lambda capture: render3d.trace(model, x, capture=capture),
        explainer=lambda layer: explain_scene(model, x, layer=layer),
    )


@pytest.fixture
def window(scenes):
    win = open_window(
        scenes("activations", frozenset(), (640, 360)), rebuild=scenes, describe=scenes.describe, explain=scenes.explain
    )
    yield win
    win.plotter.close()


def visible(window, prefix: str) -> set[str]:
    """Names of the renderer's actors starting with ``prefix`` that are drawn now."""
    return {
        name
        for name, actor in window.plotter.renderer.actors.items()
        if name.startswith(prefix) and actor.GetVisibility()
    }


def camera(window):
    cam = window.plotter.camera
    return (
        cam.GetPosition(),
        cam.GetFocalPoint(),
        cam.GetViewUp(),
        cam.GetViewAngle(),
        cam.GetWindowCenter(),
        cam.GetClippingRange(),
    )


def notice(window) -> str:
    return key_map(window.plotter).notice_actor.GetInput()


def test_e_hides_the_scene_and_draws_the_conv_explainer(window):
    scene_actors = set(window.actors.names)
    click_block(window, "conv1#1")
    press(window, "e")
    assert (
        window.explaining is not None
        and window.explaining.view.scene.title == "conv1: Conv2d 3→64, kernel 3×3, stride 1, padding 1"
    )
    assert "explain:plane:in0" in visible(window, "explain:")
    assert not scene_actors & visible(window, "")
    assert not visible(window, "panel:")
    assert notice(window) == (
        "explaining conv1#1, the Conv2d of block conv1#1 (Conv2d + relu) · space: pause · "
        "Left/Right: step · e/Esc: back"
    )


def test_the_notice_and_help_are_drawn_over_the_explainer(window):
    click_block(window, "conv1#1")
    press(window, "e")
    props = window.plotter.renderer.GetViewProps()
    n = props.GetNumberOfItems()
    keys = key_map(window.plotter)
    assert [props.GetItemAsObject(i) for i in (n - 2, n - 1)] == [keys.notice_actor, keys.help_actor]


@pytest.fixture
def clock(monkeypatch):
    """The explain player's clock, in seconds, set by the test."""
    from render3d.rendering import explain_player

    now = [100.0]
    monkeypatch.setattr(explain_player, "perf_counter", lambda: now[0])
    return now


def test_timer_ticks_advance_the_frames_on_time_and_the_last_one_holds(window, clock):
    click_block(window, "conv1#1")
    press(window, "e")
    player = window.explaining
    assert player.playing and player.view.position == 0
    assert player.interval_ms == 33  # the explainer's 30 fps
    player.tick()
    player.tick()
    assert player.view.position == 2  # at least one frame per tick
    clock[0] += 1.0
    player.tick()
    assert player.view.position == 30  # a slow window catches up with the clock
    clock[0] += 60.0
    player.tick()
    assert player.view.position == len(player.view) - 1 and not player.playing
    player.tick()
    assert player.view.position == len(player.view) - 1


def test_space_pauses_and_arrows_step(window, clock):
    click_block(window, "conv1#1")
    press(window, "e")
    player = window.explaining
    press(window, "space")
    assert not player.playing
    player.tick()
    assert player.view.position == 0
    press(window, "Right")
    press(window, "Right")
    press(window, "Left")
    assert player.view.position == 1 and not player.playing
    press(window, "space")
    assert player.playing


@pytest.mark.parametrize("key", ["e", "Escape"])
def test_e_or_escape_returns_to_the_scene_exactly_as_it_was(window, key):
    click_block(window, "pool#2")
    window.plotter.render()
    shown = visible(window, "")
    before = camera(window)
    press(window, "e")
    assert window.explaining is not None and camera(window) != before
    press(window, key)
    assert window.explaining is None
    assert not visible(window, "explain:")
    assert visible(window, "") == shown
    assert camera(window) == before
    assert window.panel.node_id == "pool#2"


def test_a_block_the_explainer_does_not_draw_gets_a_notice(window):
    window.select(window.actors.scene.blocks.index("view#1"))  # a thin reshape slab: picked at few pixels
    press(window, "e")
    assert window.explaining is None
    assert notice(window) == (
        "cannot explain view#1: view#1 is a view; explain draws Conv1d/Conv2d, MaxPool/AvgPool "
        "1d/2d, Linear, BatchNorm1d/2d, LayerNorm, MultiheadAttention or a module calling "
        "F.scaled_dot_product_attention"
    )


def test_e_without_a_selected_block_says_to_click_one(window):
    press(window, "e")
    assert window.explaining is None and notice(window) == "click a block first, then e"


def test_scene_keys_wait_while_the_explainer_is_shown(window):
    click_block(window, "conv1#1")
    press(window, "e")
    press(window, "a")
    assert notice(window) == "the explainer is shown: e or Esc goes back to the scene first"
    assert window.explaining is not None and not visible(window, "") & set(window.actors.names)


def test_help_lists_e_only_in_a_window_that_knows_the_model(scenes):
    window = open_window(scenes("architecture", frozenset(), (640, 360)), explain=scenes.explain)
    try:
        lines = key_map(window.plotter).help_text().splitlines()
        for line in (
            "e: explain the selected block's operation in this window (e again: back)",
            "Escape: back from the explainer, else close the side panel",
            "space: play / pause the explainer",
            "Left: the explainer's previous frame (pauses)",
        ):
            assert line in lines
        assert window.actors.caption_actor.GetInput() == (
            "click a block: details   e: explain it   a: activations   l: labels   r: reset view   h: all keys"
        )
    finally:
        window.plotter.close()
    bare = open_window(scenes("architecture", frozenset(), (640, 360)))
    try:
        assert not any(line.startswith(("e:", "space:")) for line in key_map(bare.plotter).help_text().splitlines())
        assert "e:" not in bare.actors.caption_actor.GetInput()
        press(bare, "e")
        assert bare.explaining is None
    finally:
        bare.plotter.close()


def test_show_passes_an_explainer_only_with_a_model(monkeypatch):
    import render3d.rendering

    calls = []
    monkeypatch.setattr(render3d.rendering, "show_scene", lambda scene, **kw: calls.append(kw.get("explain")))
    model = SeedCNN().eval()
    x = torch.randn(1, 3, 64, 64)
    render3d.show(model, x, size=(640, 360))
    trace = render3d.trace(model, x, capture="none")
    render3d.show(trace, size=(640, 360))
    render3d.show(render3d.build_scene(trace))
    assert calls[0] is not None and calls[1:] == [None, None]


def test_a_folded_conv_bn_relu_block_explains_its_conv():
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    x = torch.randn(1, 3, 64, 64)
    scenes = WindowScenes(
        lambda capture: render3d.trace(model, x, capture=capture),
        explainer=lambda layer: explain_scene(model, x, layer=layer),
    )
    scenes("architecture", frozenset(), (640, 360))
    scene, which = scenes.explain("conv1#1")
    assert scene.title == "conv1: Conv2d 3→64, kernel 7×7, stride 2, padding 3"
    assert which == "explaining conv1#1, the Conv2d of block conv1#1 (Conv2d + BatchNorm2d + ReLU)"
