"""Gemma 2 and Gemma 3 text decoders.

Differences from the Llama-style decoder (engine/models/decoder.py): RMSNorm scales by (1 + w) in
float32 (the loader stores 1 + w); four norms per layer (before and after
attention and MLP); GeGLU (gelu_pytorch_tanh); embeddings scaled by sqrt(hidden) (rounded to the model
dtype, as HF does); queries scaled by query_pre_attn_scalar^-0.5; sliding-window layers between full
ones (config.layer_types). Gemma 2 soft-caps attention scores and final logits (cap * tanh(x / cap));
Gemma 3 instead normalises q and k per head, and its sliding layers have their own rope base."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import ClassVar

import torch
from torch import nn

from engine.attention_metadata import AttentionMetadata
from engine.distributed import get_tp_size
from engine.layers.activation import GeluAndMul
from engine.layers.attention import Attention
from engine.layers.embed_head import ParallelLMHead, VocabParallelEmbedding
from engine.layers.layernorm import RMSNorm
from engine.layers.linear import MergedColumnParallelLinear, QKVParallelLinear, RowParallelLinear
from engine.layers.rotary_embedding import RotaryEmbedding
from engine.models.config import DecoderConfig
from engine.models.decoder import check_tensor_parallel

# Gemma 3 multimodal checkpoints (transformers 4 and 5 layouts) hold the text model under these prefixes
MULTIMODAL_RENAMES = (
    ("language_model.model.", "model."),
    ("model.language_model.", "model."),
    ("language_model.lm_head.", "lm_head."),
)
MULTIMODAL_SKIPPED = (
    "vision_tower.", "multi_modal_projector.", "model.vision_tower.", "model.multi_modal_projector."
)


class GemmaRMSNorm(RMSNorm):
    """HF Gemma's norm: x normalised and scaled by (1 + w) all in float32, rounded once at the end. The
    checkpoint's w is stored as 1 + w in float32 (in bf16, 1 + w would lose w's low bits)."""

    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__(hidden_size, eps)
        self.weight.data = self.weight.data.float()

    def weight_loader(
        self, param: nn.Parameter, loaded_weight: torch.Tensor, shard_id: str | int | None = None
    ) -> None:
        param.data.copy_(loaded_weight.float() + 1.0)

    def forward(
        self, x: torch.Tensor, residual: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if residual is not None:
            x = x + residual
        xf = x.float()
        normed = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight
        return normed.to(x.dtype), x


class GemmaAttention(nn.Module):
    def __init__(self, config: DecoderConfig, layer: int, rotary_emb: RotaryEmbedding) -> None:
        super().__init__()
        self.qkv_proj = QKVParallelLinear(
            config.hidden_size, config.head_dim, config.num_heads, config.num_kv_heads, bias=config.qkv_bias
        )
        self.num_heads = self.qkv_proj.num_heads
        self.num_kv_heads = self.qkv_proj.num_kv_heads
        self.head_dim = config.head_dim
        self.q_size = self.qkv_proj.q_size
        self.kv_size = self.qkv_proj.kv_size
        self.o_proj = RowParallelLinear(config.num_heads * config.head_dim, config.hidden_size)
        self.rotary_emb = rotary_emb
        scale = (config.query_pre_attn_scalar or config.head_dim) ** -0.5
        self.attn = Attention(
            self.num_heads, config.head_dim, scale, self.num_kv_heads,
            sliding_window=config.layer_window(layer), softcap=config.attn_logit_softcapping,
        )
        if config.qk_norm:  # Gemma 3
            self.q_norm = GemmaRMSNorm(config.head_dim, config.rms_norm_eps)
            self.k_norm = GemmaRMSNorm(config.head_dim, config.rms_norm_eps)
        else:
            self.q_norm = self.k_norm = None

    def forward(
        self,
        positions: torch.Tensor,
        hidden_states: torch.Tensor,
        kv_cache: torch.Tensor,
        meta: AttentionMetadata,
    ) -> torch.Tensor:
        q, k, v = self.qkv_proj(hidden_states).split([self.q_size, self.kv_size, self.kv_size], dim=-1)
        q = q.view(-1, self.num_heads, self.head_dim)
        k = k.view(-1, self.num_kv_heads, self.head_dim)
        v = v.view(-1, self.num_kv_heads, self.head_dim)
        if self.q_norm is not None:
            q, _ = self.q_norm(q)
            k, _ = self.k_norm(k)
        q, k = self.rotary_emb(positions, q, k)
        return self.o_proj(self.attn(q, k, v, kv_cache, meta).flatten(1))


class GemmaMLP(nn.Module):
    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.gate_up_proj = MergedColumnParallelLinear(config.hidden_size, [config.intermediate_size] * 2)
        self.down_proj = RowParallelLinear(config.intermediate_size, config.hidden_size)
        self.act_fn = GeluAndMul()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act_fn(self.gate_up_proj(x)))


class GemmaDecoderLayer(nn.Module):
    def __init__(self, config: DecoderConfig, layer: int, rotary_emb: RotaryEmbedding) -> None:
        super().__init__()
        self.self_attn = GemmaAttention(config, layer, rotary_emb)
        self.mlp = GemmaMLP(config)
        hidden, eps = config.hidden_size, config.rms_norm_eps
        self.input_layernorm = GemmaRMSNorm(hidden, eps)
        self.post_attention_layernorm = GemmaRMSNorm(hidden, eps)
        self.pre_feedforward_layernorm = GemmaRMSNorm(hidden, eps)
        self.post_feedforward_layernorm = GemmaRMSNorm(hidden, eps)

    def forward(
        self,
        positions: torch.Tensor,
        hidden_states: torch.Tensor,
        residual: torch.Tensor | None,
        kv_cache: torch.Tensor,
        meta: AttentionMetadata,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # the residual add of each sub-block is fused into the next norm: (normed, sum)
        hidden_states, residual = self.input_layernorm(hidden_states, residual)
        hidden_states = self.self_attn(positions, hidden_states, kv_cache, meta)
        hidden_states, _ = self.post_attention_layernorm(hidden_states)
        hidden_states, residual = self.pre_feedforward_layernorm(hidden_states, residual)
        hidden_states, _ = self.post_feedforward_layernorm(self.mlp(hidden_states))
        return hidden_states, residual


class GemmaModel(nn.Module):
    def __init__(self, config: DecoderConfig, max_position: int) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = VocabParallelEmbedding(config.vocab_size, config.hidden_size)
        global_rope = RotaryEmbedding(config.head_dim, max_position, config.rope_theta, config.rope_scaling)
        local_rope = global_rope
        if config.rope_local_theta is not None:  # Gemma 3's sliding layers
            local_rope = RotaryEmbedding(
                config.head_dim, max_position, config.rope_local_theta, config.rope_local_scaling
            )
        self.layers = nn.ModuleList(
            GemmaDecoderLayer(config, i, local_rope if config.layer_window(i) else global_rope)
            for i in range(config.num_layers)
        )
        self.norm = GemmaRMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor,
        kv_caches: list[torch.Tensor],
        meta: AttentionMetadata,
    ) -> torch.Tensor:
        hidden_states = self.embed_tokens(input_ids)
        # sqrt(hidden) rounded to the model dtype, as HF does (a host float: nothing to sync or capture)
        normalizer = torch.tensor(self.config.hidden_size**0.5, dtype=hidden_states.dtype).item()
        hidden_states = hidden_states * normalizer
        residual = None
        for layer, kv_cache in zip(self.layers, kv_caches, strict=True):
            hidden_states, residual = layer(positions, hidden_states, residual, kv_cache, meta)
        hidden_states, _ = self.norm(hidden_states, residual)
        return hidden_states


class GemmaForCausalLM(nn.Module):
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
        self.model = GemmaModel(config, max(max_position or 0, config.max_position))
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

    def checkpoint_weights(
        self, weights: Iterable[tuple[str, torch.Tensor]]
    ) -> Iterator[tuple[str, torch.Tensor]]:
        """Gemma 3 multimodal checkpoints: the language model's tensors renamed, the vision tower's left."""
        for name, tensor in weights:
            for old, new in MULTIMODAL_RENAMES:
                if name.startswith(old):
                    name = new + name.removeprefix(old)
                    break
            if not name.startswith(MULTIMODAL_SKIPPED):
                yield name, tensor

    def compute_logits(self, hidden_states: torch.Tensor) -> torch.Tensor | None:
        """Logits on rank 0 (None elsewhere), soft-capped in float32 where the config says (Gemma 2)."""
        logits = self.lm_head(hidden_states)
        cap = self.config.final_logit_softcapping
        if logits is not None and cap is not None:
            logits = torch.tanh(logits.float() / cap) * cap
        return logits
