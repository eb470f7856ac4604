"""Load a model from an HF directory or a GGUF file: weights, spec and tokenizer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from engine.errors import ModelLoadError


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
    tokenizer: Any


def load_model(
    config: Any = None,
    *,
    model_path: str | None = None,
    dtype: str = "auto",
    device: str = "cpu",
    max_model_len: int | None = None,
) -> LoadedModel:
    """Load from an `EngineConfig` (fields model, dtype, device, max_model_len) or from keywords."""
    raise ModelLoadError("loader not implemented yet")
