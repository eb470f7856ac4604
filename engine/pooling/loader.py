"""Loading an embedding checkpoint: HF directories of a *ForCausalLM or a bare *Model (Qwen3-Embedding,
gte-Qwen2 save the model without `model.` prefixes and without an LM head)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from engine.errors import ModelLoadError
from engine.loader import LoadedModel, ModelSpec, resolve_dtype
from engine.loader.safetensors_dir import iter_safetensors, read_eos_token_ids, read_hf_config
from engine.loader.weights import load_weights
from engine.models.config import DecoderConfig
from engine.models.decoder import DecoderForCausalLM
from engine.tokenizer import Tokenizer

BARE_MODELS = {
    "Qwen3Model": "Qwen3ForCausalLM",
    "Qwen2Model": "Qwen2ForCausalLM",
    "LlamaModel": "LlamaForCausalLM",
    "MistralModel": "MistralForCausalLM",
}


def _weights(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    for name, tensor in iter_safetensors(path):
        if name.startswith("lm_head."):
            continue  # embeddings never reach the LM head (tied to the embedding table instead)
        yield (name if name.startswith("model.") else f"model.{name}"), tensor


def load_embedding_model(config: Any) -> LoadedModel:
    """config: an EngineConfig (model, dtype, device, max_model_len)."""
    path = Path(config.model)
    if not path.is_dir():
        raise ModelLoadError(f"{path}: embedding models load from an HF directory")
    hf = dict(read_hf_config(path))
    arch = (hf.get("architectures") or [None])[0]
    hf["architectures"] = [BARE_MODELS.get(arch, arch)]
    hf["tie_word_embeddings"] = True  # no LM head is loaded
    decoder_config = DecoderConfig.from_hf_config(hf, config.max_model_len)
    tokenizer = Tokenizer.from_pretrained(path, read_eos_token_ids(path, hf))
    device = torch.device(config.device)
    dtype = resolve_dtype(config.dtype, decoder_config.torch_dtype, device)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with device:
            model = DecoderForCausalLM(decoder_config, config.max_model_len)
    finally:
        torch.set_default_dtype(previous)
    load_weights(model, _weights(path))
    model.eval()
    spec = ModelSpec(
        architecture=decoder_config.architecture,
        num_layers=decoder_config.num_layers,
        num_heads=decoder_config.num_heads,
        num_kv_heads=decoder_config.num_kv_heads,
        head_dim=decoder_config.head_dim,
        hidden_size=decoder_config.hidden_size,
        vocab_size=decoder_config.vocab_size,
        max_position=decoder_config.max_position,
        eos_token_ids=tokenizer.eos_token_ids or decoder_config.eos_token_ids,
        dtype=dtype,
    )
    return LoadedModel(model=model, spec=spec, tokenizer=tokenizer)
