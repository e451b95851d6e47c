"""MODEL strings, probe inputs and scene files: what users type, and the errors they get back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from render3d.errors import ModelSpecError, SceneFileError
from render3d.modelspec import build_on_meta, default_input_shape, load_model, parse_shape
from render3d.probe import load_digits_images, make_probe
from render3d.scenefile import read_scene_file


@pytest.mark.parametrize(
    "text, shape", [("1,3,224,224", (1, 3, 224, 224)), ("1x3x32x32", (1, 3, 32, 32)), (" 2, 16 ", (2, 16))]
)
def test_parse_shape(text, shape):
    assert parse_shape(text) == shape


def test_default_input_shapes_follow_the_family():
    assert default_input_shape("torchvision:resnet18", load_model("torchvision:resnet18")) == (1, 3, 224, 224)
    r3d = build_on_meta("torchvision:r3d_18")
    assert default_input_shape("torchvision:r3d_18", r3d) == (1, 3, 8, 112, 112)
    assert default_input_shape("render3d:SeedCNN", load_model("render3d:SeedCNN")) == (1, 3, 64, 64)


def test_meta_build_holds_no_weight_memory():
    model = build_on_meta("torchvision:vit_b_16")
    big = [p for p in model.parameters() if p.numel() >= 1024]
    assert big and all(p.device.type == "meta" for p in big)


def test_segmentation_builders_never_download(monkeypatch):
    import torch.hub

    def refuse(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    assert load_model("torchvision:fcn_resnet50") is not None


def test_digit_probe_is_a_normalised_digit():
    x = make_probe("digit:3", (1, 1, 32, 32))
    assert x.shape == (1, 1, 32, 32)
    images, labels = load_digits_images()
    assert labels[3] == 3
    small = torch.nn.functional.interpolate(x, size=(8, 8), mode="area")[0, 0].numpy()
    assert np.corrcoef(small.ravel(), images[3].ravel())[0, 1] > 0.9


def test_digit_probe_fills_three_channels():
    x = make_probe("digit:0", (1, 3, 64, 64))
    assert torch.equal(x[0, 0], x[0, 2])


def test_random_probe_is_seeded():
    assert torch.equal(make_probe("random", (1, 4)), make_probe(None, (1, 4)))


def test_npy_probe_must_match_shape(tmp_path):
    np.save(tmp_path / "p.npy", np.zeros((1, 3), dtype=np.float32))
    assert make_probe(str(tmp_path / "p.npy"), (1, 3)).shape == (1, 3)
    with pytest.raises(ModelSpecError, match=r"has shape \(1, 3\), the model takes \(1, 4\)"):
        make_probe(str(tmp_path / "p.npy"), (1, 4))


@pytest.mark.parametrize("spec", ["digit:99999", "digit:x", "nothing-here.png"])
def test_bad_probe_is_a_one_line_error(spec):
    with pytest.raises(ModelSpecError):
        make_probe(spec, (1, 3, 32, 32))


def test_scene_file_reads_weights_relative_to_itself(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('model = "render3d:SeedCNN"\nweights = "ck/w.pt"\ndepth = 1\n[style]\nfold = false\n')
    sf = read_scene_file(f)
    assert sf.weights == tmp_path / "ck" / "w.pt"
    assert sf.depth == 1 and sf.style == {"fold": False} and sf.output == "s"


@pytest.mark.parametrize(
    "text, message",
    [
        ("mode = 'activations'", "missing required key 'model'"),
        ("model = 'a:b'\nsize = [10]", "key 'size' must be [width, height]"),
        ("model = 'a:b'\n[style\n", "not valid TOML"),
    ],
)
def test_scene_file_errors(tmp_path, text, message):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(SceneFileError, match=message.replace("[", r"\[")):
        read_scene_file(f)


def test_every_shipped_scene_file_parses():
    from pathlib import Path

    files = sorted(Path(__file__).parent.parent.joinpath("scenes").glob("*.toml"))
    assert len(files) >= 8
    for f in files:
        read_scene_file(f)


def test_models_from_specs_are_seeded_without_touching_the_global_rng():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = load_model("render3d:SeedCNN")
    after = torch.rand(1)
    assert torch.equal(before, after)
    assert torch.equal(a.conv1.weight, load_model("render3d:SeedCNN").conv1.weight)


def test_digit_probe_without_scikit_learn_says_what_to_install(monkeypatch):
    import sys

    from render3d.errors import ModelSpecError
    from render3d.probe import make_probe

    monkeypatch.setitem(sys.modules, "sklearn", None)  # an import of sklearn now raises ImportError
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ModelSpecError, match=r"scikit-learn is not installed: pip install 'render3d\[demo\]'$"):
        make_probe("digit:3", (1, 1, 32, 32))
