"""How an embedding model pools (read from its sentence-transformers files) and the `dimensions` cut."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

POOLING_TYPES = ("last", "mean", "cls")


@dataclass(frozen=True, slots=True)
class PoolingConfig:
    pooling_type: str = "last"  # vLLM's default for decoder embedding models
    normalize: bool = True

    @classmethod
    def from_model_dir(cls, path: str | Path) -> PoolingConfig:
        """sentence-transformers files when present: 1_Pooling/config.json and a Normalize module."""
        path = Path(path)
        modules_file = path / "modules.json"
        if not path.is_dir() or not modules_file.is_file():
            return cls()
        modules = json.loads(modules_file.read_text())
        pooling_type, normalize = "last", False
        for m in modules:
            kind = m.get("type", "")
            if kind.endswith("Normalize"):
                normalize = True
            elif kind.endswith("Pooling"):
                cfg_file = path / m.get("path", "") / "config.json"
                cfg = json.loads(cfg_file.read_text()) if cfg_file.is_file() else {}
                if cfg.get("pooling_mode_mean_tokens"):
                    pooling_type = "mean"
                elif cfg.get("pooling_mode_cls_token"):
                    pooling_type = "cls"
        return cls(pooling_type, normalize)


def finish(vector: torch.Tensor, dimensions: int | None, normalize: bool) -> torch.Tensor:
    """Matryoshka truncation to `dimensions`, renormalized when the model normalizes (as vLLM does)."""
    if dimensions is not None and dimensions < vector.shape[-1]:
        vector = vector[..., :dimensions]
        if normalize:
            vector = torch.nn.functional.normalize(vector, dim=-1)
    return vector
