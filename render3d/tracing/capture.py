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
    stats_sample: int = 4096

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


def _stats(t: torch.Tensor, sample: int) -> Stats:
    numel = t.numel()
    flat = t.reshape(-1)
    finite_all = bool(torch.isfinite(flat).all())
    if finite_all:
        nan_count = inf_count = 0
        finite = flat
    else:
        nan_count = int(torch.isnan(flat).sum())
        inf_count = int(torch.isinf(flat).sum())
        finite = flat[torch.isfinite(flat)]
    if finite.numel() == 0:
        nan = float("nan")
        return Stats(nan, nan, nan, nan, nan, nan, 0.0, nan_count, inf_count, numel)
    lo, hi = torch.aminmax(finite)
    mean = float(finite.mean())
    std = float(finite.std()) if finite.numel() > 1 else 0.0
    zero_fraction = float((flat == 0).sum()) / numel
    sub = finite[:: _step(finite.numel(), sample)].numpy()
    p1, p99 = np.percentile(sub, (1.0, 99.0))
    return Stats(
        min=float(lo), max=float(hi), mean=mean, std=std, p1=float(p1), p99=float(p99),
        zero_fraction=zero_fraction, nan_count=nan_count, inf_count=inf_count, numel=numel,
    )


def capture(t: torch.Tensor, cfg: CaptureConfig) -> tuple[Stats | None, Activation | None]:
    """Stats of the whole tensor and a bounded float16 copy of batch item 0."""
    if cfg.mode == "none" or t.is_meta or t.is_complex() or t.dtype == torch.bool or t.numel() == 0:
        return None, None
    t = t.detach()
    as_float = t if t.is_floating_point() else t.float()
    if as_float.device.type != "cpu":
        as_float = as_float.to("cpu", non_blocking=False)
    as_float = as_float.float() if as_float.dtype != torch.float32 else as_float
    stats = _stats(as_float, cfg.stats_sample)
    reduced, layout = _reduce(as_float, cfg)
    scale = 1.0
    peak = max(abs(stats.min), abs(stats.max)) if math.isfinite(stats.min) else 0.0
    if peak > FP16_MAX:
        scale = peak / FP16_MAX * 1.001
        reduced = reduced / scale
    data = reduced.to(dtype=torch.float16, copy=True).numpy()
    channel_mean = None
    if layout in ("map", "volume"):
        first = as_float[0] if as_float.dim() >= 2 else as_float
        channel_mean = first.reshape(first.shape[0], -1).mean(dim=1).to(torch.float32).numpy().copy()
    activation = Activation(
        data=data, layout=layout, full_shape=tuple(t.shape), channel_mean=channel_mean, scale=scale
    )
    return stats, activation
