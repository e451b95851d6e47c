"""``render3d export`` on the command line: formats by extension, recordings, one-line refusals."""

from __future__ import annotations

import pygltflib

from render3d.cli import main


def test_export_writes_an_activations_glb_and_says_so(tmp_path, capsys):
    out = tmp_path / "s.glb"
    args = ["export", "render3d.models:SeedCNN", "--mode", "activations", "--size", "640x360", "-o", str(out)]
    assert main(args) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}: 13 blocks, ")
    names = [n.name for n in pygltflib.GLTF2().load(str(out)).nodes]
    assert sum(name.startswith("fmap:") for name in names) == 11


def test_export_refuses_model_options_for_a_recording(tmp_path, capsys):
    from record_fixtures import make_recording

    folder = make_recording(tmp_path / "rec", snapshots=1)
    assert main(["export", str(folder), "--depth", "2", "-o", str(tmp_path / "r.html")]) == 2
    assert capsys.readouterr().err == (
        f"UsageError: render3d export: --depth applies to a MODEL, not to the recording "
        f"{folder} (it was recorded with its own)\n"
    )
    assert not (tmp_path / "r.html").exists()
