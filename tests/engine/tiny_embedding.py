"""Tiny random embedding checkpoints (saved bare, as Qwen3-Embedding and gte-Qwen2 are: a *Model without
LM head or `model.` prefix) with sentence-transformers pooling files, and HF transformers' reference."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tests.engine.tiny_models import build_tiny_tokenizer, tiny_hf_config

POOLING_KEYS = {
    "last": "pooling_mode_lasttoken",
    "mean": "pooling_mode_mean_tokens",
    "cls": "pooling_mode_cls_token",
}


def build_embedding_model(family: str, path: Path, pooling: str) -> Path:
    """pooling: last, mean or cls (1_Pooling/config.json); a Normalize module follows."""
    from transformers import AutoModel

    torch.manual_seed(1)
    model = AutoModel.from_config(tiny_hf_config(family))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.add_(torch.randn_like(param) * 0.2)
    model.save_pretrained(path, safe_serialization=True)
    build_tiny_tokenizer(path)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (path / "modules.json").write_text(json.dumps(modules))
    (path / "1_Pooling").mkdir()
    config = {"word_embedding_dimension": 64, POOLING_KEYS[pooling]: True}
    (path / "1_Pooling" / "config.json").write_text(json.dumps(config))
    return path


def reference(path: Path, ids: list[int], pooling: str) -> torch.Tensor:
    """HF transformers' float32 embedding of one input (pooled, normalized)."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(path, torch_dtype=torch.float32).eval()
    with torch.no_grad():
        hidden = model(torch.tensor([ids])).last_hidden_state[0]
    vector = {"last": hidden[-1], "cls": hidden[0]}.get(pooling)
    return torch.nn.functional.normalize(hidden.mean(0) if vector is None else vector, dim=-1)
