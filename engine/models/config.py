"""What distinguishes one decoder family from another, read from an HF config.json dict."""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import UnsupportedModel

ARCHITECTURES = {
    "LlamaForCausalLM": dict(qkv_bias=False, qk_norm=False),
    "MistralForCausalLM": dict(qkv_bias=False, qk_norm=False),
    "Qwen2ForCausalLM": dict(qkv_bias=True, qk_norm=False),
    "Qwen3ForCausalLM": dict(qkv_bias=False, qk_norm=True),
}


@dataclass(slots=True)
class DecoderConfig:
    architecture: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    rope_scaling: dict | None
    max_position: int
    qkv_bias: bool
    qk_norm: bool
    tie_word_embeddings: bool
    torch_dtype: str | None
    bos_token_id: int | None
    eos_token_ids: list[int]

    @classmethod
    def from_hf_config(cls, hf: dict, max_model_len: int | None = None) -> DecoderConfig:
        architecture = (hf.get("architectures") or [None])[0]
        if architecture not in ARCHITECTURES:
            raise UnsupportedModel(
                f"architecture {architecture!r} (model_type {hf.get('model_type')!r}) is not supported; "
                f"supported: {', '.join(ARCHITECTURES)}"
            )
        if hf.get("hidden_act", "silu") != "silu":
            raise UnsupportedModel(f"{architecture}: hidden_act {hf['hidden_act']!r} is not supported")
        if hf.get("mlp_bias"):
            raise UnsupportedModel(f"{architecture}: mlp_bias is not supported")
        window = _sliding_window(hf)
        if window is not None and window < (max_model_len or hf.get("max_position_embeddings", 0)):
            raise UnsupportedModel(
                f"{architecture}: sliding-window attention ({window}) is not supported; "
                f"use max_model_len <= {window}"
            )
        num_heads = hf["num_attention_heads"]
        rope_parameters = hf.get("rope_parameters") or {}
        rope_scaling = hf.get("rope_scaling") or rope_parameters or None
        if rope_scaling and rope_scaling.get("rope_type", rope_scaling.get("type")) in (None, "default"):
            rope_scaling = None
        eos = hf.get("eos_token_id")
        return cls(
            architecture=architecture,
            vocab_size=hf["vocab_size"],
            hidden_size=hf["hidden_size"],
            intermediate_size=hf["intermediate_size"],
            num_layers=hf["num_hidden_layers"],
            num_heads=num_heads,
            num_kv_heads=hf.get("num_key_value_heads") or num_heads,
            head_dim=hf.get("head_dim") or hf["hidden_size"] // num_heads,
            rms_norm_eps=hf.get("rms_norm_eps", 1e-6),
            rope_theta=hf.get("rope_theta") or rope_parameters.get("rope_theta") or 10000.0,
            rope_scaling=rope_scaling,
            max_position=hf.get("max_position_embeddings", 2048),
            qkv_bias=hf.get("attention_bias", False) or ARCHITECTURES[architecture]["qkv_bias"],
            qk_norm=ARCHITECTURES[architecture]["qk_norm"],
            tie_word_embeddings=hf.get("tie_word_embeddings", False),
            torch_dtype=hf.get("torch_dtype") or hf.get("dtype"),
            bos_token_id=hf.get("bos_token_id"),
            eos_token_ids=[] if eos is None else list(eos) if isinstance(eos, list) else [eos],
        )


def _sliding_window(hf: dict) -> int | None:
    if hf.get("use_sliding_window") is False:
        return None
    return hf.get("sliding_window")
