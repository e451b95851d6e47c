"""Which process writes, and the weights a sharded model spreads over its processes.

Under ``torch.distributed`` every process runs the same training script, so every one would write
the same recording; only global rank 0 does (:func:`global_rank`). A DDP model holds the full
weights on every rank and its wrapped module traces without any collective, so rank 0 traces it
alone. An FSDP model holds only a shard per rank and its forward is collective: render3d gathers
the full state dict on CPU (:func:`full_state_dict`, called by every rank) and rank 0 loads it into
an unsharded copy of the same architecture, which it traces alone (:func:`load_unsharded`).
"""

from __future__ import annotations

import os
from typing import cast

import torch
from torch import nn

from render3d.errors import RecordingError

__all__ = ["full_state_dict", "global_rank", "is_sharded", "load_unsharded"]


def global_rank() -> int:
    """This process's global rank: from ``torch.distributed`` once a process group is up, else
    from ``RANK`` (set by ``torchrun``, Lightning and accelerate before the group starts), else 0."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def is_sharded(model: nn.Module) -> bool:
    """Whether ``model`` (or a module inside it) is sharded by FSDP (``FullyShardedDataParallel``
    or ``fully_shard``): no rank holds its weights, and its forward is a collective."""
    try:
        from torch.distributed.fsdp import FSDPModule, FullyShardedDataParallel
    except ImportError:  # torch without distributed support
        return False
    return any(isinstance(m, (FSDPModule, FullyShardedDataParallel)) for m in model.modules())


def full_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The full (unsharded) state dict of an FSDP ``model`` on CPU, on rank 0 (empty elsewhere).

    A collective: every rank must call it at the same point, or the job hangs.
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    return cast(dict[str, torch.Tensor], state)  # typed for optimizer state too; a model's holds tensors only


def load_unsharded(template: nn.Module, state: dict[str, torch.Tensor]) -> nn.Module:
    """``template`` (an unsharded copy of the model's architecture) holding the gathered ``state``."""
    missing, unexpected = template.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RecordingError(
            f"the unsharded copy ({type(template).__name__}) does not match the sharded model's "
            f"weights (missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]}); pass "
            "template= an instance of the same architecture, built before sharding"
        )
    return template
