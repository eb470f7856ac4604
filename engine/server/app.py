"""`create_app(engine, config)`: the OpenAI-compatible server over one AsyncEngine.

The app owns the engine's lifetime: it starts the engine on startup and shuts it down on cleanup.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import web

from engine.metrics import EngineMetrics
from engine.server import embeddings, info_routes, openai_routes
from engine.server.auth import auth_middleware
from engine.server.errors import error_middleware
from engine.server.features import resolve_features
from engine.server.request_ids import request_id_middleware
from engine.server.settings import ServerConfig
from engine.server.state import STATE, Admission, ServerState

if TYPE_CHECKING:
    from engine.async_engine import AsyncEngine


def create_app(engine: AsyncEngine, config: ServerConfig | None = None) -> web.Application:
    """engine: an AsyncEngine, not yet started. The served task (--task, or ServerConfig.task) is set on
    its EngineConfig: with embed, its core loads the embedding model and serves pooling requests only."""
    config = config or ServerConfig()
    middlewares = [request_id_middleware, error_middleware]
    if config.api_key:
        middlewares.append(auth_middleware(config.api_key))
    app = web.Application(client_max_size=config.max_request_body_bytes, middlewares=middlewares)
    names = list(config.served_model_names) or [engine.config.served_model_name or engine.config.model]
    limit = None
    if config.max_queue_size is not None:
        limit = engine.config.max_num_seqs + config.max_queue_size
    features = resolve_features(engine.config, config)
    engine.config.task = features.task
    metrics = EngineMetrics(engine.stats, names[0])
    app[STATE] = ServerState(engine, config, names, metrics, Admission(limit), features)
    app.on_response_prepare.append(_no_version_banner)
    app.add_routes(openai_routes.routes)
    app.add_routes(embeddings.routes)
    app.add_routes(info_routes.routes)
    app.cleanup_ctx.append(_engine_lifetime)
    return app


async def _no_version_banner(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = "teecube-engine"  # not aiohttp's `Python/x aiohttp/y`


async def _engine_lifetime(app: web.Application) -> AsyncIterator[None]:
    engine = app[STATE].engine
    await engine.start()
    yield
    await engine.shutdown()
