"""Collectives over the tensor-parallel group; each is a no-op (or the identity) at world size 1."""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist

from engine.distributed.parallel_state import get_cpu_group, get_tp_rank, get_tp_size


def tensor_parallel_all_reduce(x: torch.Tensor) -> torch.Tensor:
    """Sum x over the ranks, in place; every rank gets the sum."""
    if get_tp_size() > 1:
        dist.all_reduce(x)
    return x


def tensor_parallel_gather(x: torch.Tensor, dim: int = -1) -> torch.Tensor | None:
    """Concatenate every rank's x along dim on rank 0; the other ranks get None."""
    size = get_tp_size()
    if size == 1:
        return x
    x = x.contiguous()
    parts = [torch.empty_like(x) for _ in range(size)] if get_tp_rank() == 0 else None
    dist.gather(x, parts, dst=0)
    return torch.cat(parts, dim=dim) if parts is not None else None


def broadcast_object(obj: Any = None) -> Any:
    """Rank 0's obj on every rank (pickled, over the host-side gloo group)."""
    if get_tp_size() == 1:
        return obj
    box = [obj if get_tp_rank() == 0 else None]
    dist.broadcast_object_list(box, src=0, group=get_cpu_group())
    return box[0]


def all_reduce_min(value: int) -> int:
    """The smallest value over the ranks (e.g. the KV blocks every rank can hold)."""
    if get_tp_size() == 1:
        return value
    t = torch.tensor([value], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MIN, group=get_cpu_group())
    return int(t.item())
