"""Copying an activation out of the forward pass: bounded, float16, with robust statistics.

The copy happens inside the hook that sees the tensor, before the next op can change it in place
(an in-place ReLU after a BatchNorm would otherwise rewrite the stored BatchNorm output).
Reduction is strided (nearest) sampling, so values are real values, never blurred averages: a dead
channel stays exactly zero and the percentiles stay honest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from render3d.graph import Activation, Stats
from render3d.health import SATURATION_MARGIN

CAPTURE_MODES = ("reduced", "full", "none")
FP16_MAX = 65504.0


@dataclass(frozen=True)
class CaptureConfig:
    """How much of each output tensor to keep. ``mode="full"`` ignores the caps."""

    mode: str = "reduced"
    max_channels: int = 64
    max_spatial: int = 32
    max_tokens: int = 128
    max_hidden: int = 256
    max_vector: int = 1024
    stats_sample: int = 2048

    def __post_init__(self) -> None:
        if self.mode not in CAPTURE_MODES:
            raise ValueError(f"capture={self.mode!r} is not valid; use one of {', '.join(CAPTURE_MODES)}")


def _step(size: int, cap: int) -> int:
    return max(1, math.ceil(size / cap))


def _reduce(t: Any, cfg: CaptureConfig) -> tuple[Any, str]:
    """Batch item 0, strided down to the caps, as a view (torch tensor or numpy array alike); and its layout."""
    full = cfg.mode == "full"
    x = t[0] if t.ndim >= 2 else t
    if x.ndim == 3:  # (C, H, W)
        if not full:
            sh, sw = _step(x.shape[1], cfg.max_spatial), _step(x.shape[2], cfg.max_spatial)
            x = x[: cfg.max_channels, ::sh, ::sw]
        return x, "map"
    if x.ndim == 4:  # (C, T, H, W) video
        if not full:
            sh, sw = _step(x.shape[2], cfg.max_spatial), _step(x.shape[3], cfg.max_spatial)
            st = _step(x.shape[1], cfg.max_spatial)
            x = x[: cfg.max_channels, ::st, ::sh, ::sw]
        return x, "volume"
    if x.ndim == 2:  # (T, D) tokens
        if not full:
            x = x[:: _step(x.shape[0], cfg.max_tokens), :: _step(x.shape[1], cfg.max_hidden)]
        return x, "tokens"
    x = x.reshape(-1)
    if not full:
        x = x[:: _step(x.shape[0], cfg.max_vector)]
    return x, "vector"


def _sample_step(numel: int, sample: int) -> int:
    """A stride giving about ``sample`` values; odd, so it does not alias with power-of-two widths."""
    step = _step(numel, sample)
    return step + 1 if step > 1 and step % 2 == 0 else step


@dataclass
class Captured:
    """One output's captured pieces: numpy arrays on the CPU, device tensors elsewhere.

    On a GPU nothing here has been synchronised: the hook only launches small kernels, and
    :func:`materialize` fetches every node's pieces in one host copy after the forward pass. On the
    CPU a sync is free, so the pieces are final (float16 data already scaled) and cost fewer ops.
    """

    layout: str
    full_shape: tuple[int, ...]
    numel: int
    reduced: Any  # batch item 0, strided to the caps: float16 array (CPU) or float32 tensor
    sample: Any  # ~stats_sample values, strided; non-finite ones are dropped later
    extremes: Any  # [min, max] over finite values
    counts: Any  # [nan, inf]
    channel_mean: Any | None

    def pieces(self) -> list[Any]:
        parts = [self.reduced, self.sample, self.extremes, self.counts]
        return parts + ([self.channel_mean] if self.channel_mean is not None else [])


def capture(t: torch.Tensor, cfg: CaptureConfig) -> Captured | None:
    """Copy out what is kept of one output tensor, before an in-place op can change it."""
    if cfg.mode == "none" or t.is_meta or t.is_complex() or t.dtype == torch.bool or t.numel() == 0:
        return None
    if type(t) is torch.Tensor and t.device.type == "cpu" and t.layout == torch.strided:
        return _capture_on_cpu(t, cfg)
    return _capture_on_device(t, cfg)


def _capture_on_device(t: torch.Tensor, cfg: CaptureConfig) -> Captured:
    """Launch the reductions on the tensor's own device; :func:`materialize` fetches them all at once."""
    t = t.detach()
    as_float = t if t.dtype == torch.float32 else t.float()
    reduced, layout = _reduce(as_float, cfg)
    flat = as_float.reshape(-1)
    finite_mask = torch.isfinite(flat)
    counts = torch.stack([torch.isnan(flat).sum(), torch.isinf(flat).sum()]).float()
    extremes = torch.stack(
        [flat.masked_fill(~finite_mask, float("inf")).amin(), flat.masked_fill(~finite_mask, float("-inf")).amax()]
    )
    finite = flat.masked_fill(~finite_mask, float("nan"))  # boolean indexing would sync
    return Captured(
        layout=layout,
        full_shape=tuple(t.shape),
        numel=flat.numel(),
        reduced=reduced.to(torch.float32, copy=True),
        sample=finite[:: _sample_step(finite.numel(), cfg.stats_sample)].to(torch.float32, copy=True),
        extremes=extremes.float(),
        counts=counts,
        channel_mean=_channel_mean(as_float, layout),
    )


