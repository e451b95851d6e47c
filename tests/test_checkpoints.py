"""render3d.checkpoints: layouts, safety (weights_only), damaged files, mismatch messages, ordering."""

from __future__ import annotations

import argparse
import pathlib
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from render3d.checkpoints import (
    find_checkpoints,
    load_checkpoint,
    read_checkpoint,
    read_object,
    read_state_dict,
    save_checkpoint,
)
from render3d.errors import CheckpointError
from render3d.models import SeedCNN


@pytest.fixture(scope="module")
def trained() -> dict[str, torch.Tensor]:
    """A SeedCNN state whose values differ from any fresh init."""
    torch.manual_seed(0)
    return {k: torch.randn_like(v) for k, v in SeedCNN().state_dict().items()}


def fresh() -> SeedCNN:
    torch.manual_seed(1)
    return SeedCNN()


def assert_state_equal(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    got = model.state_dict()
    assert list(got) == list(state)
    for key, value in state.items():
        assert torch.equal(got[key], value), key


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


class TouchOnUnpickle:
    """Unpickling this creates ``marker``: stands in for a malicious payload."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


# --------------------------------------------------------------------------------------------- layouts


def test_raw_state_dict_loads(tmp_path, trained):
    torch.save(trained, tmp_path / "raw.pt")
    model = fresh()
    assert load_checkpoint(model, tmp_path / "raw.pt") is model
    assert_state_equal(model, trained)


@pytest.mark.parametrize("key", ["state_dict", "model", "model_state_dict"])
def test_wrapped_state_dict_loads(tmp_path, trained, key):
    torch.save({key: trained, "epoch": 3, "optimizer": {"lr": 0.1}}, tmp_path / "wrapped.ckpt")
    model = load_checkpoint(fresh(), tmp_path / "wrapped.ckpt")
    assert_state_equal(model, trained)


def test_lightning_model_prefix_is_stripped(tmp_path, trained):
    # LightningModule with self.model = SeedCNN() and a loss with a weight buffer
    state = {f"model.{k}": v for k, v in trained.items()} | {"criterion.weight": torch.ones(2)}
    torch.save({"state_dict": state, "epoch": 7, "global_step": 70}, tmp_path / "epoch=7-step=70.ckpt")
    model = load_checkpoint(fresh(), tmp_path / "epoch=7-step=70.ckpt")
    assert_state_equal(model, trained)


def test_dataparallel_and_compile_prefixes_are_stripped(tmp_path, trained):
    torch.save({f"module._orig_mod.{k}": v for k, v in trained.items()}, tmp_path / "dp.pth")
    model = load_checkpoint(fresh(), tmp_path / "dp.pth")
    assert_state_equal(model, trained)


def test_safetensors_loads(tmp_path, trained):
    save_file(trained, tmp_path / "weights.safetensors")
    model = load_checkpoint(fresh(), tmp_path / "weights.safetensors")
    assert_state_equal(model, trained)


def test_read_state_dict_keeps_stored_keys(tmp_path, trained):
    state = {f"model.{k}": v for k, v in trained.items()}
    torch.save({"state_dict": state, "epoch": 1}, tmp_path / "a.ckpt")
    assert list(read_state_dict(tmp_path / "a.ckpt")) == list(state)


# --------------------------------------------------------------------------------------------- safety


def test_malicious_pickle_is_refused_without_running(tmp_path, trained):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": trained, "payload": TouchOnUnpickle(marker)}, path)
    model = fresh()
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(model, path)
    message = str(info.value)
    assert str(path) in message
    assert "--trust-pickle" in message
    assert "\n" not in message
    assert not marker.exists()


def test_trust_pickle_runs_the_pickle(tmp_path, trained):
    # the counterpart of the test above: the payload is real, and trust_pickle is what lets it run
    marker = tmp_path / "pwned"
    torch.save({"state_dict": trained, "payload": TouchOnUnpickle(marker)}, tmp_path / "evil.pt")
    model = load_checkpoint(fresh(), tmp_path / "evil.pt", trust_pickle=True)
    assert marker.exists()
    assert_state_equal(model, trained)


def test_trust_pickle_loads_full_module(tmp_path, trained):
    saved = SeedCNN()
    saved.load_state_dict(trained)
    torch.save(saved, tmp_path / "full.pt")
    model = load_checkpoint(fresh(), tmp_path / "full.pt", trust_pickle=True)
    assert_state_equal(model, trained)


def test_trust_pickle_loads_complex_objects(tmp_path, trained):
    torch.save({"model_state_dict": trained, "args": argparse.Namespace(lr=0.1)}, tmp_path / "ns.pt")
    with pytest.raises(CheckpointError, match=r"argparse\.Namespace.*--trust-pickle"):
        read_state_dict(tmp_path / "ns.pt")
    assert list(read_state_dict(tmp_path / "ns.pt", trust_pickle=True)) == list(trained)


# --------------------------------------------------------------------------------------------- damaged files


@pytest.mark.parametrize("name", ["half.pt", "half.safetensors"])
def test_truncated_file_is_one_line_error(tmp_path, trained, capfd, name):
    path = tmp_path / name
    save_checkpoint(trained, path, epoch=1)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"is truncated") as info:
        load_checkpoint(fresh(), path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)
    assert capfd.readouterr() == ("", "")


PROTOCOLS = [  # every way torch.save can write a file: zip or legacy container, pickle protocol 2 to 5
    pytest.param({"pickle_protocol": p, "_use_new_zipfile_serialization": zip_format}, id=f"{kind}-{p}")
    for zip_format, kind in ((True, "zip"), (False, "legacy"))
    for p in (2, 4, 5)
]


@pytest.mark.parametrize("save_kwargs", PROTOCOLS)
def test_every_torch_save_protocol_loads(tmp_path, trained, save_kwargs):
    torch.save({"state_dict": trained, "epoch": 2}, tmp_path / "c.pt", **save_kwargs)
    assert_state_equal(load_checkpoint(fresh(), tmp_path / "c.pt"), trained)
    assert read_object(tmp_path / "c.pt")["epoch"] == 2  # what animate reads its metrics from


@pytest.mark.parametrize("save_kwargs", PROTOCOLS)
def test_malicious_pickle_is_refused_in_every_protocol(tmp_path, trained, save_kwargs):
    marker = tmp_path / "pwned"
    torch.save({"state_dict": trained, "payload": TouchOnUnpickle(marker)}, tmp_path / "evil.pt", **save_kwargs)
    with pytest.raises(CheckpointError, match=r"evil\.pt: it needs arbitrary unpickling \(.+\).*--trust-pickle"):
        read_state_dict(tmp_path / "evil.pt")
    assert not marker.exists()


@pytest.mark.parametrize("save_kwargs", PROTOCOLS)
def test_truncated_checkpoint_says_truncated_in_every_protocol(tmp_path, trained, save_kwargs):
    torch.save(trained, tmp_path / "full.pt", **save_kwargs)
    data = (tmp_path / "full.pt").read_bytes()
    for cut in (len(data) // 100, len(data) // 2, len(data) - 1):
        (tmp_path / "cut.pt").write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match=r"^checkpoint \S+cut\.pt is truncated: .*cut short"):
            read_state_dict(tmp_path / "cut.pt")


@pytest.mark.parametrize(
    "content, what",
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "a PNG image"),
        (b"epoch,loss\n1,0.5\n", "text"),
        (b"", "an empty file"),
    ],
)
def test_not_a_checkpoint_says_what_it_is(tmp_path, content, what):
    (tmp_path / "x.pt").write_bytes(content)
    with pytest.raises(CheckpointError, match=rf"x\.pt is not a checkpoint: it is {what}, not a file written by"):
        read_state_dict(tmp_path / "x.pt")


def test_zip_without_data_pkl_is_not_a_checkpoint(tmp_path):
    import numpy as np

    np.savez(tmp_path / "arrays.npz", a=np.zeros(3))
    (tmp_path / "arrays.npz").rename(tmp_path / "arrays.pt")
    with pytest.raises(CheckpointError, match=r"arrays\.pt is not a checkpoint: it is a zip archive without data\.pkl"):
        read_state_dict(tmp_path / "arrays.pt")


def test_plain_pickle_needs_trust_and_then_loads(tmp_path, trained):
    import pickle

    with open(tmp_path / "plain.pt", "wb") as f:
        pickle.dump({"state_dict": trained}, f)
    message = r"plain\.pt: it is a plain pickle \(not written by torch\.save\).*--trust-pickle"
    with pytest.raises(CheckpointError, match=message):
        read_state_dict(tmp_path / "plain.pt")
    assert_state_equal(load_checkpoint(fresh(), tmp_path / "plain.pt", trust_pickle=True), trained)


def test_failed_load_leaves_model_unchanged(tmp_path, trained):
    broken = dict(trained)
    broken["fc2.weight"] = torch.zeros(3, 512)  # every other tensor would load fine
    torch.save(broken, tmp_path / "broken.pt")
    model = fresh()
    before = snapshot(model)
    with pytest.raises(CheckpointError):
        load_checkpoint(model, tmp_path / "broken.pt")
    assert_state_equal(model, before)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(CheckpointError, match=r"nope\.pt does not exist"):
        load_checkpoint(fresh(), tmp_path / "nope.pt")


def test_non_state_dict_content_is_refused(tmp_path):
    torch.save({"epoch": 3, "weights": [1, 2]}, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError, match=r"odd\.pt holds a dict \('epoch', 'weights'\) with no state_dict"):
        read_state_dict(tmp_path / "odd.pt")


# --------------------------------------------------------------------------------------------- mismatches


def test_key_mismatch_lists_missing_unexpected_and_shapes(tmp_path, trained):
    state = {k: v for k, v in trained.items() if not k.startswith("fc1.")}
    state["fc2.weight"] = torch.zeros(3, 512)
    state["head.weight"] = torch.zeros(1)
    path = tmp_path / "ckpt.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(fresh(), path)
    assert str(info.value) == (
        f"{path} does not fit SeedCNN: 2 missing (fc1.weight, fc1.bias), 1 unexpected (head.weight), "
        "1 shape mismatch (fc2.weight: checkpoint (3, 512) vs model (2, 512))"
    )


def test_mismatch_listing_is_capped(tmp_path, trained):
    torch.save({"conv1.weight": trained["conv1.weight"]}, tmp_path / "few.pt")
    with pytest.raises(CheckpointError, match=r"11 missing \(conv1\.bias, conv2\.weight, conv2\.bias, \+8 more\)$"):
        load_checkpoint(fresh(), tmp_path / "few.pt")


def test_non_strict_allows_missing_keys(tmp_path, trained):
    partial = {k: v for k, v in trained.items() if k.startswith("conv")}
    torch.save(partial, tmp_path / "convs.pt")
    model = fresh()
    before = snapshot(model)
    load_checkpoint(model, tmp_path / "convs.pt", strict=False)
    assert_state_equal(model, partial | {k: v for k, v in before.items() if k.startswith("fc")})


def test_non_strict_still_refuses_shape_mismatch(tmp_path, trained):
    torch.save({"fc2.weight": torch.zeros(3, 512)}, tmp_path / "shape.pt")
    with pytest.raises(CheckpointError, match=r"1 shape mismatch \(fc2\.weight: checkpoint \(3, 512\)"):
        load_checkpoint(fresh(), tmp_path / "shape.pt", strict=False)


# --------------------------------------------------------------------------------------------- finding


def test_find_checkpoints_natural_order(tmp_path):
    for name in ["epoch_2.pt", "epoch_10.pt", "epoch_1.pt", "Epoch_3.pt", "epoch_20.ckpt", "notes.txt"]:
        (tmp_path / name).touch()
    (tmp_path / "sub.pt").mkdir()
    names = [p.name for p in find_checkpoints(tmp_path)]
    assert names == ["epoch_1.pt", "epoch_2.pt", "Epoch_3.pt", "epoch_10.pt", "epoch_20.ckpt"]


def test_find_checkpoints_glob(tmp_path):
    for name in ["run_b/step_100.pt", "run_b/step_20.pt", "run_a/step_9.pt", "run_a/log.txt"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).touch()
    found = find_checkpoints(tmp_path / "run_*" / "*")
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "run_a/step_9.pt",
        "run_b/step_20.pt",
        "run_b/step_100.pt",
    ]


def test_find_checkpoints_empty_names_pattern_and_suffixes(tmp_path):
    (tmp_path / "notes.txt").touch()
    pattern = str(tmp_path / "*.pt")
    with pytest.raises(CheckpointError) as info:
        find_checkpoints(pattern)
    assert str(info.value) == (
        f"no checkpoints found for pattern '{pattern}' (looked for .pt, .pth, .ckpt, .bin, .safetensors)"
    )


# --------------------------------------------------------------------------------------------- saving


def test_save_checkpoint_round_trip(tmp_path, trained):
    model = fresh()
    model.load_state_dict(trained)
    path = save_checkpoint(model, tmp_path / "out" / "epoch_4.pt", epoch=4, loss=0.25)
    assert path == tmp_path / "out" / "epoch_4.pt"
    assert sorted(p.name for p in path.parent.iterdir()) == ["epoch_4.pt"]  # no temp file left behind
    raw = torch.load(path, weights_only=True)
    assert (raw["epoch"], raw["loss"]) == (4, 0.25)
    assert_state_equal(load_checkpoint(fresh(), path), trained)


def test_save_checkpoint_refuses_extras_that_need_trust(tmp_path, trained):
    with pytest.raises(TypeError, match=r"argparse\.Namespace.*--trust-pickle"):
        save_checkpoint(trained, tmp_path / "a.pt", args=argparse.Namespace(lr=0.1))
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------------------------- read once


def test_read_checkpoint_returns_the_weights_and_the_plain_numbers(tmp_path, trained):
    torch.save({"state_dict": trained, "epoch": 2, "loss": 0.25, "best": True, "note": "x"}, tmp_path / "c.pt")
    ckpt = read_checkpoint(tmp_path / "c.pt")
    assert ckpt.metrics == {"epoch": 2, "loss": 0.25}  # a bool or a string is no metric
    assert_state_equal(ckpt.load_into(fresh()), trained)


def test_read_checkpoint_takes_numbers_from_safetensors_metadata(tmp_path, trained):
    save_file(trained, tmp_path / "w.safetensors", metadata={"epoch": "3", "loss": "0.5", "format": "pt"})
    ckpt = read_checkpoint(tmp_path / "w.safetensors")
    assert ckpt.metrics == {"epoch": 3, "loss": 0.5} and isinstance(ckpt.metrics["epoch"], int)
    assert_state_equal(ckpt.load_into(fresh()), trained)


def test_a_checkpoint_that_does_not_fit_leaves_the_model_unchanged(tmp_path, trained):
    torch.save({"conv1.weight": trained["conv1.weight"]}, tmp_path / "part.pt")
    model = fresh()
    before = snapshot(model)
    with pytest.raises(CheckpointError, match=r"part.pt does not fit SeedCNN: 11 missing"):
        read_checkpoint(tmp_path / "part.pt").load_into(model)
    assert_state_equal(model, before)
