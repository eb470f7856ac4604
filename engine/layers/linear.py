"""Linear layers with vLLM's names. Tensor parallelism is not implemented yet (tp_size = 1), but every
parameter carries a `weight_loader(param, loaded_weight, shard_id=None)` so sharding can be added there."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LinearBase(nn.Module):
    def __init__(self, input_size: int, output_size: int, bias: bool = False) -> None:
        super().__init__()
        self.input_size = input_size
        self.output_size = output_size
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
    pass


class RowParallelLinear(LinearBase):
    pass


class MergedColumnParallelLinear(ColumnParallelLinear):
    """Several column linears over the same input stored as one (gate_proj + up_proj)."""

    def __init__(self, input_size: int, output_sizes: list[int], bias: bool = False) -> None:
        super().__init__(input_size, sum(output_sizes), bias)
        self.output_sizes = output_sizes

    def weight_loader(
        self, param: nn.Parameter, loaded_weight: torch.Tensor, shard_id: str | int | None = None
    ) -> None:
        assert isinstance(shard_id, int)
        offset = sum(self.output_sizes[:shard_id])
        copy_shard(param.data.narrow(0, offset, self.output_sizes[shard_id]), loaded_weight)


class QKVParallelLinear(ColumnParallelLinear):
    """q_proj, k_proj and v_proj stored as one projection; shard ids "q", "k", "v"."""

    def __init__(
        self, hidden_size: int, head_dim: int, num_heads: int, num_kv_heads: int, bias: bool = False
    ) -> None:
        self.q_size = num_heads * head_dim
        self.kv_size = num_kv_heads * head_dim
        super().__init__(hidden_size, self.q_size + 2 * self.kv_size, bias)

    def weight_loader(
        self, param: nn.Parameter, loaded_weight: torch.Tensor, shard_id: str | int | None = None
    ) -> None:
        offset, size = {
            "q": (0, self.q_size),
            "k": (self.q_size, self.kv_size),
            "v": (self.q_size + self.kv_size, self.kv_size),
        }[shard_id]
        copy_shard(param.data.narrow(0, offset, size), loaded_weight)


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
