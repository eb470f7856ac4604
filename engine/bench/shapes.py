"""Named model shapes with random weights, built with no download: HF config dicts written out here.

Throughput does not depend on the weights' values, so a benchmark can run a shape (qwen3-0.6b,
llama3-8b) without fetching its checkpoint. Prompts are token ids, so the tokenizer is a trivial one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch

from engine.loader import LoadedModel, ModelSpec, _default_dtype
from engine.models.config import DecoderConfig
from engine.models.decoder import DecoderForCausalLM

SHAPES: dict[str, dict[str, Any]] = {
    "qwen3-0.6b": dict(
        architectures=["Qwen3ForCausalLM"],
        model_type="qwen3",
        vocab_size=151936,
        hidden_size=1024,
        intermediate_size=3072,
        num_hidden_layers=28,
        num_attention_heads=16,
        num_key_value_heads=8,
        head_dim=128,
        max_position_embeddings=40960,
        rms_norm_eps=1e-6,
        rope_theta=1000000.0,
        tie_word_embeddings=True,
        use_sliding_window=False,
        sliding_window=None,
        attention_bias=False,
        bos_token_id=151643,
        eos_token_id=151645,
        torch_dtype="bfloat16",
    ),
    "llama3-8b": dict(
        architectures=["LlamaForCausalLM"],
        model_type="llama",
        vocab_size=128256,
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        max_position_embeddings=8192,
        rms_norm_eps=1e-5,
        rope_theta=500000.0,
        tie_word_embeddings=False,
        attention_bias=False,
        bos_token_id=128000,
        eos_token_id=128001,
        torch_dtype="bfloat16",
    ),
    # For CPU tests of the benchmark itself.
    "tiny": dict(
        architectures=["Qwen3ForCausalLM"],
        model_type="qwen3",
        vocab_size=512,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=4096,
        rms_norm_eps=1e-6,
        rope_theta=1000000.0,
        tie_word_embeddings=True,
        use_sliding_window=False,
        sliding_window=None,
        attention_bias=False,
        bos_token_id=0,
        eos_token_id=2,
        torch_dtype="bfloat16",
    ),
}


class TokenIdTokenizer:
    """For prompts given as token ids: nothing to encode, and every token decodes to no text."""

    def __init__(self, vocab_size: int, eos_token_ids: list[int]) -> None:
        self.vocab_size = vocab_size
        self.eos_token_ids = list(eos_token_ids)
        self.bos_token_id = None
        self.chat_template = None

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        raise ValueError("this model has no tokenizer: give prompts as token ids")

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return ""

    def id_to_token(self, i: int) -> str:
        return ""

    def apply_chat_template(self, messages: list[dict[str, Any]], add_generation_prompt: bool = True) -> str:
        raise ValueError("this model has no tokenizer or chat template")


def random_model(
    shape: str,
    device: str | torch.device = "cuda",
    dtype: torch.dtype = torch.bfloat16,
    seed: int = 0,
) -> LoadedModel:
    """The engine's model for `shape`, weights drawn on the device (N(0, 0.02); norms near 1)."""
    hf = SHAPES[shape]
    config = DecoderConfig.from_hf_config(hf)
    device = torch.device(device)
    with _default_dtype(dtype), device:
        model = DecoderForCausalLM(config)
    init_random_(model, seed)
    model.eval()
    spec = ModelSpec(
        architecture=config.architecture,
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        num_kv_heads=config.num_kv_heads,
        head_dim=config.head_dim,
        hidden_size=config.hidden_size,
        vocab_size=config.vocab_size,
        max_position=config.max_position,
        eos_token_ids=config.eos_token_ids,
        dtype=dtype,
    )
    tokenizer = TokenIdTokenizer(config.vocab_size, config.eos_token_ids)
    return LoadedModel(model=model, spec=spec, tokenizer=tokenizer)  # type: ignore[arg-type]


def shape_loader(
    shape: str, dtype: torch.dtype = torch.bfloat16, seed: int = 0
) -> Callable[[Any], LoadedModel]:
    """A picklable `loader(config)` for tensor parallelism: each rank builds its shard of `shape` on its
    own device (the same seed on every rank, so replicated parameters such as the norms agree)."""
    return partial(_load_shape, shape, dtype, seed)


def _load_shape(shape: str, dtype: torch.dtype, seed: int, config: Any) -> LoadedModel:
    loaded = random_model(shape, config.device, dtype, seed)
    if getattr(config, "quantization", None) == "fp8":  # each rank quantizes its own shards
        from engine.quantization.model import quantize_model_

        quantize_model_(loaded.model)
    return loaded


@torch.no_grad()
def init_random_(model: torch.nn.Module, seed: int = 0) -> None:
    """Fill every parameter in place (construction leaves them uninitialised)."""
    first = next(model.parameters())
    gen = torch.Generator(device=first.device).manual_seed(seed)
    for name, param in model.named_parameters():
        if param.dim() == 1 and "norm" in name:
            param.normal_(1.0, 0.02, generator=gen)
        else:
            param.normal_(0.0, 0.02, generator=gen)


def hf_model(shape: str, device: str | torch.device = "cuda", dtype: torch.dtype = torch.bfloat16) -> Any:
    """HF transformers' model of the same shape with random weights (its own init), on the device."""
    from transformers import AutoConfig, AutoModelForCausalLM

    hf = dict(SHAPES[shape])
    fields = {k: v for k, v in hf.items() if k not in ("model_type", "architectures", "torch_dtype")}
    config = AutoConfig.for_model(hf["model_type"], **fields)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model.eval()


def weight_bytes(model: torch.nn.Module) -> dict[str, int]:
    """Bytes a decode step reads (every matrix; the input embedding only when it is the LM head too) and
    the parameter count of the matmuls (for FLOPs), counting shared tensors once."""
    seen: set[int] = set()
    read = matmul = 0
    embed = model.model.embed_tokens.weight
    tied = model.lm_head.weight is embed
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) in seen:
            continue
        seen.add(id(p))
        is_embed = p is embed
        if is_embed and not tied:
            continue
        read += p.numel() * p.element_size()
        if p.dim() == 2 and not (is_embed or name.startswith("lm_head")):
            matmul += p.numel()
    head = model.lm_head.weight.numel()
    return {"decode_read_bytes": read, "matmul_params": matmul, "lm_head_params": head}
