"""vLLM's `--generation-config`: a sampling field a request leaves out takes the model's default
(from generation_config.json, or `--override-generation-config`), instead of the API's."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine.sampling_params import SamplingParams

# request fields that set max_tokens
MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens")


def with_generation_defaults(params: SamplingParams, body: Any, defaults: dict[str, Any]) -> SamplingParams:
    if not defaults or not isinstance(body, dict):
        return params
    given = {key for key, value in body.items() if value is not None}
    if given & set(MAX_TOKENS_FIELDS):
        given.add("max_tokens")
    chosen = {key: value for key, value in defaults.items() if key not in given}
    return replace(params, **chosen) if chosen else params


def check_generation_defaults(defaults: dict[str, Any]) -> None:
    """Raises InvalidParam (or TypeError for an unknown field) at start-up, not at the first request."""
    SamplingParams(**defaults).validate()
