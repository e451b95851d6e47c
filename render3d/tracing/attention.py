"""Attention maps of ``nn.MultiheadAttention``, recomputed from its own weights in the hook.

torchvision's ViT (and most encoders) call attention with ``need_weights=False``, so the maps never
leave the fused kernel. The module still holds everything needed: softmax(QKᵀ/√d) per head from its
input projections and the query/key it was called with. Only batch item 0 is computed, and only when
activations are being captured.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn


def _arg(args: tuple, kwargs: dict, index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def attention_maps(module: nn.MultiheadAttention, args: tuple, kwargs: dict, max_tokens: int) -> np.ndarray | None:
    """(heads, T', S') float16 attention weights of batch item 0, strided to ``max_tokens`` per side."""
    query, key = _arg(args, kwargs, 0, "query"), _arg(args, kwargs, 1, "key")
    if not isinstance(query, torch.Tensor) or not isinstance(key, torch.Tensor) or query.is_meta:
        return None
    if query.dim() == 3:
        query, key = (query[0], key[0]) if module.batch_first else (query[:, 0], key[:, 0])
    embed, heads = module.embed_dim, module.num_heads
    head_dim = embed // heads
    if module._qkv_same_embed_dim:
        w_q, w_k = module.in_proj_weight[:embed], module.in_proj_weight[embed : 2 * embed]
    else:
        w_q, w_k = module.q_proj_weight, module.k_proj_weight
    bias = module.in_proj_bias
    b_q, b_k = (bias[:embed], bias[embed : 2 * embed]) if bias is not None else (None, None)
    q = nn.functional.linear(query, w_q, b_q).view(-1, heads, head_dim).transpose(0, 1)
    k = nn.functional.linear(key, w_k, b_k).view(-1, heads, head_dim).transpose(0, 1)
    logits = q @ k.transpose(-1, -2) / math.sqrt(head_dim)
    mask = _arg(args, kwargs, 5, "attn_mask")
    if isinstance(mask, torch.Tensor) and mask.shape[-2:] == logits.shape[-2:]:
        mask = mask if mask.dim() == 2 else mask[:heads]
        logits = logits.masked_fill(mask, float("-inf")) if mask.dtype == torch.bool else logits + mask
    weights = torch.softmax(logits.float(), dim=-1)
    step_t = max(1, math.ceil(weights.shape[1] / max_tokens))
    step_s = max(1, math.ceil(weights.shape[2] / max_tokens))
    return weights[:, ::step_t, ::step_s].to("cpu", torch.float16, copy=True).numpy()
