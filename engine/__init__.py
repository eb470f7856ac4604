"""The inference engine: `LLM` (offline), `AsyncEngine` (serving), `SamplingParams`, `EngineConfig`."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "LLM": "engine.llm",
    "SamplingParams": "engine.sampling_params",
    "AsyncEngine": "engine.async_engine",
    "EngineConfig": "engine.config",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