def _channel_mean(x: torch.Tensor, layout: str) -> torch.Tensor | None:
    """Batch item 0's mean of every channel (not only the kept ones), for maps and volumes.

    Reduced over the spatial dims in place, never through a reshaped copy (channels-last layouts)."""
    if layout not in ("map", "volume"):
        return None
    first = x[0] if x.ndim >= 2 else x
    return first.mean(dim=(1, 2) if first.ndim == 3 else (1, 2, 3))


def _capture_on_cpu(t: torch.Tensor, cfg: CaptureConfig) -> Captured:
    """The final pieces at once, mostly in numpy: on the CPU a torch op's fixed cost (several microseconds)
    is most of a small tensor's capture. Min and max: on one intra-op thread numpy's ``min()`` and ``max()``
    beat ``torch.aminmax`` on a tensor still in cache (a 64x112x112 output: 81 against 93 us), with more
    threads ``aminmax`` shares the read between them (61 against 77 us at 2 threads).

    Every read goes through a zero-copy numpy view of the tensor (any strides): nothing the size of the
    whole tensor is copied for a float32 one."""
    x = t.detach() if t.requires_grad else t
    if x.dtype != torch.float32:
        x = x.float()
    a = x.numpy()
    lo, hi = (float(v) for v in torch.aminmax(x)) if torch.get_num_threads() > 1 else (float(a.min()), float(a.max()))
    nan_count = inf_count = 0
    flat: np.ndarray | None = None
    if not (math.isfinite(lo) and math.isfinite(hi)):  # min/max propagate NaN: only then look closer
        values = a.reshape(-1)
        mask = np.isfinite(values)
        nan_count, inf_count = int(np.isnan(values).sum()), int(np.isinf(values).sum())
        flat = values[mask]
        lo, hi = (float(flat.min()), float(flat.max())) if flat.size else (math.nan, math.nan)
    view, layout = _reduce(a, cfg)
    kept = np.ascontiguousarray(view)  # numpy slices cost a tenth of torch's; the float16 cast is torch's
    peak = max(abs(lo), abs(hi)) if math.isfinite(lo) else 0.0
    if peak > FP16_MAX:
        kept = kept / np.float32(peak / FP16_MAX * 1.001)
    data = torch.from_numpy(kept).half().numpy()  # numpy's own float16 cast is ten times slower
    if flat is None:  # all finite: sample the tensor itself, in C order, without flattening a copy
        step = _sample_step(a.size, cfg.stats_sample)
        sample = a.reshape(-1)[::step].copy() if a.flags.c_contiguous else np.asarray(a.flat[::step])
    else:
        sample = flat[:: _sample_step(max(flat.size, 1), cfg.stats_sample)].copy()
    channel_mean = _channel_mean(x, layout)
    return Captured(
        layout=layout,
        full_shape=tuple(t.shape),
        numel=a.size,
        reduced=data,
        sample=sample,
        extremes=np.array([lo, hi]),
        counts=np.array([nan_count, inf_count]),
        channel_mean=None if channel_mean is None else channel_mean.numpy(),
    )


