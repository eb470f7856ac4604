"""What distinguishes one decoder family from another, read from an HF config.json dict.

Dense Llama-style families share engine/models/decoder.py; Gemma 2/3 (engine/models/gemma.py), Phi-3
(engine/models/phi3.py) and the mixture-of-experts families (engine/models/moe.py) add fields below with
defaults that leave the Llama-style families unchanged. `layer_types` lists "sliding_attention" or
"full_attention" per layer (HF's convention); sliding layers see the last `sliding_window` positions.
Which layers slide follows transformers per family (`_layer_types`): Mistral, Mixtral, Phi-3 and
Qwen3-MoE every layer; Qwen2 and Qwen3 layers >= max_window_layers; Qwen2-MoE even layers
< max_window_layers; Gemma its pattern. The Qwen families slide only with use_sliding_window."""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import UnsupportedModel

ARCHITECTURES = {
    "LlamaForCausalLM": dict(qkv_bias=False, qk_norm=False),
    "MistralForCausalLM": dict(qkv_bias=False, qk_norm=False),
    "Qwen2ForCausalLM": dict(qkv_bias=True, qk_norm=False),
    "Qwen3ForCausalLM": dict(qkv_bias=False, qk_norm=True),
    "Gemma2ForCausalLM": dict(qkv_bias=False, qk_norm=False),
    "Gemma3ForCausalLM": dict(qkv_bias=False, qk_norm=True),
    "Phi3ForCausalLM": dict(qkv_bias=False, qk_norm=False),
    "MixtralForCausalLM": dict(qkv_bias=False, qk_norm=False),
    "Qwen2MoeForCausalLM": dict(qkv_bias=True, qk_norm=False),
    "Qwen3MoeForCausalLM": dict(qkv_bias=False, qk_norm=True),
}
GEMMA = ("Gemma2ForCausalLM", "Gemma3ForCausalLM")
MOE = ("MixtralForCausalLM", "Qwen2MoeForCausalLM", "Qwen3MoeForCausalLM")
# the families whose sliding window is gated by use_sliding_window; the first three pick layers by
# max_window_layers (or config.json's layer_types)
QWEN_WINDOW_LAYERS = ("Qwen2ForCausalLM", "Qwen3ForCausalLM", "Qwen2MoeForCausalLM")
QWEN = (*QWEN_WINDOW_LAYERS, "Qwen3MoeForCausalLM")
ACTIVATIONS = ("silu", "gelu_pytorch_tanh")


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
    hidden_act: str = "silu"
    # sliding-window attention: the window and, per layer, "sliding_attention" or "full_attention"
    sliding_window: int | None = None
    layer_types: list[str] | None = None
    # Gemma
    query_pre_attn_scalar: float | None = None
    attn_logit_softcapping: float | None = None
    final_logit_softcapping: float | None = None
    rope_local_theta: float | None = None  # Gemma 3's sliding layers
    rope_local_scaling: dict | None = None
    partial_rotary_factor: float = 1.0  # Phi-4-mini rotates 3/4 of each head
    # mixture of experts
    num_experts: int = 0
    num_experts_per_tok: int = 0
    moe_intermediate_size: int = 0
    norm_topk_prob: bool = True
    shared_expert_intermediate_size: int = 0
    decoder_sparse_step: int = 1
    mlp_only_layers: list[int] | None = None

    def layer_window(self, layer: int) -> int | None:
        """The sliding window of `layer`, or None for full attention."""
        if self.sliding_window is None or self.layer_types is None:
            return None
        return self.sliding_window if self.layer_types[layer] == "sliding_attention" else None

    def is_moe_layer(self, layer: int) -> bool:
        if not self.num_experts or layer in (self.mlp_only_layers or []):
            return False
        return (layer + 1) % self.decoder_sparse_step == 0

    @classmethod
    def from_hf_config(cls, hf: dict, max_model_len: int | None = None) -> DecoderConfig:
        if (hf.get("architectures") or [None])[0] == "Gemma3ForConditionalGeneration":
            hf = gemma3_text_config(hf)
        architecture = (hf.get("architectures") or [None])[0]
        if architecture not in ARCHITECTURES:
            raise UnsupportedModel(
                f"architecture {architecture!r} (model_type {hf.get('model_type')!r}) is not supported; "
                f"supported: {', '.join(ARCHITECTURES)}"
            )
        family = ARCHITECTURES[architecture]
        if architecture in MOE and hf.get("quantization_config"):
            raise UnsupportedModel(f"{architecture}: quantized expert checkpoints are not supported")
        hidden_act = hf.get("hidden_activation") or hf.get("hidden_act") or "silu"
        if hidden_act not in ACTIVATIONS or (hidden_act != "silu" and architecture not in GEMMA):
            raise UnsupportedModel(f"{architecture}: hidden_act {hidden_act!r} is not supported")
        if hf.get("mlp_bias"):
            raise UnsupportedModel(f"{architecture}: mlp_bias is not supported")
        num_layers = hf["num_hidden_layers"]
        window = _sliding_window(architecture, hf)
        layer_types = _layer_types(architecture, hf, num_layers) if window is not None else None
        if window is not None and max_model_len and window >= max_model_len:
            window = layer_types = None  # no key can fall outside it: plain causal attention
        num_heads = hf["num_attention_heads"]
        rope_parameters = hf.get("rope_parameters") or {}
        local_rope: dict = {}
        if "full_attention" in rope_parameters:  # Gemma 3, transformers 5: one entry per layer type
            local_rope = rope_parameters.get("sliding_attention") or {}
            rope_parameters = rope_parameters["full_attention"]
        rope_scaling = _rope_scaling(hf.get("rope_scaling") or rope_parameters or None, hf, max_model_len)
        eos = hf.get("eos_token_id")
        return cls(
            architecture=architecture,
            vocab_size=hf["vocab_size"],
            hidden_size=hf["hidden_size"],
            intermediate_size=hf["intermediate_size"],
            num_layers=num_layers,
            num_heads=num_heads,
            num_kv_heads=hf.get("num_key_value_heads") or num_heads,
            head_dim=hf.get("head_dim") or hf["hidden_size"] // num_heads,
            rms_norm_eps=hf.get("rms_norm_eps", 1e-6),
            rope_theta=hf.get("rope_theta") or rope_parameters.get("rope_theta") or 10000.0,
            rope_scaling=rope_scaling,
            max_position=hf.get("max_position_embeddings", 2048),
            qkv_bias=hf.get("attention_bias", False) or family["qkv_bias"],
            qk_norm=family["qk_norm"],
            tie_word_embeddings=hf.get("tie_word_embeddings", False),
            torch_dtype=hf.get("torch_dtype") or hf.get("dtype"),
            bos_token_id=hf.get("bos_token_id"),
            eos_token_ids=[] if eos is None else list(eos) if isinstance(eos, list) else [eos],
            hidden_act=hidden_act,
            sliding_window=window,
            layer_types=layer_types,
            query_pre_attn_scalar=hf.get("query_pre_attn_scalar"),
            attn_logit_softcapping=hf.get("attn_logit_softcapping"),
            final_logit_softcapping=hf.get("final_logit_softcapping"),
            rope_local_theta=local_rope.get("rope_theta") or hf.get("rope_local_base_freq"),
            rope_local_scaling=_rope_scaling(local_rope or None, hf, max_model_len),
            partial_rotary_factor=rope_parameters.get("partial_rotary_factor")
            or hf.get("partial_rotary_factor", 1.0),
            **_moe_fields(architecture, hf),
        )


