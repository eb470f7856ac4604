"""Tiny random HF checkpoints of the newer families (Gemma 2/3, Phi-3, Mixtral, Qwen3-MoE) and of Mistral,
Qwen2 and Qwen2-MoE with their sliding windows on (`*-swa`), built like
tiny_models.build_tiny_model: seeded, save_pretrained, the tiny byte-level tokenizer. Each config turns
on what sets the family apart at a size where it matters: windows (8) shorter than the test prompts,
soft-caps near the score range, LongRoPE past a 16-token original context, several experts per token."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import torch

try:
    from tiny_models import VOCAB_SIZE, build_tiny_tokenizer
except ImportError:  # imported as tests.engine.tiny_families (tests/gpu)
    from tests.engine.tiny_models import VOCAB_SIZE, build_tiny_tokenizer

COMMON = dict(
    vocab_size=VOCAB_SIZE,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
    rms_norm_eps=1e-5,
    initializer_range=0.2,
    bos_token_id=0,
    eos_token_id=2,
    pad_token_id=1,
)


def tiny_family_config(family: str):
    import transformers as tf

    if family == "gemma2":
        return tf.Gemma2Config(
            **COMMON, head_dim=16, query_pre_attn_scalar=24, sliding_window=8,
            attn_logit_softcapping=2.0, final_logit_softcapping=3.0,
        )
    if family == "gemma3":
        return tf.Gemma3TextConfig(
            **{**COMMON, "num_hidden_layers": 3}, head_dim=16, query_pre_attn_scalar=16, sliding_window=8,
            layer_types=["sliding_attention", "full_attention", "sliding_attention"],
            rope_parameters={
                "full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1000000.0},
                "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
            },
        )
    if family in ("phi3", "phi3-partial"):
        partial = 0.5 if family == "phi3-partial" else 1.0
        half = int(16 * partial) // 2
        rope = dict(
            rope_type="longrope", rope_theta=10000.0, partial_rotary_factor=partial,
            short_factor=[1.0 + 0.1 * i for i in range(half)],
            long_factor=[1.0 + 0.7 * i for i in range(half)],
            original_max_position_embeddings=16,
        )
        return tf.Phi3Config(
            **COMMON, sliding_window=8 if partial == 1.0 else None, rope_parameters=rope,
            original_max_position_embeddings=16, partial_rotary_factor=partial,
        )
    if family == "mixtral":
        return tf.MixtralConfig(**COMMON, num_local_experts=8, num_experts_per_tok=2, sliding_window=None)
    if family == "qwen3-moe":
        return tf.Qwen3MoeConfig(
            **COMMON, head_dim=16, num_experts=8, num_experts_per_tok=3, moe_intermediate_size=32,
            norm_topk_prob=False, decoder_sparse_step=1, mlp_only_layers=[1], use_sliding_window=False,
        )
    if family == "qwen2-moe":
        return tf.Qwen2MoeConfig(
            **COMMON, num_experts=8, num_experts_per_tok=2, moe_intermediate_size=32,
            shared_expert_intermediate_size=48, norm_topk_prob=False, use_sliding_window=False,
        )
    if family == "mistral-swa":
        return tf.MistralConfig(**COMMON, sliding_window=8, rope_theta=1000000.0)
    if family == "qwen2-swa":  # transformers slides layers >= max_window_layers: layer 1 of 0..1
        return tf.Qwen2Config(
            **COMMON, use_sliding_window=True, sliding_window=8, max_window_layers=1, rope_theta=1000000.0
        )
    if family == "qwen2-moe-swa":  # even layers < max_window_layers: layer 0 of 0..1
        return tf.Qwen2MoeConfig(
            **COMMON, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
            shared_expert_intermediate_size=48, norm_topk_prob=False, use_sliding_window=True,
            sliding_window=8, max_window_layers=2,
        )
    raise ValueError(f"unknown family {family!r}")


def gemma3_multimodal_config():
    """Gemma 3 4B-27B's layout: the tiny Gemma 3 text model plus a (tiny) vision tower."""
    from transformers import Gemma3Config

    vision = dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=32,
        patch_size=8,
    )
    return Gemma3Config(
        text_config=tiny_family_config("gemma3").to_dict(), vision_config=vision, mm_tokens_per_image=4,
        image_token_index=511, boi_token_index=509, eoi_token_index=510,
    )


def build_tiny_family(family: str, path: Path, seed: int = 0) -> Path:
    from transformers import AutoModelForCausalLM, Gemma3ForConditionalGeneration

    torch.manual_seed(seed)
    if family == "gemma3-multimodal":
        model = Gemma3ForConditionalGeneration(gemma3_multimodal_config())
    else:
        model = AutoModelForCausalLM.from_config(tiny_family_config(family))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name or "bias" in name:
                param.add_(torch.randn_like(param) * 0.2)
    model.save_pretrained(path, safe_serialization=True)
    build_tiny_tokenizer(path)
    return path


@torch.inference_mode()
def greedy_refs(
    hf_model, prompts: list[list[int]], max_tokens: int, device: str = "cpu"
) -> tuple[list[list[int]], float]:
    """HF's greedy continuations and the smallest top-two logit gap over all their steps."""
    refs, margin = [], float("inf")
    for p in prompts:
        out = hf_model.generate(
            torch.tensor([p], device=device), do_sample=False, max_new_tokens=max_tokens,
            min_new_tokens=max_tokens, eos_token_id=None, pad_token_id=0,
        )
        top = hf_model(out).logits[0, len(p) - 1 : -1].float().topk(2).values
        refs.append(out[0, len(p) :].tolist())
        margin = min(margin, float((top[:, 0] - top[:, 1]).min()))
    return refs, margin


def clear_greedy_prompts(
    hf_model, draw: Callable[[random.Random], list[list[int]]], seed: int, max_tokens: int,
    device: str = "cpu", min_margin: float = 1e-2,
) -> tuple[list[list[int]], list[list[int]]]:
    """Prompts from draw(rng) whose HF greedy tokens have no near-tie (every step's top two logits at
    least min_margin apart), so that fp32 rounding differences between devices or kernels cannot flip
    a token; redrawn up to 20 times. Returns (prompts, refs)."""
    rng = random.Random(seed)
    for _ in range(20):
        prompts = draw(rng)
        refs, margin = greedy_refs(hf_model, prompts, max_tokens, device)
        if margin >= min_margin:
            break
    return prompts, refs
