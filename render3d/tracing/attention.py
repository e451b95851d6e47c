"""Per-head attention maps, recomputed or read where the forward pass computes them.

Most attention never exposes its weights: torchvision's ViT calls ``nn.MultiheadAttention`` with
``need_weights=False``, timm and Hugging Face call ``F.scaled_dot_product_attention`` (a fused kernel).
What the kernel was given is enough to recompute softmax(QKᵀ·scale + mask) per head, so that is done for
batch item 0, only while activations are captured, and only up to :data:`MAX_KEYS` keys. Explicit
softmax(QKᵀ) code (Hugging Face's eager path, timm without fused attention) already holds the weights:
a 4-D softmax over the last axis is read as (batch, heads, queries, keys). Maps are strided to
``max_tokens`` per side and kept as float16 (heads, T', S') tensors on the model's device.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

#: keys beyond this are not recomputed (cost is heads × max_tokens × keys × head_dim per call)
MAX_KEYS = 4096

#: names of the functions whose calls may yield attention maps (:func:`function_maps`): SDPA, and
#: ``F.softmax`` / ``torch.softmax`` / ``Tensor.softmax``
ATTENTION_NAMES = frozenset({"scaled_dot_product_attention", "softmax"})


def _arg(args: tuple, kwargs: dict, index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def _strided_half(weights: torch.Tensor, step_t: int, max_tokens: int) -> torch.Tensor:
    """Queries strided by ``step_t``, keys to ``max_tokens``: a float16 copy on the tensor's device (the
    tracer fetches it with the other captures after the forward, so a GPU is not synchronised per call)."""
    step_s = max(1, math.ceil(weights.shape[2] / max_tokens))
    return weights[:, ::step_t, ::step_s].to(torch.float16, copy=True)


def _step(n: int, max_tokens: int) -> int:
    return max(1, math.ceil(n / max_tokens))


def mha_query_key(
    module: nn.MultiheadAttention, query: torch.Tensor, key: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch item 0's projected queries and keys per head, (heads, T, head_dim) and (heads, S, head_dim),
    as ``module`` computes them from its ``query``/``key`` arguments (batched or not, batch_first or not)."""
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
    return q, k


def attention_maps(module: nn.MultiheadAttention, args: tuple, kwargs: dict, max_tokens: int) -> torch.Tensor | None:
    """(heads, T', S') float16 attention weights of batch item 0, strided to ``max_tokens`` per side."""
    query, key = _arg(args, kwargs, 0, "query"), _arg(args, kwargs, 1, "key")
    if not isinstance(query, torch.Tensor) or not isinstance(key, torch.Tensor) or query.is_meta:
        return None
    q, k = mha_query_key(module, query, key)
    heads, head_dim = q.shape[0], q.shape[-1]
    logits = q @ k.transpose(-1, -2) / math.sqrt(head_dim)
    mask = _arg(args, kwargs, 5, "attn_mask")
    if isinstance(mask, torch.Tensor) and mask.shape[-2:] == logits.shape[-2:]:
        mask = mask if mask.dim() == 2 else mask[:heads]
        logits = logits.masked_fill(mask, float("-inf")) if mask.dtype == torch.bool else logits + mask
    weights = torch.softmax(logits.float(), dim=-1)
    return _strided_half(weights, _step(weights.shape[1], max_tokens), max_tokens)


def _item0(t: torch.Tensor) -> torch.Tensor | None:
    """(heads, tokens, dim) of batch item 0 from SDPA's (N, H, L, E), (N, L, E) or (L, E) layouts."""
    if t.dim() == 4:
        return t[0]
    if t.dim() == 3:
        return t[:1]
    return t[None] if t.dim() == 2 else None


def sdpa_maps(args: tuple, kwargs: dict, max_tokens: int) -> torch.Tensor | None:
    """What ``F.scaled_dot_product_attention`` computed for batch item 0, per head: attn_mask (bool:
    True takes part; float: added), ``is_causal``, ``scale`` and grouped-query heads as the kernel does."""
    query, key = _arg(args, kwargs, 0, "query"), _arg(args, kwargs, 1, "key")
    if not isinstance(query, torch.Tensor) or not isinstance(key, torch.Tensor) or query.is_meta:
        return None
    q, k = _item0(query), _item0(key)
    if q is None or k is None or k.shape[-2] > MAX_KEYS or q.shape[0] % k.shape[0]:
        return None
    if k.shape[0] != q.shape[0]:  # grouped-query attention: each key head serves a group of query heads
        k = k.repeat_interleave(q.shape[0] // k.shape[0], dim=0)
    length, keys = q.shape[-2], k.shape[-2]
    step_t = _step(length, max_tokens)
    scale = _arg(args, kwargs, 6, "scale")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    logits = (q[:, ::step_t].float() @ k.float().transpose(-1, -2)) * scale
    mask = _arg(args, kwargs, 3, "attn_mask")
    if isinstance(mask, torch.Tensor):
        mask = (mask[0] if mask.dim() == 4 else mask)[..., ::step_t, :]
        logits = logits.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else logits + mask.float()
    if _arg(args, kwargs, 5, "is_causal"):
        causal = torch.ones(length, keys, dtype=torch.bool, device=logits.device).tril()[::step_t]
        logits = logits.masked_fill(~causal, float("-inf"))
    weights = torch.softmax(logits, dim=-1).nan_to_num(0.0)  # a fully masked row attends nowhere
    return _strided_half(weights, 1, max_tokens)


def softmax_maps(args: tuple, kwargs: dict, out: Any, max_tokens: int) -> torch.Tensor | None:
    """Batch item 0 of a (batch, heads, queries, keys) softmax over keys: explicit attention weights."""
    dim = _arg(args, kwargs, 1, "dim")
    if not isinstance(out, torch.Tensor) or out.dim() != 4 or dim not in (-1, 3) or out.is_meta:
        return None
    if out.shape[-1] < 2 or out.shape[-2] < 2:
        return None
    weights = out[0]
    return _strided_half(weights, _step(weights.shape[1], max_tokens), max_tokens)


def function_maps(
    func: Callable[..., Any], args: tuple, kwargs: dict, out: Any, max_tokens: int
) -> torch.Tensor | None:
    """Attention maps of one call of a function named in :data:`ATTENTION_NAMES`, or None."""
    if func.__name__ == "scaled_dot_product_attention":
        return sdpa_maps(args, kwargs, max_tokens)
    return softmax_maps(args, kwargs, out, max_tokens)
