"""Linear layers with vLLM's names, sharded over the tensor-parallel group (nano-vllm's scheme).

Column-parallel: each rank holds rows [rank * n, (rank + 1) * n) of the weight (output features) and
produces its slice of the output; no communication. Row-parallel: each rank holds a slice of the input
features, multiplies its slice of the input and the partial sums are all-reduced. QKV is split by heads
(query and KV heads alike); gate_up by halves of each of gate and up. Every parameter carries a
`weight_loader(param, loaded_weight, shard_id=None)` that takes the full checkpoint tensor and copies
this rank's shard. At world size 1 nothing is sharded and nothing is communicated."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.distributed import divide, get_tp_rank, get_tp_size, tensor_parallel_all_reduce


class LinearBase(nn.Module):
    """weight [output_size, input_size] of this rank; tp_dim: the weight dimension that is sharded."""

    def __init__(
        self, input_size: int, output_size: int, bias: bool = False, tp_dim: int | None = None
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.output_size = output_size
        self.tp_dim = tp_dim
        self.tp_rank = get_tp_rank()
        self.tp_size = get_tp_size()
        self.weight = nn.Parameter(torch.empty(output_size, input_size), requires_grad=False)
        self.weight.weight_loader = self.weight_loader
        if bias:
            self.bias = nn.Parameter(torch.empty(output_size), requires_grad=False)
            self.bias.weight_loader = self.weight_loader
        else:
            self.register_parameter("bias", None)

    def weight_loader(
        self, param: nn.Parameter, loaded_weight: torch.Tensor, shard_id: str | int | None = None
    ) -> None:
        default_weight_loader(param, loaded_weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class ReplicatedLinear(LinearBase):
    pass


class ColumnParallelLinear(LinearBase):
    """Output features split over the ranks; the output stays split (the next layer is row-parallel)."""

    def __init__(self, input_size: int, output_size: int, bias: bool = False) -> None:
        super().__init__(input_size, divide(output_size, get_tp_size()), bias, tp_dim=0)

    def weight_loader(
        self, param: nn.Parameter, loaded_weight: torch.Tensor, shard_id: str | int | None = None
    ) -> None:
        if self.tp_size == 1:
            default_weight_loader(param, loaded_weight)
            return
        copy_shard(param.data, rank_shard(loaded_weight, 0, self.tp_rank, self.tp_size))


class RowParallelLinear(LinearBase):
    """Input features split over the ranks; partial outputs are all-reduced. The bias is added once."""

    def __init__(self, input_size: int, output_size: int, bias: bool = False) -> None:
        super().__init__(divide(input_size, get_tp_size()), output_size, bias, tp_dim=1)

    def weight_loader(
        self, param: nn.Parameter, loaded_weight: torch.Tensor, shard_id: str | int | None = None
    ) -> None:
        if self.tp_size == 1 or param is self.bias:
            default_weight_loader(param, loaded_weight)
            return
        copy_shard(param.data, rank_shard(loaded_weight, 1, self.tp_rank, self.tp_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight, self.bias if self.tp_rank == 0 else None)
        return tensor_parallel_all_reduce(y)


class MergedColumnParallelLinear(ColumnParallelLinear):
    """Several column linears over the same input stored as one (gate_proj + up_proj); each rank holds
    its shard of each, side by side."""

    def __init__(self, input_size: int, output_sizes: list[int], bias: bool = False) -> None:
        super().__init__(input_size, sum(output_sizes), bias)
        self.output_sizes = output_sizes

    def weight_loader(
        self, param: nn.Parameter, loaded_weight: torch.Tensor, shard_id: str | int | None = None
    ) -> None:
        assert isinstance(shard_id, int)
        offset = sum(self.output_sizes[:shard_id]) // self.tp_size
        size = self.output_sizes[shard_id] // self.tp_size
        shard = rank_shard(loaded_weight, 0, self.tp_rank, self.tp_size)
        copy_shard(param.data.narrow(0, offset, size), shard)


class QKVParallelLinear(ColumnParallelLinear):
    """q_proj, k_proj and v_proj stored as one projection; shard ids "q", "k", "v". Each rank holds
    num_heads / tp query heads and num_kv_heads / tp KV heads."""

    def __init__(
        self, hidden_size: int, head_dim: int, num_heads: int, num_kv_heads: int, bias: bool = False
    ) -> None:
        tp_size = get_tp_size()
        self.num_heads = divide(num_heads, tp_size)
        self.num_kv_heads = divide(num_kv_heads, tp_size)
        self.q_size = self.num_heads * head_dim
        self.kv_size = self.num_kv_heads * head_dim
        super().__init__(hidden_size, (num_heads + 2 * num_kv_heads) * head_dim, bias)

    def weight_loader(
        self, param: nn.Parameter, loaded_weight: torch.Tensor, shard_id: str | int | None = None
    ) -> None:
        offset, size = {
            "q": (0, self.q_size),
            "k": (self.q_size, self.kv_size),
            "v": (self.q_size + self.kv_size, self.kv_size),
        }[shard_id]
        shard = rank_shard(loaded_weight, 0, self.tp_rank, self.tp_size)
        copy_shard(param.data.narrow(0, offset, size), shard)


def rank_shard(loaded_weight: torch.Tensor, dim: int, rank: int, world_size: int) -> torch.Tensor:
    """Slice `rank` of `world_size` equal slices of loaded_weight along dim."""
    if world_size == 1:
        return loaded_weight
    full = loaded_weight.size(dim)
    if full % world_size:
        raise ValueError(f"dimension {dim} of {tuple(loaded_weight.shape)} does not split into {world_size}")
    size = full // world_size
    return loaded_weight.narrow(dim, rank * size, size)


def default_weight_loader(param: nn.Parameter, loaded_weight: torch.Tensor) -> None:
    """The whole parameter: adopt the loaded tensor if dtype and device already match, else copy."""
    if param.shape != loaded_weight.shape:
        raise ValueError(f"shape mismatch: expected {tuple(param.shape)}, got {tuple(loaded_weight.shape)}")
    same_place = loaded_weight.dtype == param.dtype and loaded_weight.device == param.device
    if same_place and loaded_weight.is_contiguous():
        param.data = loaded_weight
    else:
        param.data.copy_(loaded_weight)


def copy_shard(target: torch.Tensor, loaded_weight: torch.Tensor) -> None:
    """Part of a parameter (a narrowed view of its data)."""
    if target.shape != loaded_weight.shape:
        raise ValueError(f"shape mismatch: expected {tuple(target.shape)}, got {tuple(loaded_weight.shape)}")
    target.copy_(loaded_weight)
