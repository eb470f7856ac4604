"""Typed application state: the engine, the server config, metrics, admission."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from engine.metrics import EngineMetrics
from engine.server.features import Features
from engine.server.settings import ServerConfig

if TYPE_CHECKING:
    from engine.async_engine import AsyncEngine


@dataclass(slots=True)
class Admission:
    """Counts requests in flight; refuses new ones once running plus queued slots are taken."""

    limit: int | None
    in_flight: int = 0

    def try_enter(self) -> bool:
        if self.limit is not None and self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        self.in_flight -= 1


@dataclass(slots=True)
class ServerState:
    engine: AsyncEngine
    config: ServerConfig
    model_names: list[str]
    metrics: EngineMetrics
    admission: Admission
    features: Features = field(default_factory=Features)
    grammars: Any = None  # engine.structured.GrammarCompilerCache, built on first use
    tokenizer_doc: Any = None  # GET /tokenizer's body (bytes, sha256), built on first use

    @property
    def model_name(self) -> str:
        return self.model_names[0]


STATE: web.AppKey[ServerState] = web.AppKey("teecube_engine_state", ServerState)