def materialize(captures: list[Captured]) -> list[tuple[Stats, Activation]]:
    """Bring captured pieces to the host (one copy per device) and compute stats and fp16 data."""
    if not captures:
        return []
    pieces = [p for c in captures for p in c.pieces()]
    tensors = [p for p in pieces if isinstance(p, torch.Tensor)]
    if tensors:  # device pieces: one concatenated copy to the host
        sizes = [p.numel() for p in tensors]
        flat = torch.cat([p.reshape(-1).float() for p in tensors]).cpu().numpy()
        fetched = iter(a.reshape(p.shape) for a, p in zip(np.split(flat, np.cumsum(sizes)[:-1]), tensors))
        pieces = [next(fetched) if isinstance(p, torch.Tensor) else p for p in pieces]
    results, i = [], 0
    for c in captures:
        n = 5 if c.channel_mean is not None else 4
        reduced, sample, extremes, counts = pieces[i : i + 4]
        results.append(_finish(c, reduced, sample, extremes, counts, pieces[i + 4] if n == 5 else None))
        i += n
    return results


def _finish(
    c: Captured,
    reduced: np.ndarray,
    sample: np.ndarray,
    extremes: np.ndarray,
    counts: np.ndarray,
    channel_mean: np.ndarray | None,
) -> tuple[Stats, Activation]:
    nan_count, inf_count = int(counts[0]), int(counts[1])
    if nan_count + inf_count:
        sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        nan = float("nan")
        lo, hi = (float(v) for v in extremes) if nan_count + inf_count < c.numel else (nan, nan)
        stats = Stats(lo, hi, nan, nan, nan, nan, 0.0, nan_count, inf_count, c.numel)
    else:
        sample = sample.astype(np.float64)  # masks near float32's limit (-3.4e38) overflow a float32 sum
        n = sample.size
        mean = float(np.add.reduce(sample) / n)  # what sample.mean() computes, without its Python wrapper
        k1, k99 = round(0.01 * (n - 1)), round(0.99 * (n - 1))
        part = np.partition(sample, (k1, k99))
        centred = sample - mean
        size = np.abs(sample)
        stats = Stats(
            min=float(extremes[0]),
            max=float(extremes[1]),
            mean=mean,
            std=math.sqrt(float(np.dot(centred, centred)) / sample.size),
            p1=float(part[k1]),
            p99=float(part[k99]),
            zero_fraction=1.0 - np.count_nonzero(sample) / sample.size,
            nan_count=nan_count,
            inf_count=inf_count,
            numel=c.numel,
            near_one_fraction=np.count_nonzero(size >= 1 - SATURATION_MARGIN) / sample.size,
            near_zero_fraction=np.count_nonzero(size <= SATURATION_MARGIN) / sample.size,
        )
    scale = 1.0
    peak = max(abs(stats.min), abs(stats.max)) if math.isfinite(stats.min) else 0.0
    if peak > FP16_MAX:
        scale = peak / FP16_MAX * 1.001
    if reduced.dtype == np.float16:  # the CPU path stored it already scaled
        data = reduced
    else:
        data = (reduced / scale if scale != 1.0 else reduced).astype(np.float16)
    activation = Activation(
        data=data,
        layout=c.layout,
        full_shape=c.full_shape,
        channel_mean=None if channel_mean is None else channel_mean.astype(np.float32),
        scale=scale,
    )
    return stats, activation
