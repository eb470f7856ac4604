"""The proxy's aiohttp application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from domains.db import session_factory
from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY
from proxy.auth import Authenticator
from proxy.auth.failures import FailureThrottle
from proxy.auth.jwt_auth import JwtVerifier
from proxy.config import ProxyConfig
from proxy.console import mount_console
from proxy.directory import Directory
from proxy.errors import error_middleware
from proxy.forward.upstream import UpstreamPool
from proxy.guard import Guards
from proxy.limits import Limiter, MemoryBucketStore, RedisBucketStore
from proxy.metrics import ProxyMetrics
from proxy.request_id import request_id_middleware
from proxy.routes import admin, health, openai
from proxy.state import AUTH, CONFIG, DIRECTORY, GUARDS, LIMITER, METRICS, POOL, USAGE
from proxy.usage import UsageWriter

MAX_HEADER_BYTES = 16 * 1024


def create_app(config: ProxyConfig, *, extra_routes: list[Any] | None = None) -> web.Application:
    # client_max_size bounds read()/json(); tenant bodies are read as capped streams (proxy.body).
    app = web.Application(
        middlewares=[request_id_middleware, error_middleware],
        client_max_size=config.default_max_body_bytes,
        handler_args={"max_field_size": MAX_HEADER_BYTES, "max_line_size": MAX_HEADER_BYTES},
    )
    app[CONFIG] = config
    factory = session_factory(config.database_url)
    directory = Directory(factory, config.pepper, ttl=config.cache_ttl)
    app[DIRECTORY] = directory
    app[METRICS] = ProxyMetrics()
    app[POOL] = UpstreamPool(
        connect_timeout=config.upstream_connect_timeout, read_timeout=config.upstream_read_timeout
    )
    app[USAGE] = UsageWriter(factory)
    store = RedisBucketStore(config.redis_url) if config.redis_url else MemoryBucketStore()
    app[LIMITER] = Limiter(store, fail_open=config.limiter_fail_open)
    app[GUARDS] = Guards(directory, DEFAULT_GUARDRAIL_POLICY)
    app["session_factory"] = factory

    async def resources(app: web.Application) -> AsyncIterator[None]:
        http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10), trust_env=False)
        app[AUTH] = Authenticator(
            directory, JwtVerifier(http), FailureThrottle(limit=config.auth_failure_limit)
        )
        await app[USAGE].start()
        yield
        await app[USAGE].close()
        await app[POOL].close()
        await app[LIMITER].close()
        await http.close()
        factory.kw["bind"].dispose()

    app.cleanup_ctx.append(resources)
    app.add_routes(openai.routes)
    app.add_routes(health.routes)
    if config.operator_token:
        app.add_routes(admin.routes)
    mount_console(app)
    if extra_routes:
        app.add_routes(extra_routes)
    return app
