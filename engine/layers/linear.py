"""Linear layers with vLLM's names, sharded over the tensor-parallel group (nano-vllm's scheme).

Column-parallel: each rank holds rows [rank * n, (rank + 1) * n) of the weight (output features) and
produces its slice of the output; no communication. Row-parallel: each rank holds a slice of the input
features, multiplies its slice of the input and the partial sums are all-reduced. QKV is split by heads
(query and KV heads alike); gate_up by halves of each of gate and up. Every parameter carries a
`weight_loader(param, loaded_weight, shard_id=None)` that takes the full checkpoint tensor and copies
this rank's shard. At world size 1 nothing is sharded and nothing is communicated.

FP8 (engine/quantization): `use_fp8()` before loading an FP8 checkpoint, or `quantize_weight_()` after
loading a bf16 one, turns `weight` into FP8 codes with `weight_scale` (float32, one per output row of
this rank) and, for static activation scales, `input_scale`. A checkpoint's per-tensor scale of a
merged shard (q, k, v, gate, up) is expanded over that shard's rows, and block-wise scales are
requantized per row after loading, so every layer runs per-channel."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.distributed import divide, get_tp_rank, get_tp_size, tensor_parallel_all_reduce
from engine.layers.cuda_kernels import cuda_kernels
from engine.quantization.fp8 import FP8_DTYPE, Fp8Activation, quantize_per_channel
from engine.quantization.linear import bias_fusable, fp8_linear, prepare_skinny


def prepare_split_k(device: torch.device) -> None:
    """On a GPU, the split-K ticket counters that the skinny GEMMs share (FP8 and 16-bit weights, the fused
    QKV projection: engine/kernels/fp8_gemm.py), made before CUDA-graph capture; 256 KiB."""
    if torch.device(device).type == "cuda" and (ops := cuda_kernels()) is not None:
        ops.fp8_gemm.prepare(device)


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
        self.fp8 = False
        self.weight_block: tuple[int, int] | None = None

    def weight_loader(
        self, param: nn.Parameter, loaded_weight: torch.Tensor, shard_id: str | int | None = None
    ) -> None:
        default_weight_loader(param, loaded_weight)

    @property
    def takes_fp8_input(self) -> bool:
        """FP8 with dynamic per-token activation scales: the caller may hand over an Fp8Activation."""
        return self.fp8 and self.input_scale is None

    def forward(self, x: torch.Tensor | Fp8Activation) -> torch.Tensor:
        return self.matmul(x, self.bias)

    def matmul(self, x: torch.Tensor | Fp8Activation, bias: torch.Tensor | None) -> torch.Tensor:
        if self.fp8:
            return fp8_linear(x, self.weight, self.weight_scale, bias, self.input_scale)
        if x.is_cuda and (ops := cuda_kernels()) is not None:  # decode sizes: engine/kernels/bf16_gemm.py
            return ops.bf16_linear(x, self.weight, bias)
        return F.linear(x, self.weight, bias)

    def output_rows(self, shard_id: str | int | None) -> tuple[int, int]:
        """(offset, size) of checkpoint shard `shard_id` in this rank's output rows."""
        return 0, self.output_size

    def use_fp8(self, static_input_scale: bool = False, weight_block: tuple[int, int] | None = None) -> None:
        """Before loading an FP8 checkpoint: FP8 weight, per-output-row scales (and a static input scale).
        weight_block (rows, cols): block-wise scales, held as [rows / block, cols / block] until
        `requantize_blocks_per_channel_`."""
        device = self.weight.device
        self._set_fp8(
            torch.empty(self.weight.shape, dtype=FP8_DTYPE, device=device),
            torch.ones(self.output_size, dtype=torch.float32, device=device),
        )
        if weight_block is not None:
            rows, cols = weight_block
            if self.output_size % rows or self.input_size % cols:
                raise ValueError(
                    f"{self.output_size} x {self.input_size} weights (this rank's) do not tile"
                    f" into {rows} x {cols} scale blocks"
                )
            grid = (self.output_size // rows, self.input_size // cols)
            self.weight_scale = nn.Parameter(torch.ones(grid, device=device), requires_grad=False)
            self.weight_scale.weight_loader = self.block_scale_loader
            self.weight_block = weight_block
        if static_input_scale:  # the max over the shards' scales (vLLM), so it starts at 0
            self.input_scale = nn.Parameter(torch.zeros((), device=device), requires_grad=False)
            self.input_scale.weight_loader = self.input_scale_loader

    @torch.no_grad()
    def quantize_weight_(self) -> None:
        """Online quantization of the loaded weight (this rank's shard): per-output-channel scales, dynamic
        per-token activation scales."""
        codes, scale = quantize_per_channel(self.weight.data)
        self._set_fp8(codes, scale)

    def _set_fp8(self, codes: torch.Tensor, scale: torch.Tensor) -> None:
        self.weight = nn.Parameter(codes, requires_grad=False)
        self.weight.weight_loader = self.weight_loader
        self.weight_scale = nn.Parameter(scale, requires_grad=False)
        self.weight_scale.weight_loader = self.scale_loader
        self.register_parameter("input_scale", None)
        self.fp8 = True
        if codes.is_cuda:
            prepare_skinny(codes.device)
            if self.bias is not None:
                bias_fusable()

    def scale_loader(
        self, param: nn.Parameter, loaded_scale: torch.Tensor, shard_id: str | int | None = None
    ) -> None:
        """A checkpoint weight scale: one per tensor (expanded over the shard's rows) or one per output
        channel (sharded as the weight's rows are)."""
        target = param.data.narrow(0, *self.output_rows(shard_id))
        loaded_scale = loaded_scale.reshape(-1).float()
        if loaded_scale.numel() == 1:
            target.copy_(loaded_scale.expand_as(target))
            return
        if self.tp_dim == 0:
            loaded_scale = rank_shard(loaded_scale, 0, self.tp_rank, self.tp_size)
        copy_shard(target, loaded_scale)

    def block_scale_loader(
        self, param: nn.Parameter, loaded_scale: torch.Tensor, shard_id: str | int | None = None
    ) -> None:
        """Block-wise scales [shard rows / block, cols / block] of one checkpoint shard: its block rows
        (column-parallel: this rank's) or block columns (row-parallel: this rank's input slice)."""
        assert self.weight_block is not None
        rows, _ = self.weight_block
        offset, size = self.output_rows(shard_id)
        if offset % rows or size % rows:
            raise ValueError(f"shard {shard_id}: rows [{offset}, {offset + size}) split {rows}-row blocks")
        loaded_scale = loaded_scale.float()
        if loaded_scale.dim() != 2:
            raise ValueError(f"block scales must be 2-D, got shape {tuple(loaded_scale.shape)}")
        loaded_scale = rank_shard(loaded_scale, 1 if self.tp_dim == 1 else 0, self.tp_rank, self.tp_size)
        copy_shard(param.data.narrow(0, offset // rows, size // rows), loaded_scale)

    @torch.no_grad()
    def requantize_blocks_per_channel_(self) -> None:
        """Block-wise codes and scales -> the same weight with one scale per output row."""
        if self.weight_block is None:
            return
        rows, cols = self.weight_block
        scale = self.weight_scale.data.repeat_interleave(rows, 0).repeat_interleave(cols, 1)
        codes, row_scale = quantize_per_channel(self.weight.data.float() * scale)
        self._set_fp8(codes, row_scale)
        self.weight_block = None

    def input_scale_loader(
        self, param: nn.Parameter, loaded_scale: torch.Tensor, shard_id: str | int | None = None
    ) -> None:
        """A static per-tensor activation scale; merged shards (q, k, v) keep the largest."""
        if loaded_scale.numel() != 1:
            raise ValueError(f"input_scale must be per-tensor, got shape {tuple(loaded_scale.shape)}")
        value = loaded_scale.reshape(()).float().to(param.device)
        param.data.copy_(torch.maximum(param.data, value))


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

    def forward(self, x: torch.Tensor | Fp8Activation) -> torch.Tensor:
        y = self.matmul(x, self.bias if self.tp_rank == 0 else None)
        return tensor_parallel_all_reduce(y)


class MergedColumnParallelLinear(ColumnParallelLinear):
    """Several column linears over the same input stored as one (gate_proj + up_proj); each rank holds
    its shard of each, side by side."""

    def __init__(self, input_size: int, output_sizes: list[int], bias: bool = False) -> None:
        super().__init__(input_size, sum(output_sizes), bias)
        self.output_sizes = output_sizes

    def output_rows(self, shard_id: str | int | None) -> tuple[int, int]:
        assert isinstance(shard_id, int)
        offset = sum(self.output_sizes[:shard_id]) // self.tp_size
        return offset, self.output_sizes[shard_id] // self.tp_size

    def weight_loader(
        self, param: nn.Parameter, loaded_weight: torch.Tensor, shard_id: str | int | None = None
    ) -> None:
        shard = rank_shard(loaded_weight, 0, self.tp_rank, self.tp_size)
        copy_shard(param.data.narrow(0, *self.output_rows(shard_id)), shard)


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

    def output_rows(self, shard_id: str | int | None) -> tuple[int, int]:
        return {
            "q": (0, self.q_size),
            "k": (self.q_size, self.kv_size),
            "v": (self.q_size + self.kv_size, self.kv_size),
        }[shard_id]

    def weight_loader(
        self, param: nn.Parameter, loaded_weight: torch.Tensor, shard_id: str | int | None = None
    ) -> None:
        shard = rank_shard(loaded_weight, 0, self.tp_rank, self.tp_size)
        copy_shard(param.data.narrow(0, *self.output_rows(shard_id)), shard)


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
