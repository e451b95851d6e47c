"""Copying an activation out of the forward pass: bounded, float16, with robust statistics.

The copy happens inside the hook that sees the tensor, before the next op can change it in place
(an in-place ReLU after a BatchNorm would otherwise rewrite the stored BatchNorm output).
Reduction is strided (nearest) sampling, so values are real values, never blurred averages: a dead
channel stays exactly zero and the percentiles stay honest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from render3d.graph import Activation, Stats

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


def _reduce(t: torch.Tensor, cfg: CaptureConfig) -> tuple[torch.Tensor, str]:
    """Batch item 0, strided down to the caps; returns the tensor and its layout name."""
    full = cfg.mode == "full"
    x = t[0] if t.dim() >= 2 else t
    if x.dim() == 3:  # (C, H, W)
        if not full:
            sh, sw = _step(x.shape[1], cfg.max_spatial), _step(x.shape[2], cfg.max_spatial)
            x = x[: cfg.max_channels, ::sh, ::sw]
        return x, "map"
    if x.dim() == 4:  # (C, T, H, W) video
        if not full:
            sh, sw = _step(x.shape[2], cfg.max_spatial), _step(x.shape[3], cfg.max_spatial)
            st = _step(x.shape[1], cfg.max_spatial)
            x = x[: cfg.max_channels, ::st, ::sh, ::sw]
        return x, "volume"
    if x.dim() == 2:  # (T, D) tokens
        if not full:
            x = x[:: _step(x.shape[0], cfg.max_tokens), :: _step(x.shape[1], cfg.max_hidden)]
        return x, "tokens"
    x = x.reshape(-1)
    if not full:
        x = x[:: _step(x.numel(), cfg.max_vector)]
    return x, "vector"


def _sample_step(numel: int, sample: int) -> int:
    """A stride giving about ``sample`` values; odd, so it does not alias with power-of-two widths."""
    step = _step(numel, sample)
    return step + 1 if step > 1 and step % 2 == 0 else step


def _stats(t: torch.Tensor, sample: int) -> Stats:
    """Exact min, max and NaN/Inf counts; mean, std, percentiles and the zero fraction from a strided
    sample of ~``sample`` values (exact statistics of a 200k-value map cost more than the layer)."""
    numel = t.numel()
    flat = t.reshape(-1)
    lo, hi = (float(v) for v in torch.aminmax(flat))
    nan_count = inf_count = 0
    if not (math.isfinite(lo) and math.isfinite(hi)):  # min/max propagate NaN: only then look closer
        nan_count = int(torch.isnan(flat).sum())
        inf_count = int(torch.isinf(flat).sum())
        flat = flat[torch.isfinite(flat)]
        if flat.numel() == 0:
            nan = float("nan")
            return Stats(nan, nan, nan, nan, nan, nan, 0.0, nan_count, inf_count, numel)
        lo, hi = float(flat.min()), float(flat.max())
    sub = flat[:: _sample_step(flat.numel(), sample)].to("cpu", copy=True).numpy()  # contiguous: fast numpy
    mean = float(sub.mean())
    k1, k99 = (int(round(q * (sub.size - 1))) for q in (0.01, 0.99))
    part = np.partition(sub, (k1, k99))
    centred = sub - mean
    std = math.sqrt(float(np.dot(centred, centred)) / sub.size)
    return Stats(
        min=lo, max=hi, mean=mean, std=std, p1=float(part[k1]), p99=float(part[k99]),
        zero_fraction=1.0 - np.count_nonzero(sub) / sub.size, nan_count=nan_count, inf_count=inf_count,
        numel=numel,
    )


def capture(t: torch.Tensor, cfg: CaptureConfig) -> tuple[Stats | None, Activation | None]:
    """Stats of the whole tensor and a bounded float16 copy of batch item 0."""
    if cfg.mode == "none" or t.is_meta or t.is_complex() or t.dtype == torch.bool or t.numel() == 0:
        return None, None
    t = t.detach()
    as_float = t if t.dtype == torch.float32 else t.float()  # reduce on the tensor's own device
    stats = _stats(as_float, cfg.stats_sample)
    reduced, layout = _reduce(as_float, cfg)
    scale = 1.0
    peak = max(abs(stats.min), abs(stats.max)) if math.isfinite(stats.min) else 0.0
    if peak > FP16_MAX:
        scale = peak / FP16_MAX * 1.001
        reduced = reduced / scale
    data = reduced.to(device="cpu", dtype=torch.float16, copy=True).numpy()
    channel_mean = None
    if layout in ("map", "volume"):  # every channel, not only the kept ones
        first = as_float[0] if as_float.dim() >= 2 else as_float
        channel_mean = first.reshape(first.shape[0], -1).mean(dim=1).cpu().numpy()
    activation = Activation(
        data=data, layout=layout, full_shape=tuple(t.shape), channel_mean=channel_mean, scale=scale
    )
    return stats, activation
