"""Rotary position embedding (neox layout, as HF Llama/Qwen) with a precomputed cos/sin cache.
Supported `rope_type`s: default, linear, llama3, longrope (Phi-3; engine/models/config.py picks the long
or short factors once). `rotary_dim` < head_dim rotates only the first rotary_dim dims (Phi-4-mini)."""

from __future__ import annotations

import math

import torch
from torch import nn

from engine.errors import UnsupportedModel
from engine.layers.cuda_kernels import cuda_kernels

SUPPORTED_ROPE_TYPES = ("default", "linear", "llama3", "longrope")


def compute_inv_freq(head_dim: int, base: float, rope_scaling: dict | None) -> torch.Tensor:
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    rope_type = (rope_scaling or {}).get("rope_type", (rope_scaling or {}).get("type", "default"))
    if rope_type not in SUPPORTED_ROPE_TYPES:
        raise UnsupportedModel(f"rope_type {rope_type!r} is not supported; supported: {SUPPORTED_ROPE_TYPES}")
    if rope_type == "linear":
        return inv_freq / rope_scaling["factor"]
    if rope_type == "llama3":
        return _llama3_inv_freq(inv_freq, rope_scaling)
    if rope_type == "longrope":
        key = "long_factor" if rope_scaling.get("use_long_factor") else "short_factor"
        return inv_freq / torch.tensor(rope_scaling[key], dtype=torch.float32)
    return inv_freq


def attention_factor(rope_scaling: dict | None) -> float:
    """LongRoPE's cos/sin multiplier (HF's default from the context extension factor), else 1."""
    scaling = rope_scaling or {}
    if scaling.get("rope_type") != "longrope":
        return 1.0
    if scaling.get("attention_factor") is not None:
        return float(scaling["attention_factor"])
    factor = scaling["factor"]
    if factor <= 1.0:
        return 1.0
    return math.sqrt(1 + math.log(factor) / math.log(scaling["original_max_position_embeddings"]))


def _llama3_inv_freq(inv_freq: torch.Tensor, rope_scaling: dict) -> torch.Tensor:
    factor = rope_scaling["factor"]
    low_freq_factor = rope_scaling["low_freq_factor"]
    high_freq_factor = rope_scaling["high_freq_factor"]
    old_context_len = rope_scaling["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    is_medium = (wavelen >= high_freq_wavelen) & (wavelen <= low_freq_wavelen)
    return torch.where(is_medium, smoothed, scaled)


class RotaryEmbedding(nn.Module):
    def __init__(
        self,
        head_dim: int,
        max_position: int,
        base: float,
        rope_scaling: dict | None = None,
        rotary_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.rotary_dim = rotary_dim or head_dim
        inv_freq = compute_inv_freq(self.rotary_dim, base, rope_scaling)
        freqs = torch.arange(max_position, dtype=torch.float)[:, None] * inv_freq[None, :]
        cos_sin = torch.cat([freqs.cos(), freqs.sin()], dim=-1) * attention_factor(rope_scaling)
        self.register_buffer("cos_sin_cache", cos_sin, persistent=False)

    def forward(
        self, positions: torch.Tensor, query: torch.Tensor, key: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """query [T, Hq, D], key [T, Hkv, D] -> rotated, same shape and dtype (in place on CUDA)."""
        if query.is_cuda and (ops := cuda_kernels()) is not None:
            return ops.rotary_embedding(positions, query, key, self.cos_sin_cache)
        cos, sin = self.cos_sin_cache[positions].unsqueeze(1).chunk(2, dim=-1)
        if self.rotary_dim < self.head_dim:
            r = self.rotary_dim
            return (
                torch.cat([_rotate(query[..., :r], cos, sin), query[..., r:]], dim=-1),
                torch.cat([_rotate(key[..., :r], cos, sin), key[..., r:]], dim=-1),
            )
        return _rotate(query, cos, sin), _rotate(key, cos, sin)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.float().chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1).to(x.dtype)
