"""Loading an embedding checkpoint: HF directories of a *ForCausalLM or a bare *Model (Qwen3-Embedding,
gte-Qwen2 save the model without `model.` prefixes and without an LM head)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from engine.errors import ModelLoadError
from engine.loader import LoadedModel, default_dtype, loaded_model, resolve_dtype
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
    with default_dtype(dtype), device:
        model = DecoderForCausalLM(decoder_config, config.max_model_len)
    load_weights(model, _weights(path))
    return loaded_model(model, decoder_config, tokenizer, dtype)
