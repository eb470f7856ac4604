"""HF checkpoint directories: config.json and safetensors weights (one file or sharded with an index)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from engine.errors import ModelLoadError


def read_hf_config(path: Path) -> dict[str, Any]:
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ModelLoadError(f"{path}: no config.json")
    try:
        return json.loads(config_file.read_text())
    except json.JSONDecodeError as e:
        raise ModelLoadError(f"{config_file}: not valid JSON: {e}") from e


def read_eos_token_ids(path: Path, hf_config: dict[str, Any]) -> list[int]:
    """EOS ids from config.json and generation_config.json (Llama 3 lists several)."""
    ids: list[int] = []
    generation_config = path / "generation_config.json"
    sources = [hf_config, json.loads(generation_config.read_text()) if generation_config.is_file() else {}]
    for source in sources:
        eos = source.get("eos_token_id")
        for token_id in eos if isinstance(eos, list) else [eos]:
            if token_id is not None and token_id not in ids:
                ids.append(token_id)
    return ids


def safetensors_files(path: Path) -> list[Path]:
    index = path / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError) as e:
            raise ModelLoadError(f"{index}: not a valid safetensors index: {e}") from e
        files = [path / name for name in sorted(set(weight_map.values()))]
    else:
        files = sorted(path.glob("*.safetensors"))
    if not files:
        raise ModelLoadError(f"{path}: no .safetensors weights (pickled .bin checkpoints are not loaded)")
    for file in files:
        if not file.is_file():
            raise ModelLoadError(f"{path}: missing weight shard {file.name}")
    return files


def iter_safetensors(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    for file in safetensors_files(path):
        try:
            with safe_open(file, framework="pt", device="cpu") as f:
                for name in f.keys():
                    yield name, f.get_tensor(name)
        except Exception as e:  # safetensors raises its own SafetensorError, OSError, ...
            raise ModelLoadError(f"{file}: corrupt or truncated safetensors file: {e}") from e
