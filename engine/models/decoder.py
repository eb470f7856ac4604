"""One decoder for Llama / Mistral / SmolLM / Qwen2 / Qwen3. Family differences come from DecoderConfig:
qkv_bias (Qwen2), per-head q/k RMSNorm (Qwen3), rope scaling (Llama 3), tied embeddings; sliding windows
and partial rotary (Phi-3, engine/models/phi3.py); mixture-of-experts MLPs (engine/models/moe.py)."""

from __future__ import annotations

import os
from types import ModuleType
from typing import ClassVar

import torch
from torch import nn

from engine.attention_metadata import AttentionMetadata
from engine.distributed import get_tp_size
from engine.errors import InvalidParam
from engine.layers.activation import SiluAndMul
from engine.layers.attention import Attention
from engine.layers.cuda_kernels import cuda_kernels
from engine.layers.embed_head import ParallelLMHead, VocabParallelEmbedding
from engine.layers.layernorm import RMSNorm
from engine.layers.linear import MergedColumnParallelLinear, QKVParallelLinear, RowParallelLinear
from engine.layers.rotary_embedding import RotaryEmbedding
from engine.models.config import DecoderConfig
from engine.quantization.fp8 import Fp8Activation


class DecoderAttention(nn.Module):
    def __init__(
        self, config: DecoderConfig, rotary_emb: RotaryEmbedding, sliding_window: int | None = None
    ) -> None:
        super().__init__()
        self.qkv_proj = QKVParallelLinear(
            config.hidden_size, config.head_dim, config.num_heads, config.num_kv_heads, bias=config.qkv_bias
        )
        # this rank's share of the heads (all of them at tensor-parallel size 1)
        self.num_heads = self.qkv_proj.num_heads
        self.num_kv_heads = self.qkv_proj.num_kv_heads
        self.head_dim = config.head_dim
        self.q_size = self.qkv_proj.q_size
        self.kv_size = self.qkv_proj.kv_size
        self.o_proj = RowParallelLinear(config.num_heads * config.head_dim, config.hidden_size)
        self.rotary_emb = rotary_emb
        self.attn = Attention(
            self.num_heads, config.head_dim, config.head_dim**-0.5, self.num_kv_heads, sliding_window
        )
        if config.qk_norm:
            self.q_norm = RMSNorm(config.head_dim, config.rms_norm_eps)
            self.k_norm = RMSNorm(config.head_dim, config.rms_norm_eps)
        else:
            self.q_norm = self.k_norm = None
        # CUDA: q/k norms, rotary and the K/V store in one kernel (engine/kernels/qkv_prep.py);
        # TEECUBE_FUSED_QKV_PREP=0 keeps the separate kernels (for A/B measurements)
        self.fused_prep = os.environ.get("TEECUBE_FUSED_QKV_PREP", "1") != "0"

    def _norms_match(self, dtype: torch.dtype) -> bool:
        """The fused kernels round the norms' output to the model dtype: only when the weights share it."""
        return self.q_norm is None or self.q_norm.weight.dtype == self.k_norm.weight.dtype == dtype

    def _fused_projection(
        self,
        ops: ModuleType,
        positions: torch.Tensor,
        hidden_states: torch.Tensor | Fp8Activation,
        kv_cache: torch.Tensor,
        meta: AttentionMetadata,
        q_w: torch.Tensor | None,
        k_w: torch.Tensor | None,
        eps: float,
    ) -> torch.Tensor | None:
        """q from ops.qkv_linear_prep (which also stores K/V), or None where that route does not apply:
        16-bit weights with a model-dtype input, or FP8 weights with the input already quantized per token."""
        proj = self.qkv_proj
        fp8_scales = None
        if isinstance(hidden_states, Fp8Activation):
            if not proj.takes_fp8_input:
                return None
            x = hidden_states.codes.reshape(-1, hidden_states.codes.shape[-1])
            fp8_scales = (hidden_states.scales.reshape(-1, 1), proj.weight_scale, hidden_states.dtype)
            out_dtype = hidden_states.dtype
        elif proj.fp8:
            return None
        else:
            x, out_dtype = hidden_states, hidden_states.dtype
        if not self._norms_match(out_dtype):
            return None
        return ops.qkv_linear_prep(
            x, proj.weight, proj.bias, positions, self.rotary_emb.cos_sin_cache, kv_cache, meta.slot_mapping,
            self.num_heads, self.num_kv_heads, self.head_dim, q_w, k_w, eps, *self.attn.kv_scales(kv_cache),
            fp8_scales=fp8_scales,
        )

    def forward(
        self,
        positions: torch.Tensor,
        hidden_states: torch.Tensor | Fp8Activation,
        kv_cache: torch.Tensor,
        meta: AttentionMetadata,
    ) -> torch.Tensor:
        ops = cuda_kernels() if self.fused_prep and self.qkv_proj.weight.is_cuda else None
        q_w, k_w = (self.q_norm.weight, self.k_norm.weight) if self.q_norm is not None else (None, None)
        eps = self.q_norm.eps if self.q_norm is not None else 1e-6
        if ops is not None and ops.qkv_gemm.FUSED_QKV_GEMM:  # decode sizes: engine/kernels/qkv_gemm.py
            q = self._fused_projection(ops, positions, hidden_states, kv_cache, meta, q_w, k_w, eps)
            if q is not None:
                return self.o_proj(self.attn.attend(q, kv_cache, meta).flatten(1))
        qkv = self.qkv_proj(hidden_states)
        if ops is not None and self._norms_match(qkv.dtype):
            q = ops.qkv_prep(
                qkv,
                positions,
                self.rotary_emb.cos_sin_cache,
                kv_cache,
                meta.slot_mapping,
                self.num_heads,
                self.num_kv_heads,
                self.head_dim,
                q_w,
                k_w,
                eps,
                *self.attn.kv_scales(kv_cache),
            )
            return self.o_proj(self.attn.attend(q, kv_cache, meta).flatten(1))
        q, k, v = qkv.split([self.q_size, self.kv_size, self.kv_size], dim=-1)
        q = q.view(-1, self.num_heads, self.head_dim)
        k = k.view(-1, self.num_kv_heads, self.head_dim)
        v = v.view(-1, self.num_kv_heads, self.head_dim)
        if self.q_norm is not None:
            q, _ = self.q_norm(q)
            k, _ = self.k_norm(k)
        q, k = self.rotary_emb(positions, q, k)
        out = self.attn(q, k, v, kv_cache, meta)
        return self.o_proj(out.flatten(1))


