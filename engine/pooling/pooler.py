"""Pooling hidden states of packed sequences into one vector each."""

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


def pool(hidden: torch.Tensor, lengths: list[int], config: PoolingConfig) -> torch.Tensor:
    """hidden: [sum(lengths), H] of packed sequences → [len(lengths), H] float32."""
    hidden = hidden.float()
    ends = torch.tensor(lengths, device=hidden.device).cumsum(0)
    starts = ends - torch.tensor(lengths, device=hidden.device)
    if config.pooling_type == "last":
        out = hidden[ends - 1]
    elif config.pooling_type == "cls":
        out = hidden[starts]
    else:
        seq = torch.repeat_interleave(
            torch.arange(len(lengths), device=hidden.device), torch.tensor(lengths, device=hidden.device)
        )
        out = torch.zeros(len(lengths), hidden.shape[1], device=hidden.device).index_add_(0, seq, hidden)
        out = out / torch.tensor(lengths, device=hidden.device, dtype=out.dtype).unsqueeze(1)
    if config.normalize:
        out = torch.nn.functional.normalize(out, dim=-1)
    return out


def finish(vector: torch.Tensor, dimensions: int | None, normalize: bool) -> torch.Tensor:
    """Matryoshka truncation to `dimensions`, renormalized when the model normalizes (as vLLM does)."""
    if dimensions is not None and dimensions < vector.shape[-1]:
        vector = vector[..., :dimensions]
        if normalize:
            vector = torch.nn.functional.normalize(vector, dim=-1)
    return vector
