"""Tensor parallelism: the process group (parallel_state), collectives that are no-ops at world size 1
(communication), and the spawned worker ranks of an engine (workers)."""

from engine.distributed.communication import (
    all_reduce_min,
    broadcast_object,
    tensor_parallel_all_reduce,
    tensor_parallel_gather,
)
from engine.distributed.parallel_state import (
    NO_MULTICAST_ENV,
    destroy_tensor_parallel,
    divide,
    get_cpu_group,
    get_tp_rank,
    get_tp_size,
    init_tensor_parallel,
)

__all__ = [
    "NO_MULTICAST_ENV",
    "all_reduce_min",
    "broadcast_object",
    "destroy_tensor_parallel",
    "divide",
    "get_cpu_group",
    "get_tp_rank",
    "get_tp_size",
    "init_tensor_parallel",
    "tensor_parallel_all_reduce",
    "tensor_parallel_gather",
]
