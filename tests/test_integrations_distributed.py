"""The Recorder under plain torch.distributed: 2 processes (gloo, CPU), one recording, written by rank 0."""

from __future__ import annotations

import json
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from record_fixtures import SHAPE, tiny_model

from render3d.record import Recorder, load_recording

pytestmark = pytest.mark.slow  # processes, a browser, training runs or model zoos: seconds each (-m 'not slow' skips)


WORLD = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(model: torch.nn.Module, optimizer: torch.optim.Optimizer, rank: int) -> float:
    """Two steps on this rank's own random batch (no data set: the workers start fast)."""
    g = torch.Generator().manual_seed(rank)
    x, y = torch.rand((8, *SHAPE[1:]), generator=g), torch.randint(0, 10, (8,), generator=g)
    for _ in range(2):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


PROBE = torch.rand(SHAPE, generator=torch.Generator().manual_seed(3))


def _join(rank: int, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)


def _ddp_run(rank: int, port: int, out: str) -> None:
    from torch.nn.parallel import DistributedDataParallel

    _join(rank, port)
    try:
        model = DistributedDataParallel(tiny_model())
        optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
        rec = Recorder(model, PROBE, out)
        written = []
        for epoch in (1, 2):
            loss = _train(model, optimizer, rank)
            written.append(rec.snapshot(epoch, loss=loss))
        rec.close()
        assert (written[0] is None) == (rank != 0), (rank, written)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _fsdp_run(rank: int, port: int, out: str) -> None:
    import copy

    from torch.distributed.fsdp import fully_shard

    _join(rank, port)
    try:
        model = tiny_model()
        template = copy.deepcopy(model)  # the unsharded copy rank 0 traces
        for layer in model.children():
            if any(p.requires_grad for p in layer.parameters()):
                fully_shard(layer)
        fully_shard(model)
        optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
        rec = Recorder(model, PROBE, out, template=template if rank == 0 else None)
        for epoch in (1, 2):
            loss = _train(model, optimizer, rank)
            rec.snapshot(epoch, loss=loss)
        rec.close()
        if rank == 0:  # what rank 0 traced is the trained model: the gathered weights, unsharded
            torch.save({k: v.clone() for k, v in template.state_dict().items()}, os.path.join(out, "..", "w.pt"))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _spawn(fn, out) -> None:
    mp.spawn(fn, args=(_free_port(), str(out)), nprocs=WORLD, join=True)


def test_ddp_two_processes_write_one_recording(tmp_path):
    out = tmp_path / "rec"
    _spawn(_ddp_run, out)
    rec = load_recording(out)
    assert [s.epoch for s in rec.snapshots] == [1, 2]
    assert len({s["run"] for s in json.loads((out / "manifest.json").read_text())["snapshots"]}) == 1  # one writer
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {"manifest.json", manifest["probe"]["file"], *(s["file"] for s in manifest["snapshots"])}
    assert {p.name for p in out.iterdir()} == listed  # no second rank's files, no lock left behind
    assert rec.model == "DigitsCNN"  # the wrapped module, not DistributedDataParallel


def test_fsdp_gathers_the_full_weights_for_rank_0(tmp_path):
    out = tmp_path / "rec"
    _spawn(_fsdp_run, out)
    rec = load_recording(out)
    assert [s.epoch for s in rec.snapshots] == [1, 2]
    assert rec.model == "DigitsCNN"
    # the traced copy holds trained weights, not the initial ones it was copied from
    trained = torch.load(tmp_path / "w.pt")
    initial = tiny_model().state_dict()
    assert set(trained) == set(initial)
    assert all(not torch.equal(trained[k], initial[k]) for k in trained if k.endswith("weight"))


def test_a_non_zero_rank_takes_no_folder(tmp_path):
    rec = Recorder(tiny_model(), "digit:3", tmp_path / "rec", rank=1)
    assert rec.snapshot(1, loss=0.5) is None
    assert len(rec) == 0
    assert not (tmp_path / "rec").exists()


def test_rank_comes_from_the_environment_before_the_group_starts(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "3")
    assert not Recorder(tiny_model(), "digit:3", tmp_path / "rec").writes
    monkeypatch.setenv("RANK", "0")
    assert Recorder(tiny_model(), "digit:3", tmp_path / "rec2").writes


def test_a_sharded_model_needs_a_template_on_rank_0(tmp_path, monkeypatch):
    from render3d.record import distributed

    monkeypatch.setattr(distributed, "is_sharded", lambda model: True)
    with pytest.raises(ValueError, match="template= an unsharded instance"):
        Recorder(tiny_model(), "digit:3", tmp_path / "rec", rank=0)
    assert not (tmp_path / "rec").exists()
