"""Fused mixture-of-experts in Triton: the (token, expert) pairs sorted by expert, two grouped GEMMs.

`align_by_expert` sorts the T * top_k pairs (pair p = token p // top_k, its slot p % top_k) by expert
and pads each expert's run to a multiple of BLOCK_M with the sentinel T * top_k; every BLOCK_M-row block
then belongs to one expert (`block_experts`, -1 past the end). All of it is tensor ops (no sort: a
pair's rank within its expert is a cumulative count over a one-hot) with a static bound on the padded
length (T * top_k + E * (BLOCK_M - 1)), so there is no host sync and the launch can be captured in a
CUDA graph.

`_grouped_gemm_kernel`, one program per (row block, N tile), launched GROUP_M row blocks at a time
(tiles by problem size: engine/kernels/moe_config.py): a program multiplies its block's rows (gathered
from A by pair, or by token for the first GEMM) by its expert's weight [N, K] and scatters the rows to
C by pair, optionally times the pair's routing weight. gate/up is one launch (N = 2 * intermediate),
then SiLU(gate) * up, then down is one launch with the routing weights; the weighted sum over each
token's top_k rows is a sum over a [T, top_k, H] view. No Python loop over experts.
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

from engine.kernels.activation import silu_and_mul
from engine.kernels.moe_config import MoeConfig, moe_config


@triton.jit
def _grouped_gemm_kernel(
    a_ptr, b_ptr, c_ptr, weights_ptr, sorted_pairs_ptr, block_experts_ptr,
    N, K, num_pairs, num_blocks_m,
    stride_am, stride_ak, stride_be, stride_bn, stride_bk, stride_cm, stride_cn,
    A_ROW_DIV: tl.constexpr, MUL_WEIGHT: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
    EVEN_K: tl.constexpr, DOT_PRECISION: tl.constexpr,
):
    # grouped launch order: GROUP_M neighbouring row blocks (mostly one expert) sweep N together
    pid = tl.program_id(0)
    num_blocks_n = tl.cdiv(N, BLOCK_N)
    per_group = GROUP_M * num_blocks_n
    first_m = (pid // per_group) * GROUP_M
    group_size = tl.minimum(num_blocks_m - first_m, GROUP_M)
    pid_m = first_m + (pid % per_group) % group_size
    pid_n = (pid % per_group) // group_size
    expert = tl.load(block_experts_ptr + pid_m)
    if expert < 0:
        return
    pairs = tl.load(sorted_pairs_ptr + pid_m * BLOCK_M + tl.arange(0, BLOCK_M))
    valid = pairs < num_pairs
    a_rows = (pairs // A_ROW_DIV).to(tl.int64)
    cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    col_mask = cols < N
    b_base = b_ptr + expert.to(tl.int64) * stride_be
    acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        if EVEN_K:
            a = tl.load(a_ptr + a_rows[:, None] * stride_am + ks[None, :] * stride_ak,
                        mask=valid[:, None], other=0.0)
            b = tl.load(b_base + ks[:, None] * stride_bk + cols[None, :] * stride_bn,
                        mask=col_mask[None, :], other=0.0)
        else:
            k_mask = ks < K
            a = tl.load(a_ptr + a_rows[:, None] * stride_am + ks[None, :] * stride_ak,
                        mask=valid[:, None] & k_mask[None, :], other=0.0)
            b = tl.load(b_base + ks[:, None] * stride_bk + cols[None, :] * stride_bn,
                        mask=k_mask[:, None] & col_mask[None, :], other=0.0)
        acc += tl.dot(a, b, input_precision=DOT_PRECISION)
    if MUL_WEIGHT:
        w = tl.load(weights_ptr + pairs, mask=valid, other=0.0).to(tl.float32)
        acc = acc * w[:, None]
    c_rows = pairs.to(tl.int64)
    tl.store(c_ptr + c_rows[:, None] * stride_cm + cols[None, :] * stride_cn,
             acc.to(c_ptr.dtype.element_ty), mask=valid[:, None] & col_mask[None, :])


def align_by_expert(
    topk_ids: torch.Tensor, num_experts: int, block_m: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(sorted_pairs [T*k + E*(block_m-1)], block_experts [len / block_m]): pair indices grouped by
    expert, each group padded to block_m with T*k; each block's expert, -1 for blocks past the end."""
    flat = topk_ids.flatten().long()
    num_pairs = flat.numel()
    device = flat.device
    capacity = num_pairs + num_experts * (block_m - 1)
    capacity = -(-capacity // block_m) * block_m
    counts = torch.zeros(num_experts, dtype=torch.long, device=device)
    counts.scatter_add_(0, flat, torch.ones_like(flat))
    padded = (counts + block_m - 1) // block_m * block_m
    padded_end = padded.cumsum(0)
    run_start = padded_end - padded  # where each expert's padded run starts
    # each pair's rank among its expert's pairs (in pair order): a cumulative count over a one-hot
    one_hot = torch.zeros(num_pairs, num_experts, dtype=torch.int32, device=device)
    one_hot.scatter_(1, flat[:, None], 1)
    rank = one_hot.cumsum(0, dtype=torch.int32).gather(1, flat[:, None])[:, 0] - 1
    sorted_pairs = torch.full((capacity,), num_pairs, dtype=torch.int32, device=device)
    pairs = torch.arange(num_pairs, dtype=torch.int32, device=device)
    sorted_pairs.scatter_(0, run_start[flat] + rank, pairs)
    block_starts = torch.arange(0, capacity, block_m, device=device)
    block_experts = torch.searchsorted(padded_end, block_starts, right=True)
    block_experts = torch.where(block_starts < padded_end[-1], block_experts, -1).to(torch.int32)
    return sorted_pairs, block_experts


def grouped_gemm(
    a: torch.Tensor,
    weight: torch.Tensor,
    out: torch.Tensor,
    sorted_pairs: torch.Tensor,
    block_experts: torch.Tensor,
    num_pairs: int,
    a_row_div: int,
    routing_weights: torch.Tensor | None,
    config: MoeConfig,
) -> torch.Tensor:
    """out[p] = a[p // a_row_div] @ weight[expert of p].T (times routing_weights[p]) for every pair p;
    weight: [E, N, K]; sorted_pairs / block_experts aligned to config.block_m."""
    _, n, k = weight.shape
    num_blocks_m = block_experts.numel()
    block_k = min(config.block_k, max(16, triton.next_power_of_2(k)))
    grid = (num_blocks_m * triton.cdiv(n, config.block_n),)
    _grouped_gemm_kernel[grid](
        a, weight, out, routing_weights if routing_weights is not None else out, sorted_pairs, block_experts,
        n, k, num_pairs, num_blocks_m,
        a.stride(0), a.stride(1), weight.stride(0), weight.stride(1), weight.stride(2),
        out.stride(0), out.stride(1),
        A_ROW_DIV=a_row_div, MUL_WEIGHT=routing_weights is not None,
        BLOCK_M=config.block_m, BLOCK_N=config.block_n, BLOCK_K=block_k, GROUP_M=config.group_m,
        EVEN_K=k % block_k == 0, DOT_PRECISION="ieee" if a.dtype == torch.float32 else "tf32",
        num_warps=config.num_warps, num_stages=config.num_stages,
    )
    return out


def fused_moe(
    x: torch.Tensor,
    w13: torch.Tensor,
    w2: torch.Tensor,
    topk_weights: torch.Tensor,
    topk_ids: torch.Tensor,
    block_m: int | None = None,
    config: MoeConfig | None = None,
) -> torch.Tensor:
    """x [T, H]; w13 [E, 2I, H] (gate rows then up rows); w2 [E, H, I]; topk_weights / topk_ids [T, k].
    Returns sum_j topk_weights[t, j] * down_e(SiLU(gate_e(x_t)) * up_e(x_t)) for e = topk_ids[t, j],
    in x's dtype (accumulated in float32). config: the tiles (default: engine/kernels/moe_config.py's
    choice for this size); block_m overrides its BLOCK_M."""
    num_tokens, hidden = x.shape
    num_experts, two_i, _ = w13.shape
    top_k = topk_ids.shape[1]
    num_pairs = num_tokens * top_k
    if num_tokens == 0:
        return torch.zeros_like(x)
    config = config or moe_config(num_tokens, top_k, num_experts)
    if block_m is not None:
        config = replace(config, block_m=block_m)
    sorted_pairs, block_experts = align_by_expert(topk_ids, num_experts, config.block_m)
    gate_up = torch.empty(num_pairs, two_i, dtype=x.dtype, device=x.device)
    grouped_gemm(x, w13, gate_up, sorted_pairs, block_experts, num_pairs, top_k, None, config)
    if x.is_cuda:
        act = silu_and_mul(gate_up)
    else:  # the interpreter
        gate, up = gate_up.chunk(2, dim=-1)
        act = (F.silu(gate.float()) * up.float()).to(x.dtype)
    down = torch.empty(num_pairs, hidden, dtype=torch.float32, device=x.device)
    weights = topk_weights.reshape(-1).float().contiguous()
    grouped_gemm(act, w2, down, sorted_pairs, block_experts, num_pairs, 1, weights, config)
    return down.view(num_tokens, top_k, hidden).sum(1).to(x.dtype)