# transformers' Gemma3TextConfig defaults: Gemma 3 multimodal config.json files leave most of them out
GEMMA3_TEXT_DEFAULTS = dict(
    vocab_size=262_208, hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
    num_attention_heads=8, num_key_value_heads=4, head_dim=256, hidden_activation="gelu_pytorch_tanh",
    max_position_embeddings=131_072, rms_norm_eps=1e-6, rope_theta=1_000_000.0, rope_local_base_freq=10_000.0,
    query_pre_attn_scalar=256, sliding_window=4096, sliding_window_pattern=6, attention_bias=False,
    final_logit_softcapping=None, attn_logit_softcapping=None, bos_token_id=2, eos_token_id=1,
    tie_word_embeddings=True,
)


def gemma3_text_config(hf: dict) -> dict:
    """The text model of a Gemma 3 multimodal config (Gemma 3 4B-27B): its text_config over the defaults,
    run as Gemma3ForCausalLM (the vision tower is not loaded)."""
    text = {**GEMMA3_TEXT_DEFAULTS, **(hf.get("text_config") or {})}
    for key in ("eos_token_id", "bos_token_id", "torch_dtype", "dtype", "tie_word_embeddings"):
        if key in hf and key not in (hf.get("text_config") or {}):
            text[key] = hf[key]
    return {**text, "architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text"}