class DecoderMLP(nn.Module):
    def __init__(self, config: DecoderConfig, intermediate_size: int | None = None) -> None:
        super().__init__()
        intermediate_size = intermediate_size or config.intermediate_size
        self.gate_up_proj = MergedColumnParallelLinear(config.hidden_size, [intermediate_size] * 2)
        self.down_proj = RowParallelLinear(intermediate_size, config.hidden_size)
        self.act_fn = SiluAndMul()

    def forward(self, x: torch.Tensor | Fp8Activation) -> torch.Tensor:
        return self.down_proj(self.act_fn(self.gate_up_proj(x), fp8_out=self.down_proj.takes_fp8_input))


class DecoderLayer(nn.Module):
    def __init__(self, config: DecoderConfig, rotary_emb: RotaryEmbedding, layer: int = 0) -> None:
        super().__init__()
        self.self_attn = DecoderAttention(config, rotary_emb, config.layer_window(layer))
        if config.is_moe_layer(layer):
            from engine.layers.moe import SparseMoeBlock

            self.mlp = SparseMoeBlock(config)
        else:
            self.mlp = DecoderMLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(
        self,
        positions: torch.Tensor,
        hidden_states: torch.Tensor,
        residual: torch.Tensor | None,
        kv_cache: torch.Tensor,
        meta: AttentionMetadata,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # FP8 linears with dynamic scales take the norms' output already quantized (fused kernels)
        fp8_qkv = self.self_attn.qkv_proj.takes_fp8_input
        fp8_mlp = isinstance(self.mlp, DecoderMLP) and self.mlp.gate_up_proj.takes_fp8_input
        hidden_states, residual = self.input_layernorm(hidden_states, residual, fp8_out=fp8_qkv)
        hidden_states = self.self_attn(positions, hidden_states, kv_cache, meta)
        hidden_states, residual = self.post_attention_layernorm(hidden_states, residual, fp8_out=fp8_mlp)
        return self.mlp(hidden_states), residual


class DecoderModel(nn.Module):
    def __init__(self, config: DecoderConfig, max_position: int) -> None:
        super().__init__()
        self.embed_tokens = VocabParallelEmbedding(config.vocab_size, config.hidden_size)
        rotary_dim = int(config.head_dim * config.partial_rotary_factor)
        rotary_emb = RotaryEmbedding(
            config.head_dim, max_position, config.rope_theta, config.rope_scaling, rotary_dim
        )
        self.layers = nn.ModuleList(DecoderLayer(config, rotary_emb, i) for i in range(config.num_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor,
        kv_caches: list[torch.Tensor],
        meta: AttentionMetadata,
    ) -> torch.Tensor:
        hidden_states, residual = self.embed_tokens(input_ids), None
        for layer, kv_cache in zip(self.layers, kv_caches, strict=True):
            hidden_states, residual = layer(positions, hidden_states, residual, kv_cache, meta)
        hidden_states, _ = self.norm(hidden_states, residual)
        return hidden_states


class DecoderForCausalLM(nn.Module):
    # checkpoint name -> (our parameter name, shard id)
    packed_modules_mapping: ClassVar[dict[str, tuple[str, str | int]]] = {
        "q_proj": ("qkv_proj", "q"),
        "k_proj": ("qkv_proj", "k"),
        "v_proj": ("qkv_proj", "v"),
        "gate_proj": ("gate_up_proj", 0),
        "up_proj": ("gate_up_proj", 1),
    }

    def __init__(self, config: DecoderConfig, max_position: int | None = None) -> None:
        super().__init__()
        check_tensor_parallel(config, get_tp_size())
        self.config = config
        self.model = DecoderModel(config, max(max_position or 0, config.max_position))
        self.lm_head = ParallelLMHead(config.vocab_size, config.hidden_size)
        if config.tie_word_embeddings:
            self.lm_head.tie_weights(self.model.embed_tokens)

    def forward(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor,
        kv_caches: list[torch.Tensor],
        meta: AttentionMetadata,
    ) -> torch.Tensor:
        return self.model(input_ids, positions, kv_caches, meta)

    def compute_logits(self, hidden_states: torch.Tensor) -> torch.Tensor | None:
        """Logits in the model's dtype on rank 0 (None on the other tensor-parallel ranks)."""
        return self.lm_head(hidden_states)


def check_tensor_parallel(config: DecoderConfig, tp_size: int) -> None:
    """Heads (query and KV) and the MLP width must split evenly over the ranks."""
    sizes = {"attention heads": config.num_heads, "KV heads": config.num_kv_heads}
    sizes["intermediate size"] = config.intermediate_size
    if config.num_experts:
        sizes["expert intermediate size"] = config.moe_intermediate_size
        sizes["shared expert intermediate size"] = config.shared_expert_intermediate_size
    for what, n in sizes.items():
        if n % tp_size:
            raise InvalidParam(
                "tensor_parallel_size",
                f"{config.architecture}: {what} ({n}) do not split over {tp_size} ranks",
            )
