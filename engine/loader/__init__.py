"""Load a model from an HF directory or a GGUF file: weights, spec and tokenizer.

loaded = load_model(engine_config)   # fields model, dtype, device, max_model_len, load_format, tokenizer, ...
loaded = load_model(model_path="dir-or.gguf", dtype="bfloat16", device="cuda")
loaded = load_model(model_path="qwen3-0.6b", load_format="dummy")    # random weights, no download
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.errors import ModelLoadError
from engine.loader.dummy import TokenIdTokenizer, dummy_hf_config, init_random_
from engine.loader.gguf import open_gguf
from engine.loader.safetensors_dir import iter_safetensors, read_eos_token_ids, read_hf_config
from engine.loader.weights import expected_tensors, load_weights
from engine.models.config import DecoderConfig
from engine.models.registry import build_model
from engine.quantization.checkpoint import fp8_scheme
from engine.quantization.model import finish_fp8_model, prepare_fp8_model
from engine.quantization.support import check_fp8_device
from engine.tokenizer import Tokenizer, resolve_chat_template

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
    load_format: str = "auto",
    seed: int = 0,
    quantization: str | None = None,
) -> LoadedModel:
    """Load from an `EngineConfig` (fields model, dtype, device, max_model_len, load_format, seed,
    tokenizer, skip_tokenizer_init, chat_template) or from keywords."""
    options: dict[str, Any] = {}
    if config is not None:
        model_path = config.model
        dtype = getattr(config, "dtype", dtype)
        device = getattr(config, "device", device)
        max_model_len = getattr(config, "max_model_len", max_model_len)
        load_format = getattr(config, "load_format", load_format)
        seed = getattr(config, "seed", seed)
        quantization = getattr(config, "quantization", quantization)
        options = {
            "tokenizer_path": getattr(config, "tokenizer", None),
            "skip_tokenizer_init": getattr(config, "skip_tokenizer_init", False),
            "chat_template": getattr(config, "chat_template", None),
        }
    if load_format == "dummy":
        loaded = _load_dummy(
            str(model_path), dtype, torch.device(device), max_model_len, seed, quantization, **options
        )
    else:
        path = Path(model_path)
        if load_format == "gguf" and path.is_dir() and not list(path.glob("*.gguf")):
            raise ModelLoadError(f"{path}: --load-format gguf, but no .gguf file")
        if load_format == "safetensors" and path.suffix == ".gguf":
            raise ModelLoadError(f"{path}: --load-format safetensors, but a GGUF file")
        loaded = _load_checkpoint(path, dtype, torch.device(device), max_model_len, quantization, **options)
    return loaded


def _load_checkpoint(
    path: Path,
    dtype: str | torch.dtype,
    device: torch.device,
    max_model_len: int | None,
    quantization: str | None = None,
    tokenizer_path: str | None = None,
    skip_tokenizer_init: bool = False,
    chat_template: str | None = None,
) -> LoadedModel:
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
    eos_ids = read_eos_token_ids(path, hf_config) if path.is_dir() else decoder_config.eos_token_ids
    if skip_tokenizer_init:
        tokenizer = TokenIdTokenizer(decoder_config.vocab_size, eos_ids)
    elif tokenizer_path is not None:
        tokenizer = Tokenizer.from_pretrained(tokenizer_path, eos_ids, chat_template)
    elif tokenizer is None:
        tokenizer = Tokenizer.from_pretrained(path, eos_ids, chat_template)
    elif chat_template is not None:
        tokenizer.chat_template = resolve_chat_template(chat_template)
    torch_dtype = resolve_dtype(dtype, decoder_config.torch_dtype, device)
    with default_dtype(torch_dtype), device:
        model = build_model(decoder_config, max_model_len)
    scheme = fp8_scheme(hf_config, quantization)
    if scheme is not None:
        check_fp8_device(device, "quantization", f"FP8 ({scheme.source}, --quantization fp8)")
        if scheme.from_checkpoint:
            prepare_fp8_model(model, scheme)
    load_weights(model, _progress(weights, expected_tensors(model), path.name))
    if scheme is not None:
        finish_fp8_model(model, scheme)  # online quantization; block-wise scales to per-channel
    return loaded_model(model, decoder_config, tokenizer, torch_dtype)


def _load_dummy(
    model_name: str,
    dtype: str | torch.dtype,
    device: torch.device,
    max_model_len: int | None,
    seed: int,
    quantization: str | None = None,
    tokenizer_path: str | None = None,
    skip_tokenizer_init: bool = False,
    chat_template: str | None = None,
) -> LoadedModel:
    """--load-format dummy: the config of a directory or a named shape, random weights."""
    hf_config, directory = dummy_hf_config(model_name)
    decoder_config = DecoderConfig.from_hf_config(hf_config, max_model_len)
    eos_ids = read_eos_token_ids(directory, hf_config) if directory else decoder_config.eos_token_ids
    tokenizer_dir = tokenizer_path or (
        str(directory) if directory and (directory / "tokenizer.json").is_file() else None
    )
    if tokenizer_dir is None or skip_tokenizer_init:
        tok: Any = TokenIdTokenizer(decoder_config.vocab_size, eos_ids)
    else:
        tok = Tokenizer.from_pretrained(tokenizer_dir, eos_ids, chat_template)
    torch_dtype = resolve_dtype(dtype, decoder_config.torch_dtype or "bfloat16", device)
    with default_dtype(torch_dtype), device:
        model = build_model(decoder_config, max_model_len)
    init_random_(model, seed)
    scheme = fp8_scheme(hf_config, quantization)
    if scheme is not None:
        check_fp8_device(device, "quantization", "FP8 (--quantization fp8)")
        finish_fp8_model(model, scheme)
    return loaded_model(model, decoder_config, tok, torch_dtype)


def loaded_model(
    model: nn.Module, decoder_config: DecoderConfig, tokenizer: Any, torch_dtype: torch.dtype
) -> LoadedModel:
    """A built, weight-loaded model in eval mode with its spec (every loader ends here)."""
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
def default_dtype(dtype: torch.dtype):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)
