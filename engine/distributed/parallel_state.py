"""The tensor-parallel group of this process: rank, world size, and a gloo group for host-side messages.

One process per device. `init_tensor_parallel` joins the group (NCCL on CUDA, gloo on CPU) plus a gloo
group over the same ranks for Python objects (the step rank 0 broadcasts). Before it, and after
`destroy_tensor_parallel`, this process is rank 0 of 1 and every collective is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch.distributed as dist

# Never use NVLink multicast (NVLS): set in every rank's environment before NCCL starts.
NO_MULTICAST_ENV = {
    "NCCL_NVLS_ENABLE": "0",
    "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1",
    "NVSHMEM_DISABLE_NVLS": "1",
}


IDLE_TIMEOUT = timedelta(days=365)


@dataclass(slots=True)
class TensorParallelState:
    rank: int = 0
    world_size: int = 1
    cpu_group: dist.ProcessGroup | None = None


_state = TensorParallelState()


def get_tp_rank() -> int:
    return _state.rank


def get_tp_size() -> int:
    return _state.world_size


def get_cpu_group() -> dist.ProcessGroup | None:
    return _state.cpu_group


def divide(numerator: int, denominator: int) -> int:
    if numerator % denominator:
        raise ValueError(f"{numerator} is not divisible by {denominator}")
    return numerator // denominator


def init_tensor_parallel(
    rank: int, world_size: int, init_method: str, backend: str, timeout_s: float = 1800.0
) -> None:
    """Join the group; every rank calls this with the same init_method (a file:// or tcp:// address).

    The host-side group never times out: a worker waits in it for the next step for as long as the engine
    is idle (a dead peer still fails it at once: gloo sees the connection close)."""
    if world_size > 1:
        os.environ.update(NO_MULTICAST_ENV)
        timeout = IDLE_TIMEOUT if backend == "gloo" else timedelta(seconds=timeout_s)
        dist.init_process_group(
            backend, init_method=init_method, rank=rank, world_size=world_size, timeout=timeout
        )
        gloo = dist.group.WORLD if backend == "gloo" else dist.new_group(backend="gloo", timeout=IDLE_TIMEOUT)
        _state.cpu_group = gloo
    _state.rank, _state.world_size = rank, world_size


def destroy_tensor_parallel() -> None:
    if _state.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()
    _state.rank, _state.world_size, _state.cpu_group = 0, 1, None
