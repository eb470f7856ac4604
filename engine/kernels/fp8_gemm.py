"""A Triton FP8 GEMM for skinny (decode-shaped) M: y = (x_codes * sx) @ (w_codes * sw)^T + bias.

x: e4m3 codes [M, K] with float32 per-token scales [M, 1]; w: e4m3 codes [N, K] with float32
per-output-channel scales [N]; y [M, N] in the model dtype. At M <= 256 the GEMM is bound by streaming
the weights, so the tiling serves that:

- one program per (M tile, N tile, K split); M tiles are the fastest-varying grid index, so the
  programs sharing a weight tile run together and the second reads it from L2;
- swap-AB (default): the weight tile is the MMA's M side (64 or 128 rows, what wgmma wants) and the
  tokens its N side (16..256), so M = 1..16 wastes no tensor-core rows;
- split-K when there are too few N tiles to keep every SM streaming: each split stores its fp32
  partial tile, takes a ticket from a per-tile counter, and the last split sums the partials in split
  order (deterministic) and writes the output; it resets the counter, so CUDA graphs can replay;
- fp32 accumulation (on Hopper Triton's default for fp8 dots is the fast accumulation that the
  _scaled_mm path uses); both scales and the bias are applied once, in the epilogue.

Options (SkinnyConfig / arguments): TMA descriptors for the tile loads instead of pointer loads; W8A16,
x unquantized bf16/fp16 (scales None), the weight tiles widened in registers, a 16-bit dot.
K must be a multiple of BLOCK_K (`supported()` says whether a shape runs here); M and N tails are
handled by clamping row indices or by TMA's zero fill (extra rows are computed and not stored)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import torch
import triton
import triton.language as tl
from triton.tools.tensor_descriptor import TensorDescriptor

# TEECUBE_FP8_SKINNY_TMA=1: the default tiling loads through TMA descriptors (pointer loads otherwise).
DEFAULT_TMA = os.environ.get("TEECUBE_FP8_SKINNY_TMA", "0") == "1"
NUM_SMS_DEFAULT = 132  # H100/H200 SXM; the device's own count is used where there is one
COUNTER_SLOTS = 1 << 16


@dataclass(frozen=True)
class SkinnyConfig:
    block_m: int
    block_n: int
    block_k: int
    split_k: int
    num_stages: int
    num_warps: int
    swap_ab: bool = True
    tma: bool = False  # the x and weight tiles through TMA descriptors instead of pointer loads


@triton.jit
def _skinny_program(M, BLOCK_M: tl.constexpr, SPLIT_K: tl.constexpr):
    """(M tiles, this program's M tile, K split, weight tile): M tiles vary fastest, so the programs that
    share a weight tile run together and the second reads it from L2."""
    pid = tl.program_id(0)
    num_m = tl.cdiv(M, BLOCK_M)
    return num_m, pid % num_m, (pid // num_m) % SPLIT_K, pid // (num_m * SPLIT_K)


@triton.jit
def _skinny_acc(
    x_ptr, w_ptr, pid_m, pid_n, pid_k, M, N, K, stride_xm, stride_wn,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, SPLIT_K: tl.constexpr,
    SWAP_AB: tl.constexpr, TMA: tl.constexpr, A16: tl.constexpr,
):
    """This program's fp32 accumulator over its K split: [BLOCK_N, BLOCK_M] with SWAP_AB, else
    [BLOCK_M, BLOCK_N]; and its (clamped) row and weight-row indices."""
    k_iters = K // BLOCK_K
    per_split = tl.cdiv(k_iters, SPLIT_K)
    k_lo = pid_k * per_split
    k_hi = tl.minimum(k_lo + per_split, k_iters)

    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    # Clamped rows: every pointer load is in bounds without masks (the duplicates are never stored);
    # TMA fills the rows past the end with zeros.
    rm_safe = tl.minimum(rm, M - 1).to(tl.int64)
    rn_safe = tl.minimum(rn, N - 1).to(tl.int64)
    if not TMA:
        rk = k_lo * BLOCK_K + tl.arange(0, BLOCK_K)
        x_ptrs = x_ptr + rm_safe[:, None] * stride_xm + rk[None, :]
        w_ptrs = w_ptr + rn_safe[:, None] * stride_wn + rk[None, :]
    if SWAP_AB:
        acc = tl.zeros([BLOCK_N, BLOCK_M], dtype=tl.float32)
    else:
        acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
    for i in range(k_lo, k_hi):
        if TMA:
            x = x_ptr.load([pid_m * BLOCK_M, i * BLOCK_K])
            w = w_ptr.load([pid_n * BLOCK_N, i * BLOCK_K])
        else:
            x = tl.load(x_ptrs)
            w = tl.load(w_ptrs)
            x_ptrs += BLOCK_K
            w_ptrs += BLOCK_K
        if A16:  # x not quantized: the weight codes widened to x's dtype (exact), a 16-bit dot
            w = w.to(x.dtype)
        if SWAP_AB:
            acc = tl.dot(w, tl.trans(x), acc)
        else:
            acc = tl.dot(x, tl.trans(w), acc)
    return acc, rm, rm_safe, rn, rn_safe


@triton.jit
def _split_k_ticket(
    acc, part_ptr, count_ptr, pid_m, pid_n, pid_k, num_m, N,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, SWAP_AB: tl.constexpr,
):
    """Split-K: store this split's partial tile, then take a ticket from the tile's counter (the split
    that draws SPLIT_K - 1 is the last and sums them: _split_k_total). Returns (ticket, the tile's
    partials, their split stride)."""
    tile = pid_n * num_m + pid_m
    num_tiles = num_m * tl.cdiv(N, BLOCK_N)
    if SWAP_AB:
        local = tl.arange(0, BLOCK_N)[:, None] * BLOCK_M + tl.arange(0, BLOCK_M)[None, :]
    else:
        local = tl.arange(0, BLOCK_M)[:, None] * BLOCK_N + tl.arange(0, BLOCK_N)[None, :]
    tile_part = part_ptr + tile.to(tl.int64) * (BLOCK_M * BLOCK_N) + local
    split_stride = num_tiles.to(tl.int64) * (BLOCK_M * BLOCK_N)
    tl.store(tile_part + pid_k * split_stride, acc)
    tl.debug_barrier()  # every thread's partial is written before the ticket (release) is taken
    ticket = tl.atomic_add(count_ptr + tile, 1, sem="acq_rel", scope="gpu")
    return ticket, tile_part, split_stride


@triton.jit
def _split_k_total(tile_part, split_stride, count_ptr, tile, SPLIT_K: tl.constexpr):
    """The last split: every split's partial summed in split order (deterministic); the tile's counter
    reset, so CUDA graphs can replay."""
    acc = tl.load(tile_part, cache_modifier=".cg")
    for s in range(1, SPLIT_K):
        acc += tl.load(tile_part + s * split_stride, cache_modifier=".cg")
    tl.atomic_xchg(count_ptr + tile, 0, sem="relaxed", scope="gpu")  # ready for the next launch
    return acc


# One compile per tiling, whatever the batch size; "gemm" in the name files it with the GEMMs in
# engine/bench/profile.py.
@triton.jit(do_not_specialize=["M"])
def _fp8_gemm_skinny_kernel(
    x_ptr, sx_ptr, w_ptr, sw_ptr, bias_ptr, y_ptr, part_ptr, count_ptr,
    M, N, K, stride_xm, stride_sx, stride_wn, stride_ym,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, SPLIT_K: tl.constexpr,
    SWAP_AB: tl.constexpr, HAS_BIAS: tl.constexpr, TMA: tl.constexpr, A16: tl.constexpr,
    W_SCALED: tl.constexpr = True,
):
    num_m, pid_m, pid_k, pid_n = _skinny_program(M, BLOCK_M, SPLIT_K)
    acc, rm, rm_safe, rn, rn_safe = _skinny_acc(
        x_ptr, w_ptr, pid_m, pid_n, pid_k, M, N, K, stride_xm, stride_wn,
        BLOCK_M, BLOCK_N, BLOCK_K, SPLIT_K, SWAP_AB, TMA, A16,
    )
    if SPLIT_K > 1:
        ticket, tile_part, split_stride = _split_k_ticket(
            acc, part_ptr, count_ptr, pid_m, pid_n, pid_k, num_m, N, BLOCK_M, BLOCK_N, SWAP_AB
        )
        if ticket != SPLIT_K - 1:
            return
        acc = _split_k_total(tile_part, split_stride, count_ptr, pid_n * num_m + pid_m, SPLIT_K)

    if A16:
        sx = tl.full([BLOCK_M], 1.0, tl.float32)
    else:
        sx = tl.load(sx_ptr + rm_safe * stride_sx)
    if W_SCALED:
        sw = tl.load(sw_ptr + rn_safe)
    else:  # 16-bit weights (engine/kernels/bf16_gemm.py): nothing to rescale
        sw = tl.full([BLOCK_N], 1.0, tl.float32)
    if SWAP_AB:
        out = acc * sw[:, None] * sx[None, :]
        if HAS_BIAS:
            out += tl.load(bias_ptr + rn_safe).to(tl.float32)[:, None]
        y_ptrs = y_ptr + rm[None, :].to(tl.int64) * stride_ym + rn[:, None]
        mask = (rn[:, None] < N) & (rm[None, :] < M)
    else:
        out = acc * sx[:, None] * sw[None, :]
        if HAS_BIAS:
            out += tl.load(bias_ptr + rn_safe).to(tl.float32)[None, :]
        y_ptrs = y_ptr + rm[:, None].to(tl.int64) * stride_ym + rn[None, :]
        mask = (rm[:, None] < M) & (rn[None, :] < N)
    tl.store(y_ptrs, out.to(y_ptr.dtype.element_ty), mask=mask)


@cache
def num_sms(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).multi_processor_count
    return NUM_SMS_DEFAULT


@cache
def pick_config(
    m: int, n: int, k: int, sms: int = NUM_SMS_DEFAULT, tma: bool = DEFAULT_TMA, a16: bool = False
) -> SkinnyConfig:
    """The default tiling for an M x N x K GEMM (M <= 256): up to 128 tokens per M tile; 128-row weight
    tiles when they alone fill the SMs, else 64-row ones plus a K split up to ~one program per SM. The
    fp32 partials of a split cost 4 * split * M * N bytes of L2 traffic against N * K of weights, so
    the split is capped at K / (16 M) (a quarter of the weight bytes)."""
    block_m = min(max(triton.next_power_of_2(m), 16), 128)
    m_tiles = triton.cdiv(m, block_m)
    block_n = 128 if triton.cdiv(n, 128) * m_tiles >= sms else 64
    block_k = 128
    tiles = triton.cdiv(n, block_n) * m_tiles
    k_iters = k // block_k
    split = 1
    if tiles < sms:
        split = max(min(triton.cdiv(sms, tiles), k_iters // 4, k // (16 * m), 8), 1)
    # 3-4 stages, as many as let two programs share an SM (228 KB of shared memory): 224 gate_up tiles
    # of 128 x 128 then all start at once on 132 SMs instead of leaving a second, partial wave.
    stage_bytes = ((2 if a16 else 1) * block_m + block_n) * block_k
    stages = max(3, min(4, 112 * 1024 // stage_bytes))
    return SkinnyConfig(block_m, block_n, block_k, split, stages, num_warps=4, tma=tma and not a16)


# TEECUBE_FP8_SKINNY_TUNED=path: the "tuned" list of gpu/fp8_gemm_bench.py's JSON ({m, n, k, config},
# config null where _scaled_mm was faster) overrides pick_config for the (N, K) shapes it measured.
TUNED_PATH = os.environ.get("TEECUBE_FP8_SKINNY_TUNED")


Tuned = dict[tuple[int, int], list[tuple[int, SkinnyConfig | None]]]


@cache
def tuned_table(path: str | None = TUNED_PATH) -> Tuned:
    """(N, K) -> [(measured M, its best config or None)], sorted by M; empty without a path."""
    if not path:
        return {}
    with open(path) as f:
        entries = json.load(f)["tuned"]
    table: Tuned = {}
    for e in entries:
        cfg = None if e["config"] is None else SkinnyConfig(**e["config"])
        table.setdefault((e["n"], e["k"]), []).append((e["m"], cfg))
    return {key: sorted(rows, key=lambda r: r[0]) for key, rows in table.items()}


# Tables measured on a GPU and shipped, by (compute capability, SM count): with no TEECUBE_FP8_SKINNY_GEMM
# set, the engine uses the kernel on such a GPU for the shapes its table measured, and _scaled_mm elsewhere.
SHIPPED_TABLES = {(9, 0, 132): Path(__file__).with_name("configs") / "fp8_skinny_sm90_132sm.json"}


def table_for(device: torch.device, tables: Mapping[tuple[int, int, int], Path]) -> str | None:
    """The path of `tables`' entry for this kind of GPU (compute capability, SM count), or None."""
    if device.type != "cuda":
        return None
    major, minor = torch.cuda.get_device_capability(device)
    path = tables.get((major, minor, num_sms(device)))
    return str(path) if path is not None and path.is_file() else None


@cache
def shipped_table(device: torch.device) -> str | None:
    """The path of the FP8 table measured on this kind of GPU, or None."""
    return table_for(device, SHIPPED_TABLES)


@cache  # called per FP8 linear per eager step: the table lookup and the M-tile shrink happen once per shape
def choose(
    m: int, n: int, k: int, sms: int = NUM_SMS_DEFAULT, path: str | None = TUNED_PATH, *,
    measured_only: bool = False,
) -> SkinnyConfig | None:
    """The tiling for an FP8-activation GEMM, or None where the tuned table says _scaled_mm is faster:
    the entry of the smallest measured M >= m (else the largest), its M tile shrunk to fit m; shapes
    the table lacks get pick_config (None with measured_only: the kernel only where it was measured)."""
    rows = tuned_table(path).get((n, k))
    if not rows:
        return None if measured_only else pick_config(m, n, k, sms)
    _, cfg = next((r for r in rows if r[0] >= m), rows[-1])
    if cfg is None:
        return None
    block_m = min(cfg.block_m, max(triton.next_power_of_2(m), 16))
    return cfg if block_m == cfg.block_m else replace(cfg, block_m=block_m)


def supported(n: int, k: int, block_k: int = 128) -> bool:
    return k % block_k == 0 and n > 0


_COUNTERS: dict[torch.device, torch.Tensor] = {}


def prepare(device: torch.device) -> torch.Tensor:
    """The split-K ticket counters of a device (zeroed once; each launch leaves them zero). Call it
    outside CUDA-graph capture (LinearBase does when it turns FP8) so the buffer is not a graph's.
    Launches on one device share them: they must not run concurrently on two streams (the engine runs
    its forward on one)."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    counters = _COUNTERS.get(device)
    if counters is None:
        counters = _COUNTERS[device] = torch.zeros(COUNTER_SLOTS, dtype=torch.int32, device=device)
    return counters


def ready(device: torch.device) -> bool:
    """Whether a launch may use split-K now: the counters exist, or can be made (not capturing)."""
    return torch.device(device) in _COUNTERS or not torch.cuda.is_current_stream_capturing()


def fp8_gemm_skinny(
    codes: torch.Tensor,
    scales: torch.Tensor | None,
    weight: torch.Tensor,
    weight_scale: torch.Tensor | None,
    bias: torch.Tensor | None = None,
    out_dtype: torch.dtype = torch.bfloat16,
    config: SkinnyConfig | None = None,
) -> torch.Tensor:
    """codes [M, K] e4m3 (K contiguous), scales float32 [M, 1], weight e4m3 [N, K] (K contiguous),
    weight_scale float32 [N], bias [N] or None -> y [M, N] in out_dtype; config: the tiling (default
    `pick_config`). W8A16: codes may instead be the unquantized bf16/fp16 activation with scales None;
    the weight tiles are widened to it in the kernel (no activation quantizer launch). A 16-bit weight
    with weight_scale None: a plain 16-bit GEMM (engine/kernels/bf16_gemm.py)."""
    m, k = codes.shape
    n = weight.shape[0]
    assert weight.shape[1] == k and codes.stride(1) == 1 and weight.stride(1) == 1
    y = torch.empty((m, n), dtype=out_dtype, device=codes.device)
    if m == 0:
        return y
    a16 = scales is None
    assert a16 == (codes.element_size() != 1), "scales go with FP8 activations only"
    assert (weight_scale is None) == (weight.element_size() != 1), "scales go with FP8 weights only"
    cfg = config or pick_config(m, n, k, num_sms(codes.device), a16=a16)
    assert k % cfg.block_k == 0, (k, cfg.block_k)
    m_tiles, n_tiles = triton.cdiv(m, cfg.block_m), triton.cdiv(n, cfg.block_n)
    if cfg.split_k > 1:
        assert m_tiles * n_tiles <= COUNTER_SLOTS
        part = torch.empty(
            (cfg.split_k * m_tiles * n_tiles * cfg.block_m * cfg.block_n,),
            dtype=torch.float32,
            device=codes.device,
        )
        counters = prepare(codes.device)
    else:
        part = counters = y  # unused
    w_scaled = weight_scale is not None
    weight_scale = weight_scale if w_scaled else y  # (unused without W_SCALED)
    scales = weight_scale if a16 else scales.reshape(m, -1)  # (unused under A16)
    x_arg, w_arg = codes, weight
    if cfg.tma and (a16 or codes.data_ptr() % 16 or weight.data_ptr() % 16 or codes.stride(0) % 16):
        cfg = replace(cfg, tma=False)  # TMA wants 16-byte aligned bases and rows
    if cfg.tma:
        x_arg = TensorDescriptor.from_tensor(codes, [cfg.block_m, cfg.block_k])
        w_arg = TensorDescriptor.from_tensor(weight, [cfg.block_n, cfg.block_k])
    _fp8_gemm_skinny_kernel[(m_tiles * cfg.split_k * n_tiles,)](
        x_arg, scales, w_arg, weight_scale, bias if bias is not None else y, y, part, counters,
        m, n, k, codes.stride(0), scales.stride(0), weight.stride(0), y.stride(0),
        BLOCK_M=cfg.block_m, BLOCK_N=cfg.block_n, BLOCK_K=cfg.block_k, SPLIT_K=cfg.split_k,
        SWAP_AB=cfg.swap_ab, HAS_BIAS=bias is not None, TMA=cfg.tma, A16=a16, W_SCALED=w_scaled,
        num_stages=cfg.num_stages, num_warps=cfg.num_warps,
    )
    return y
