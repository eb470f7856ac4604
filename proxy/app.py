"""The proxy's aiohttp application factory."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from domains.db import session_factory
from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY
from proxy.auth import Authenticator, client_address
from proxy.auth.failures import FailureThrottle
from proxy.auth.jwt_auth import JwtVerifier
from proxy.config import ProxyConfig
from proxy.console import mount_console
from proxy.console_forward import forwarded_client_middleware, mount_console_forward
from proxy.directory import Directory
from proxy.encryption import ENCRYPTION, Encryption, encryption_middleware
from proxy.errors import ApiError, error_middleware
from proxy.forward.upstream import UpstreamPool
from proxy.guard import Guards
from proxy.guardrails.scan_pool import ScanPool, default_workers
from proxy.limits import Limiter, MemoryBucketStore, RedisBucketStore
from proxy.limits.shared import SharedBucketStore
from proxy.listener import drop_server_banner, mark_worker
from proxy.loghygiene import install_log_hygiene
from proxy.metrics import ProxyMetrics
from proxy.request_id import request_id_middleware
from proxy.routes import admin, health, openai, usage
from proxy.state import (
    ATTESTATION_LIMIT,
    AUTH,
    CONFIG,
    DIRECTORY,
    GUARDS,
    LIMITER,
    METRICS,
    OPERATOR_THROTTLE,
    POOL,
    USAGE,
)
from proxy.usage import UsageWriter

MAX_HEADER_BYTES = 16 * 1024


@web.middleware
async def attestation_rate_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """`/attestation*` needs no credential (clients verify before they trust), so it is rate
    limited per client address: evidence generation costs the TEE real work."""
    if request.path.startswith("/attestation"):
        window = request.app[ATTESTATION_LIMIT]
        address = client_address(request)
        wait = await window.blocked_for(address)
        await window.failed(address)  # counts the request
        if wait:
            raise ApiError(429, "Too many attestation requests. Please retry later.",
                           code="rate_limit_exceeded", headers={"Retry-After": str(math.ceil(wait))})
    return await handler(request)


def create_app(config: ProxyConfig, *, extra_routes: list[Any] | None = None,
               encryption: Encryption | None = None) -> web.Application:
    # client_max_size bounds read()/json(); tenant bodies are read as capped streams (proxy.body).
    # encryption_middleware opens HPKE-sealed requests and seals their answers (proxy/encryption.py).
    install_log_hygiene()
    app = web.Application(
        middlewares=[
            request_id_middleware, encryption_middleware, error_middleware, attestation_rate_middleware
        ],
        client_max_size=config.default_max_body_bytes,
        handler_args={"max_field_size": MAX_HEADER_BYTES, "max_line_size": MAX_HEADER_BYTES},
    )
    app[CONFIG] = config
    if encryption is not None:
        app[ENCRYPTION] = encryption
    factory = session_factory(config.database_url)
    directory = Directory(factory, config.pepper, ttl=config.cache_ttl)
    app[DIRECTORY] = directory
    app[METRICS] = ProxyMetrics()
    app[POOL] = UpstreamPool(
        connect_timeout=config.upstream_connect_timeout, read_timeout=config.upstream_read_timeout
    )
    app[USAGE] = UsageWriter(factory)
    store: Any = MemoryBucketStore()
    if config.redis_url:
        store = RedisBucketStore(config.redis_url, prefix=config.redis_prefix)
    elif config.limiter_socket:  # a worker: the supervisor holds the one budget
        store = SharedBucketStore(config.limiter_socket)
    app[LIMITER] = Limiter(store, fail_open=config.limiter_fail_open)
    workers = config.guard_scan_workers
    workers = default_workers() if workers is None else workers
    if workers < 0:
        raise ValueError("guard_scan_workers must be 0 or more")
    app[GUARDS] = Guards(directory, DEFAULT_GUARDRAIL_POLICY, ScanPool(workers) if workers else None)
    app["session_factory"] = factory
    # one budget per address for every worker (and replica on Redis), not one per process
    shared = store if not isinstance(store, MemoryBucketStore) else None
    app[OPERATOR_THROTTLE] = FailureThrottle(limit=config.auth_failure_limit, store=shared, name="operator")
    app[ATTESTATION_LIMIT] = FailureThrottle(
        limit=config.attestation_per_minute, store=shared, name="attestation"
    )
    drop_server_banner(app)
    if config.worker_index is not None:
        mark_worker(app, config.worker_index)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10), trust_env=False)
        app[AUTH] = Authenticator(
            directory, JwtVerifier(http), FailureThrottle(limit=config.auth_failure_limit, store=shared)
        )
        await app[USAGE].start()
        await app[GUARDS].start()
        yield
        app[GUARDS].close()
        await app[USAGE].close()
        await app[POOL].close()
        await app[LIMITER].close()
        await http.close()
        factory.kw["bind"].dispose()

    app.cleanup_ctx.append(resources)
    app.add_routes(openai.routes)
    app.add_routes(health.routes)
    app.add_routes(usage.routes)
    if config.operator_token:
        app.add_routes(admin.routes)
    if config.console_socket and config.worker_index:  # console sessions live in worker 0
        mount_console_forward(app, config.console_socket)
    else:
        mount_console(app)
        if config.console_socket:
            app.middlewares.insert(0, forwarded_client_middleware)
    if extra_routes:
        app.add_routes(extra_routes)
    return app
