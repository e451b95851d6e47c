"""The tracer's fast paths give exactly what the general ones give (issue 14: capture overhead).

The CPU capture reads a numpy view of the tensor; the device capture (any device, used on the CPU for tensor
subclasses) runs torch reductions. Both must produce identical statistics and float16 data.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from render3d.tracing.capture import CaptureConfig, _capture_on_device, capture, materialize
from render3d.tracing.identity import IdentityMap
from render3d.tracing.pytree import tensors
from render3d.tracing.tracer import subtree_params


def _with_nan_and_inf() -> torch.Tensor:
    t = torch.randn(1, 8, 40, 40, generator=torch.Generator().manual_seed(1))
    t[0, 2, 3, 4] = math.nan
    t[0, 5, 0, 0] = math.inf
    t[0, 6, 1, 1] = -math.inf
    return t


def _channels_last() -> torch.Tensor:
    return torch.randn(1, 16, 48, 48, generator=torch.Generator().manual_seed(2)).to(memory_format=torch.channels_last)


#: finite tensors: with NaN/Inf the device path samples before dropping them, the CPU path after (both as before)
CASES = {
    "map": lambda: torch.randn(2, 70, 50, 45, generator=torch.Generator().manual_seed(0)),
    "channels_last": _channels_last,
    "tokens": lambda: torch.randn(1, 197, 768, generator=torch.Generator().manual_seed(3)).transpose(1, 2),
    "vector": lambda: torch.randn(1, 5000, generator=torch.Generator().manual_seed(4)),
    "beyond_fp16": lambda: torch.linspace(-1e6, 2e6, 3 * 64 * 64).reshape(1, 3, 64, 64),
    "half_input": lambda: torch.randn(1, 4, 9, 9, generator=torch.Generator().manual_seed(5)).half(),
}


@pytest.fixture(params=[1, 2], ids=["1 thread", "2 threads"])
def threads(request):
    """The CPU capture reads min/max with numpy on one intra-op thread, with ``torch.aminmax`` on more."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


@pytest.mark.parametrize("case", sorted(CASES))
def test_cpu_capture_equals_the_device_capture(case, threads):
    t = CASES[case]()
    cfg = CaptureConfig()
    (fast_stats, fast), (slow_stats, slow) = materialize([capture(t, cfg), _capture_on_device(t, cfg)])
    assert fast_stats.to_dict() == pytest.approx(slow_stats.to_dict(), rel=0, abs=0, nan_ok=True)
    assert fast.data.dtype == slow.data.dtype == np.float16
    np.testing.assert_array_equal(fast.data, slow.data)
    assert (fast.layout, fast.full_shape, fast.scale) == (slow.layout, slow.full_shape, slow.scale)
    if slow.channel_mean is None:
        assert fast.channel_mean is None
    else:
        np.testing.assert_array_equal(fast.channel_mean, slow.channel_mean)


def test_nan_and_inf_are_counted_and_left_out_of_min_and_max(threads):
    t = _with_nan_and_inf()
    stats, _ = materialize([capture(t, CaptureConfig())])[0]
    finite = t[torch.isfinite(t)]
    assert (stats.nan_count, stats.inf_count) == (1, 2)
    assert (stats.min, stats.max) == (float(finite.min()), float(finite.max()))


def test_an_all_zero_channel_reads_exactly_zero():
    t = torch.rand(1, 6, 64, 64, generator=torch.Generator().manual_seed(6)) + 0.5
    t[0, 3] = 0.0
    _, act = materialize([capture(t, CaptureConfig())])[0]
    assert act.channel_mean[3] == 0.0
    assert np.count_nonzero(act.channel_mean) == 5


def test_identity_map_never_hands_a_dead_tensors_entry_to_a_new_one_at_its_address():
    found: IdentityMap[str] = IdentityMap()
    old = torch.empty(3)
    found[old] = "old"
    address = id(old)
    del old
    for _ in range(10_000):  # CPython hands a freed object's address to the next one of its size
        new = torch.empty(3)
        if id(new) == address:
            break
    assert id(new) == address
    assert found.get(new) is None
    assert new not in found


def test_identity_map_keys_by_identity_not_value():
    a, b = torch.zeros(2), torch.zeros(2)
    found: IdentityMap[str] = IdentityMap()
    found[a] = "a"
    assert (found.get(a), found.get(b), found[a]) == ("a", None, "a")


class _Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight  # tied: counted once where both sit in one subtree
        self.shared = nn.Linear(4, 4)
        self.left = nn.Sequential(self.shared, nn.ReLU())
        self.right = nn.Sequential(self.shared, nn.Linear(4, 2))


def test_subtree_params_equal_each_modules_own_parameters_count():
    model = _Tied()
    expected = {m: sum(p.numel() for p in m.parameters()) for m in model.modules()}
    assert subtree_params(model) == expected
    assert subtree_params(model)[model] == 40 + 20 + 10


def test_tensors_fast_paths_match_the_walk():
    a, b = torch.zeros(1), torch.ones(1)
    assert [t is x for t, x in zip(tensors((a, b)), (a, b))] == [True, True]
    assert tensors({}) == []
    mixed = tensors((a, 3, {"k": b}))
    assert len(mixed) == 2 and mixed[0] is a and mixed[1] is b
