"""The training story: time warp, probe name, stored logits, prediction bars, class names, panels."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from record_fixtures import SHAPE, tiny_model

from render3d.errors import UsageError
from render3d.probe import describe_probe, make_probe
from render3d.record import Recorder, load_recording
from render3d.record.frames import default_duration, segment_shares, story_positions
from render3d.record.story import (
    blend_changes,
    check_classes,
    load_story,
    probe_image,
    read_classes,
    softmax,
    top_classes,
    torchvision_classes,
    visual_change,
)


def test_segment_shares_blend_a_floor_with_the_change():
    np.testing.assert_allclose(segment_shares(np.array([9.0, 0.0, 0.0, 1.0])), [0.575, 0.125, 0.125, 0.175])
    np.testing.assert_array_equal(segment_shares(np.zeros(4)), [0.25] * 4)  # nothing changed: even


def test_story_positions_hold_then_warp_then_hold():
    p = story_positions(np.array([3.0, 1.0]), 10, duration=3.0, hold=0.5)
    assert len(p) == 30
    np.testing.assert_array_equal(p[:5], 0.0)
    np.testing.assert_array_equal(p[-5:], 2.0)
    # segment 0 changed 3x as much: 0.25 + 0.5 * 0.75 = 62.5 % of the 20 moving frames
    np.testing.assert_allclose(p[5:25], np.interp(np.linspace(0, 1, 20), [0, 0.625, 1], [0, 1, 2]))


def test_default_length_of_a_ten_epoch_recording():
    assert default_duration(10, 1.5) == pytest.approx(11.0)
    assert len(story_positions(np.ones(10), 30)) == 330
    assert len(story_positions(np.zeros(0), 30)) == 90  # one snapshot: the two holds, standing still


def test_story_positions_refuse_holds_longer_than_the_video():
    with pytest.raises(ValueError, match="leaves no time to move"):
        story_positions(np.ones(3), 30, duration=2.0, hold=1.0)


def test_change_measures():
    before = {"a": np.zeros(4), "b": np.zeros(2)}
    after = {"a": np.full(4, 1.0), "b": np.array([0.0, 4.0])}
    assert visual_change(before, after, {"a": (0.0, 2.0), "b": (0.0, 4.0)}) == pytest.approx((0.5 + 0.5) / 2)
    np.testing.assert_allclose(blend_changes([3.0, 1.0], [0.0, 2.0], None), [0.375, 0.625])
    np.testing.assert_array_equal(blend_changes([0.0, 0.0]), [0.0, 0.0])


def test_softmax_and_top_classes():
    np.testing.assert_allclose(softmax(np.array([0.0, np.log(3.0)])), [0.25, 0.75])
    np.testing.assert_array_equal(top_classes(np.array([0.1, 0.6, 0.3])), [0, 1, 2])  # <= 10: all, in class order
    final = np.arange(12, dtype=float)
    np.testing.assert_array_equal(top_classes(final), [11, 10, 9, 8, 7])
    np.testing.assert_array_equal(top_classes(final, label=0), [11, 10, 9, 8, 0])  # the true class stays in view


def test_probe_image_stretches_to_grey():
    image = probe_image(np.array([[[[-1.0, 0.0], [1.0, 1.0]]]]))
    assert image.shape == (2, 2, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[..., 0], [[0, 128], [255, 255]])
    assert probe_image(np.zeros((1, 7))) is None  # not an image


def test_describe_probe_names_the_digit_and_the_file(tmp_path):
    assert describe_probe("digit:45") == ("digit 3", 3)
    assert describe_probe(str(tmp_path / "cat.png")) == ("cat.png", None)


def test_class_files_and_counts(tmp_path):
    lines = tmp_path / "c.txt"
    lines.write_text("cat\n\ndog\n")
    listed = tmp_path / "c.json"
    listed.write_text(json.dumps(["a", "b", "c"]))
    assert read_classes(lines) == ["cat", "dog"] and read_classes(listed) == ["a", "b", "c"]
    with pytest.raises(UsageError, match=r"^--classes c.json: 3 class names, but the model has 10 outputs; "):
        check_classes(read_classes(listed), 10, "--classes c.json")


def test_torchvision_categories_come_from_the_weights_metadata():
    names = torchvision_classes("torchvision:resnet18")
    assert len(names) == 1000 and names[0] == "tench"
    assert torchvision_classes("torchvision:no_such_model") is None


@pytest.fixture(scope="module")
def named(tmp_path_factory):
    folder = tmp_path_factory.mktemp("story") / "rec"
    model = tiny_model()
    with Recorder(model, "digit:45", folder, classes=[str(d) for d in range(10)]) as rec:
        rec.snapshot(0, loss=2.3, acc=0.1)
        with torch.no_grad():
            model.fc2.bias += torch.arange(10.0)  # a visible change of prediction
        rec.snapshot(1, loss=1.0, acc=0.5)
    return folder, model


def test_recorder_stores_the_probe_name_classes_and_exact_logits(named):
    folder, model = named
    rec = load_recording(folder)
    assert (rec.probe_name, rec.probe_label, rec.classes) == ("digit 3", 3, [str(d) for d in range(10)])
    model.eval()
    with torch.no_grad():
        expected = model(make_probe("digit:45", SHAPE)).numpy().reshape(-1)
    np.testing.assert_array_equal(rec.logits(1), expected)


def test_recording_the_logits_adds_no_node_to_the_graph(named):
    import render3d

    folder, model = named
    assert load_recording(folder).signature == render3d.trace(model, make_probe("digit:45", SHAPE)).signature()


def test_older_recordings_without_names_or_logits_still_load(named, tmp_path):
    import shutil

    folder, _ = named
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    manifest = json.loads((old / "manifest.json").read_text())
    for key in ("name", "label"):
        manifest["probe"].pop(key)
    manifest.pop("classes")
    (old / "manifest.json").write_text(json.dumps(manifest))
    for snap in old.glob("snapshot_*.npz"):  # as written before logits were stored
        with np.load(snap) as data:
            arrays = {k: data[k] for k in data.files if k != "logits"}
        np.savez_compressed(snap, **arrays)
    rec = load_recording(old)
    assert (rec.probe_name, rec.probe_label, rec.classes) == (None, None, None)
    exact = load_recording(folder).logits(1)
    fallback = rec.logits(1)  # the output node's quantised activation: within half a step
    assert fallback.shape == (10,)
    assert np.abs(fallback - exact).max() <= (exact.max() - exact.min()) / 510 + 1e-5


def test_story_frame_interpolates_the_prediction(named):
    folder, _ = named
    rec = load_recording(folder)
    story = load_story(rec, [0, 1])
    p = softmax(np.stack([rec.logits(0), rec.logits(1)]))
    frame = story.at(0.5)
    order = np.arange(10)  # ten classes: all shown, in class order
    assert [name for name, _, _ in frame.bars] == [str(k) for k in order]
    assert [true for _, _, true in frame.bars] == [k == 3 for k in order]
    np.testing.assert_allclose([v for _, v, _ in frame.bars], (p[0, order] + p[1, order]) / 2)
    assert list(frame.charts) == ["loss", "accuracy"]
    xs, ys = frame.charts["loss"]["loss"]
    np.testing.assert_allclose(xs, [0.0, 0.5])
    np.testing.assert_allclose(ys, [2.3, 1.65])
    assert frame.chart_limits["accuracy"] == (0.0, 1.0, True)


def test_story_refuses_a_wrong_class_count(named):
    folder, _ = named
    with pytest.raises(UsageError, match=r"^--classes x.txt: 2 class names, but the model has 10 outputs"):
        load_story(load_recording(folder), [0, 1], classes=["a", "b"], classes_source="--classes x.txt")


def test_panels_draw_bars_to_scale():
    from render3d.rendering.panels import TRUE_BAR, story_panels

    def orange_width(p: float) -> int:
        image = story_panels(
            (384, 720),
            image=np.zeros((8, 8, 3), np.uint8),
            name="digit 3",
            bars=[("3", p, True), ("5", 1 - p, False)],
            charts={},
            chart_limits={},
            epoch_range=(0.0, 1.0),
        )
        assert image.shape == (720, 384, 3)
        orange = np.all(image == TRUE_BAR, axis=2)
        return int(orange.sum(axis=1).max())

    full, half = orange_width(1.0), orange_width(0.5)
    assert full > 150 and abs(half - full / 2) <= 1.5


def test_a_short_duration_shortens_the_default_hold():
    p = story_positions(np.ones(2), 10, duration=3.0)  # holds of 0.5 s, not 1.5 s
    assert len(p) == 30 and np.count_nonzero(p == 0) == 6 and np.count_nonzero(p == 2) == 6


def test_the_story_scene_labels_its_input_and_first_pool():
    """Both sit tucked between bigger blocks: the labels go flush with the block's edge instead of vanishing."""
    import render3d
    from render3d.models import DigitsCNN
    from render3d.scene.builder import build_scene

    torch.manual_seed(0)
    scene = build_scene(
        render3d.trace(DigitsCNN(), make_probe("digit:45", SHAPE)), "activations", image_size=(896, 720)
    )
    firsts = [text.split("\n")[0] for text in scene.labels.texts]
    assert "input" in firsts and "pool" in firsts