def _rope_scaling(scaling: dict | None, hf: dict, max_model_len: int | None) -> dict | None:
    """None for plain rope; otherwise the dict with what RotaryEmbedding needs added. LongRoPE (Phi-3):
    its long factors when the engine may run past original_max_position_embeddings, else the short ones
    (one choice for every position, so cached keys and new queries always agree)."""
    if not scaling or scaling.get("rope_type", scaling.get("type")) in (None, "default"):
        return None
    scaling = dict(scaling)
    rope_type = scaling.get("rope_type", scaling.get("type"))
    if rope_type in ("su", "longrope"):
        scaling["rope_type"] = "longrope"
        original = scaling.get("original_max_position_embeddings") or hf["original_max_position_embeddings"]
        max_position = hf.get("max_position_embeddings", original)
        scaling["original_max_position_embeddings"] = original
        scaling["use_long_factor"] = (max_model_len or max_position) > original
        scaling.setdefault("factor", max_position / original)
    return scaling


def _layer_types(architecture: str, hf: dict, num_layers: int) -> list[str]:
    """Which layers slide, as transformers decides for each family: config.json's layer_types where the
    family's HF model reads them (Gemma, Qwen2, Qwen3, Qwen2-MoE), else the family's default."""
    reads_layer_types = architecture in GEMMA or architecture in QWEN_WINDOW_LAYERS
    types = list(hf["layer_types"]) if reads_layer_types and hf.get("layer_types") else None
    if types is None:
        types = [_default_layer_type(architecture, hf, i) for i in range(num_layers)]
    unknown = sorted(set(types) - {"sliding_attention", "full_attention"})
    if unknown or len(types) != num_layers:
        raise UnsupportedModel(
            f"{architecture}: layer_types must list 'sliding_attention' or 'full_attention' for each of "
            f"the {num_layers} layers (got {len(types)}; unsupported: {unknown})"
        )
    return types


def _default_layer_type(architecture: str, hf: dict, i: int) -> str:
    """Gemma 2 alternates (sliding first), Gemma 3 has a full layer every 6th, Qwen2/Qwen3 slide from
    max_window_layers on, Qwen2-MoE on even layers below it; the others slide everywhere."""
    max_window_layers = hf.get("max_window_layers", 28)
    if architecture == "Gemma2ForCausalLM":
        sliding = (i + 1) % 2 != 0
    elif architecture == "Gemma3ForCausalLM":
        sliding = (i + 1) % hf.get("sliding_window_pattern", 6) != 0
    elif architecture == "Qwen2MoeForCausalLM":
        sliding = (i + 1) % 2 != 0 and i < max_window_layers
    elif architecture in QWEN_WINDOW_LAYERS:
        sliding = i >= max_window_layers
    else:
        sliding = True
    return "sliding_attention" if sliding else "full_attention"


def _moe_fields(architecture: str, hf: dict) -> dict:
    if architecture not in MOE:
        return {}
    num_experts = hf.get("num_local_experts") or hf.get("num_experts")
    return dict(
        num_experts=num_experts,
        num_experts_per_tok=hf["num_experts_per_tok"],
        # Mixtral's experts are intermediate_size wide
        moe_intermediate_size=hf.get("moe_intermediate_size") or hf["intermediate_size"],
        norm_topk_prob=hf.get("norm_topk_prob", architecture == "MixtralForCausalLM"),
        shared_expert_intermediate_size=hf.get("shared_expert_intermediate_size") or 0,
        decoder_sparse_step=hf.get("decoder_sparse_step") or 1,
        mlp_only_layers=list(hf.get("mlp_only_layers") or []),
    )


def _sliding_window(architecture: str, hf: dict) -> int | None:
    """The window, or None: the Qwen families slide only with use_sliding_window (transformers'
    default is off); the others whenever sliding_window is set."""
    window = hf.get("sliding_window")
    if hf.get("use_sliding_window") is False or (architecture in QWEN and not hf.get("use_sliding_window")):
        return None
    if window is None:
        return None
    if isinstance(window, bool) or not isinstance(window, int) or window <= 0:
        raise UnsupportedModel(f"{architecture}: sliding_window must be a positive integer (got {window!r})")
    return window
