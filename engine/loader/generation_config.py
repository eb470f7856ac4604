"""Sampling defaults from a model's generation_config.json (vLLM's `--generation-config auto`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# generation_config.json's keys that are sampling defaults, under the request field they default
SAMPLING_KEYS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "repetition_penalty": "repetition_penalty",
    "max_new_tokens": "max_tokens",
}


def read_generation_defaults(directory: Path) -> dict[str, Any]:
    """{request field: default} from directory/generation_config.json; {} when there is none (a GGUF file,
    a named shape) or it cannot be read."""
    path = directory / "generation_config.json"
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {field: data[key] for key, field in SAMPLING_KEYS.items() if key in data}
