"""Serving features chosen at start-up (vLLM's flags): tool-call parser, auto tool choice, reasoning
parser, task (generate or embed). Read from the EngineConfig fields the CLI fills (`--tool-call-parser`,
`--enable-auto-tool-choice`, `--reasoning-parser`, `--task`) when present; ServerConfig's fields of
the same names override them (tests and embedders that build configs directly)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidParam
from engine.reasoning import PARSERS as REASONING_PARSERS
from engine.tool_parsers import PARSERS as TOOL_PARSERS

TASKS = {"generate": "generate", "embed": "embed", "embedding": "embed", "pooling": "embed"}


@dataclass(frozen=True, slots=True)
class Features:
    tool_call_parser: str | None = None
    enable_auto_tool_choice: bool = False
    reasoning_parser: str | None = None
    task: str = "generate"

    @property
    def embed(self) -> bool:
        return self.task == "embed"


def _pick(server_config: Any, engine_config: Any, name: str, default: Any) -> Any:
    value = getattr(server_config, name, None)
    if value is None:
        value = getattr(engine_config, name, None)
    return default if value is None else value


def resolve_features(engine_config: Any, server_config: Any) -> Features:
    tool_parser = _pick(server_config, engine_config, "tool_call_parser", None)
    auto = bool(_pick(server_config, engine_config, "enable_auto_tool_choice", False))
    reasoning = _pick(server_config, engine_config, "reasoning_parser", None)
    task = _pick(server_config, engine_config, "task", "generate")
    if _pick(server_config, engine_config, "runner", None) == "pooling":
        task = "embed"
    if _pick(server_config, engine_config, "convert", None) in ("embed", "embedding"):
        task = "embed"
    if tool_parser is not None and tool_parser not in TOOL_PARSERS:
        raise InvalidParam("tool_call_parser", f"must be one of {', '.join(sorted(TOOL_PARSERS))}")
    if auto and tool_parser is None:
        raise InvalidParam("enable_auto_tool_choice", "needs --tool-call-parser")
    if reasoning is not None and reasoning not in REASONING_PARSERS:
        raise InvalidParam("reasoning_parser", f"must be one of {', '.join(sorted(REASONING_PARSERS))}")
    if task not in TASKS:
        raise InvalidParam("task", f"must be one of {', '.join(TASKS)}")
    return Features(tool_parser, auto, reasoning, TASKS[task])
