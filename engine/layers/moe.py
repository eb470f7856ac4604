"""Sparse mixture-of-experts MLP (Mixtral, Qwen2-MoE, Qwen3-MoE), sharded over the tensor-parallel group.

Routing: softmax over the router logits (float32), the top_k experts, renormalised to sum 1 when the
config says so (norm_topk_prob; always for Mixtral). Experts are stored fused: w13 [E, 2 * I / tp, H]
(each rank's slice of gate, then of up: the column-parallel split of every expert) and w2
[E, H, I / tp] (the row-parallel split); the partial outputs are all-reduced. Qwen2-MoE adds a shared
expert (a dense MLP) scaled by sigmoid(shared_expert_gate(x)).

The PyTorch path (`moe_reference`, one matmul pair per expert that received tokens) is the CPU path and
the oracle of the Triton kernel (engine/kernels/moe.py), which CUDA tensors use.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.distributed import divide, get_tp_rank, get_tp_size, tensor_parallel_all_reduce
from engine.layers.cuda_kernels import cuda_kernels
from engine.layers.linear import copy_shard, default_weight_loader, rank_shard
from engine.models.config import DecoderConfig


def route(router_logits: torch.Tensor, top_k: int, renormalize: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(weights [T, k] float32, expert ids [T, k]) from router logits [T, E]: softmax, then top-k."""
    probs = torch.softmax(router_logits.float(), dim=-1)
    weights, ids = torch.topk(probs, top_k, dim=-1)
    if renormalize:
        weights = weights / weights.sum(dim=-1, keepdim=True)
    return weights, ids


def moe_reference(
    x: torch.Tensor, w13: torch.Tensor, w2: torch.Tensor, topk_weights: torch.Tensor, topk_ids: torch.Tensor
) -> torch.Tensor:
    """The oracle: for each expert that got tokens, its SiLU-gated MLP over them, weighted and summed."""
    out = torch.zeros(x.shape, dtype=torch.float32, device=x.device)
    flat_ids = topk_ids.flatten()
    tokens = torch.arange(x.shape[0], device=x.device).repeat_interleave(topk_ids.shape[1])
    flat_weights = topk_weights.flatten().float()
    for expert in flat_ids.unique().tolist():
        hit = flat_ids == expert
        rows = tokens[hit]
        gate, up = F.linear(x[rows], w13[expert]).chunk(2, dim=-1)
        y = F.linear(F.silu(gate) * up, w2[expert]).float()
        out.index_add_(0, rows, y * flat_weights[hit, None])
    return out.to(x.dtype)


def fused_experts(
    x: torch.Tensor, w13: torch.Tensor, w2: torch.Tensor, topk_weights: torch.Tensor, topk_ids: torch.Tensor
) -> torch.Tensor:
    """The Triton kernel on CUDA (when Triton is there), else the reference."""
    if x.is_cuda and cuda_kernels() is not None:
        from engine.kernels.moe import fused_moe

        return fused_moe(x, w13, w2, topk_weights, topk_ids)
    return moe_reference(x, w13, w2, topk_weights, topk_ids)


class Router(nn.Module):
    """A replicated [out, hidden] projection in the model dtype: the router and the shared-expert gate,
    which FP8 quantization (engine/quantization, LinearBase only) leaves alone, as vLLM does."""

    def __init__(self, hidden_size: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, hidden_size), requires_grad=False)
        self.weight.weight_loader = lambda param, loaded, shard_id=None: default_weight_loader(param, loaded)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


class FusedExperts(nn.Module):
    """E experts' weights: w13 [E, 2 * I / tp, H], w2 [E, H, I / tp]. A checkpoint tensor of expert e is
    loaded with shard id (e, "gate" | "up" | "down")."""

    def __init__(self, num_experts: int, hidden_size: int, intermediate_size: int) -> None:
        super().__init__()
        self.tp_rank, self.tp_size = get_tp_rank(), get_tp_size()
        self.num_experts = num_experts
        self.intermediate = divide(intermediate_size, self.tp_size)
        w13 = torch.empty(num_experts, 2 * self.intermediate, hidden_size)
        self.w13 = nn.Parameter(w13, requires_grad=False)
        self.w2 = nn.Parameter(torch.empty(num_experts, hidden_size, self.intermediate), requires_grad=False)
        self.w13.weight_loader = self.weight_loader
        self.w2.weight_loader = self.weight_loader

    def weight_loader(
        self, param: nn.Parameter, loaded_weight: torch.Tensor, shard_id: tuple[int, str] | None = None
    ) -> None:
        if shard_id is None:
            raise ValueError("expert weights are loaded one expert at a time")
        expert, which = shard_id
        if which == "down":  # [H, I]: this rank's input columns
            copy_shard(param.data[expert], rank_shard(loaded_weight, 1, self.tp_rank, self.tp_size))
            return
        offset = 0 if which == "gate" else self.intermediate
        target = param.data[expert].narrow(0, offset, self.intermediate)
        copy_shard(target, rank_shard(loaded_weight, 0, self.tp_rank, self.tp_size))

    def forward(self, x: torch.Tensor, topk_weights: torch.Tensor, topk_ids: torch.Tensor) -> torch.Tensor:
        return fused_experts(x, self.w13, self.w2, topk_weights.to(x.dtype), topk_ids)


class SparseMoeBlock(nn.Module):
    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.top_k = config.num_experts_per_tok
        self.renormalize = config.norm_topk_prob
        self.gate = Router(config.hidden_size, config.num_experts)
        self.experts = FusedExperts(config.num_experts, config.hidden_size, config.moe_intermediate_size)
        if config.shared_expert_intermediate_size:  # Qwen2-MoE
            from engine.models.decoder import DecoderMLP

            self.shared_expert = DecoderMLP(config, config.shared_expert_intermediate_size)
            self.shared_expert_gate = Router(config.hidden_size, 1)
        else:
            self.shared_expert = self.shared_expert_gate = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        topk_weights, topk_ids = route(self.gate(x), self.top_k, self.renormalize)
        out = tensor_parallel_all_reduce(self.experts(x, topk_weights, topk_ids))
        if self.shared_expert is not None:
            out = out + torch.sigmoid(self.shared_expert_gate(x)) * self.shared_expert(x)
        return out
