"""Hostile and mistyped scene files: one line naming the file and the key, exit 2, nothing written
outside the gallery, no trust granted by a file, and a gallery that finishes the good scenes."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from render3d.cli import main
from render3d.errors import SceneFileError
from render3d.scenefile import KEYS, SceneFile, read_scene_file

GOOD = 'model = "render3d:SeedCNN"\nsize = [160, 96]\n'


def one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert re.match(r"^\w+Error: .+$", lines[0]), lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "text, message",
    [
        ('model = "render3d:SeedCNN"\ndepth = "two"\n', "key 'depth' must be a positive integer, got 'two'"),
        ("model = 42\n", "key 'model' must be a non-empty string, got 42"),
        (
            'model = "render3d:SeedCNN"\ninput_shape = "1,3,64,64"\n',
            "key 'input_shape' must be a list of positive integers, e.g. [1, 3, 224, 224], got '1,3,64,64'",
        ),
        ('model = "render3d:SeedCNN"\ntitle = 5\n', "key 'title' must be a string, got 5"),
        ('model = "render3d:SeedCNN"\nmode = "both"\n', "key 'mode' must be one of 'architecture', 'activations'"),
        ('model = "render3d:SeedCNN"\nanti_aliasing = "yes"\n', "key 'anti_aliasing' must be true or false"),
        ('model = "render3d:SeedCNN"\nsize = [0, 0]\n', "key 'size': size 0x0 is not valid"),
        ('model = "render3d:SeedCNN"\nsize = [100000, 100000]\n', "key 'size': size 100000x100000 is too large"),
        ('model = "render3d:SeedCNN"\ndevice = "tpu"\n', "key 'device': device 'tpu' is not known"),
        (
            'model = "render3d:SeedCNN"\nmode = "activations"\ndevice = "meta"\n',
            "key 'device': device 'meta' cannot draw activations",
        ),
        ('model = "render3d:SeedCNN"\n[style]\nfold = "no"\n', "key 'style.fold' must be true or false, got 'no'"),
        ('model = "render3d:SeedCNN"\n[style]\nazimuth = nan\n', "key 'style.azimuth' must be a finite number"),
        ('model = "render3d:SeedCNN"\n[style]\nfoldd = true\n', "unknown key 'style.foldd'; valid style options: "),
        ('model = "render3d:SeedCNN"\n[style]\nlod = "most"\n', "[style]: lod must be one of 'auto', 'slab'"),
        (
            'model = "render3d:SeedCNN"\noutput = "../../x"\n',
            "key 'output' must be a file name inside the gallery folder (no '..', not absolute), got '../../x'",
        ),
        ('model = "render3d:SeedCNN"\noutput = "/tmp/x"\n', "key 'output' must be a file name inside the gallery"),
    ],
)
def test_mistyped_key_is_one_usage_line_naming_file_and_key(tmp_path, capsys, text, message):
    scene = tmp_path / "bad.toml"
    scene.write_text(text)
    assert main(["render", str(scene), "-o", str(tmp_path / "x.png")]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"SceneFileError: {scene}: ")
    assert message in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_non_utf8_scene_file(tmp_path, capsys):
    scene = tmp_path / "latin1.toml"
    scene.write_bytes('model = "render3d:SeedCNN"\ntitle = "Caf\xe9"\n'.encode("latin-1"))
    assert main(["render", str(scene), "-o", str(tmp_path / "x.png")]) == 2
    assert one_error_line(capsys) == (
        f"SceneFileError: {scene}: not UTF-8 text (byte 0xe9 at offset 39); TOML files are UTF-8"
    )


def test_scene_file_cannot_grant_trust(tmp_path, capsys):
    marker = tmp_path / "pwned"
    scene = tmp_path / "evil.toml"
    scene.write_text(GOOD + 'weights = "evil.pt"\ntrust_pickle = true\n')
    assert main(["gallery", str(scene), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        f"SceneFileError: {scene}: key 'trust_pickle' is not allowed: a scene file cannot grant "
        "trust; pass --trust-pickle on the command line (or trust_pickle=True in code)"
    )
    assert err[1].startswith("GalleryError: 1 of 1 scene files failed (evil.toml)")
    assert not marker.exists()


def test_trust_for_scene_weights_comes_from_the_command_line(tmp_path, capsys):
    import argparse

    import torch

    from render3d.models import SeedCNN

    # a checkpoint holding a non-tensor object: loads only with full unpickling
    torch.save({"state_dict": SeedCNN().state_dict(), "args": argparse.Namespace(lr=0.1)}, tmp_path / "w.pt")
    scene = tmp_path / "s.toml"
    scene.write_text(GOOD + 'weights = "w.pt"\n')
    assert main(["render", str(scene), "-o", str(tmp_path / "a.png")]) == 1
    assert "argparse.Namespace" in one_error_line(capsys)
    assert main(["render", str(scene), "-o", str(tmp_path / "b.png"), "--trust-pickle"]) == 0
    assert (tmp_path / "b.png").is_file() and not (tmp_path / "a.png").exists()


def test_gallery_goes_on_past_bad_scenes_and_reports_them_all(tmp_path, capsys):
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    (scenes / "a.toml").write_text(GOOD)
    (scenes / "b.toml").write_text(GOOD + 'depth = "two"\n')
    (scenes / "c.toml").write_text(GOOD + 'output = "../../escaped"\n')
    (scenes / "d.toml").write_text(GOOD)
    out = tmp_path / "gallery"
    out.mkdir()
    (out / "old.png").write_bytes(b"kept")
    assert main(["gallery", str(scenes), "-o", str(out)]) == 1
    captured = capsys.readouterr()
    assert "wrote 2 images to" in captured.out
    assert captured.err.splitlines() == [
        f"SceneFileError: {scenes / 'b.toml'}: key 'depth' must be a positive integer, got 'two'",
        f"SceneFileError: {scenes / 'c.toml'}: key 'output' must be a file name inside the gallery folder "
        "(no '..', not absolute), got '../../escaped'",
        "GalleryError: 2 of 4 scene files failed (b.toml, c.toml); the others were written",
    ]
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "d.png", "old.png"]
    assert (out / "old.png").read_bytes() == b"kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gallery", "scenes"]


# --------------------------------------------------------------------------------------------- fuzzing


def toml_value(value) -> str:
    """The TOML text of a value from :data:`VALUES` (inline tables and arrays)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_value(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"


SCALARS = (
    st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.booleans()
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
    | st.sampled_from(["render3d:SeedCNN", "architecture", "activations", "cpu", "meta", "x.pt", "../up"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
STYLE_NAMES = st.sampled_from(
    ["fold", "max_blocks", "layout", "azimuth", "view_angle", "wrap", "image_size", "topk", "cmap", "nope"]
)
SCENES = st.dictionaries(st.sampled_from(sorted(KEYS | {"trust_pickle", "mdoe"})), VALUES, max_size=6) | st.builds(
    lambda extra, style: {"model": "render3d:SeedCNN", **extra, "style": style},
    st.dictionaries(st.sampled_from(sorted(KEYS - {"style"})), VALUES, max_size=4),
    st.dictionaries(STYLE_NAMES, VALUES, max_size=3),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=SCENES)
def test_any_scene_file_parses_or_fails_in_one_line_naming_it(tmp_path, data):
    scene = tmp_path / "fuzz.toml"
    scene.write_text("\n".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in data.items()) + "\n")
    try:
        sf = read_scene_file(scene)
    except SceneFileError as exc:
        assert "\n" not in str(exc) and str(scene) in str(exc)
        return
    assert isinstance(sf, SceneFile) and isinstance(sf.model, str) and sf.mode in ("architecture", "activations")
    assert sf.depth is None or (type(sf.depth) is int and sf.depth >= 1)
    assert all(type(v) is int and v > 0 for v in sf.size + (sf.input_shape or ()))
    assert not Path(sf.output).is_absolute() and ".." not in Path(sf.output).parts
