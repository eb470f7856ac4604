"""Load a model from an HF directory or a GGUF file: weights, spec and tokenizer.

loaded = load_model(engine_config)                       # fields model, dtype, device, max_model_len
loaded = load_model(model_path="dir-or.gguf", dtype="bfloat16", device="cuda")
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.errors import ModelLoadError
from engine.loader.gguf import open_gguf
from engine.loader.safetensors_dir import iter_safetensors, read_eos_token_ids, read_hf_config
from engine.loader.weights import expected_tensors, load_weights
from engine.models.config import DecoderConfig
from engine.models.decoder import DecoderForCausalLM
from engine.tokenizer import Tokenizer

DTYPES = {
    "float32": torch.float32,
    "float": torch.float32,
    "float16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
}


@dataclass(slots=True)
class ModelSpec:
    architecture: str
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    hidden_size: int
    vocab_size: int
    max_position: int
    eos_token_ids: list[int]
    dtype: torch.dtype


@dataclass(slots=True)
class LoadedModel:
    model: nn.Module
    spec: ModelSpec
    tokenizer: Tokenizer


def load_model(
    config: Any = None,
    *,
    model_path: str | Path | None = None,
    dtype: str | torch.dtype = "auto",
    device: str | torch.device = "cpu",
    max_model_len: int | None = None,
) -> LoadedModel:
    """Load from an `EngineConfig` (fields model, dtype, device, max_model_len) or from keywords."""
    if config is not None:
        model_path = config.model
        dtype = getattr(config, "dtype", dtype)
        device = getattr(config, "device", device)
        max_model_len = getattr(config, "max_model_len", max_model_len)
    path = Path(model_path)
    if path.is_dir() and not (path / "config.json").exists() and len(ggufs := list(path.glob("*.gguf"))) == 1:
        path = ggufs[0]
    if path.is_file():
        hf_config, weights, tokenizer = open_gguf(path)
    elif path.is_dir():
        hf_config = read_hf_config(path)
        weights = iter_safetensors(path)
        tokenizer = None
    else:
        raise ModelLoadError(f"{path}: no such model directory or GGUF file")
    decoder_config = DecoderConfig.from_hf_config(hf_config, max_model_len)
    if tokenizer is None:
        tokenizer = Tokenizer.from_pretrained(path, read_eos_token_ids(path, hf_config))
    device = torch.device(device)
    torch_dtype = resolve_dtype(dtype, decoder_config.torch_dtype, device)
    with _default_dtype(torch_dtype), device:
        model = DecoderForCausalLM(decoder_config, max_model_len)
    load_weights(model, _progress(weights, expected_tensors(model), path.name))
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
        dtype=torch_dtype,
    )
    return LoadedModel(model=model, spec=spec, tokenizer=tokenizer)


def _progress(weights: Any, total: int, name: str) -> Any:
    """A bar over checkpoint tensors on a terminal (as vLLM and HF show); silent otherwise."""
    from tqdm import tqdm

    return tqdm(weights, total=total, desc=f"Loading {name}", unit=" tensors", disable=None, leave=False)


def resolve_dtype(dtype: str | torch.dtype, config_dtype: str | None, device: torch.device) -> torch.dtype:
    """ "auto": the checkpoint's torch_dtype on CUDA (fp32 checkpoints stay fp32), float32 on CPU."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        if device.type != "cuda":
            return torch.float32
        return DTYPES.get(config_dtype or "bfloat16", torch.bfloat16)
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not one of auto, {', '.join(DTYPES)}")
    return DTYPES[dtype]


@contextmanager
def _default_dtype(dtype: torch.dtype):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)
