"""The console's test stand: the real proxy (attested TLS, simulated TEE, real SQLite DB) in a
thread, the fake OpenAI upstream from proxy/bench_fake with a vLLM-style /metrics, and the
system's headless Chromium driven by Playwright. Shared by the tests and the screenshot script.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from domains import db
from domains.deployments import add_deployment
from domains.grants import grant_model
from domains.keys import create_key
from domains.tenants import create_domain
from domains.usage import UsageRecordIn, record_usage
from proxy import bench_fake
from proxy.app import create_app
from proxy.config import ProxyConfig

OPERATOR_TOKEN = "console-test-operator-token-" + secrets.token_hex(8)
PEPPER = secrets.token_hex(32).encode()
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
ENGINE_STATS = {"num_running": 3, "num_waiting": 1, "kv_cache_usage": 0.42, "total_blocks": 100,
                "free_blocks": 58, "prompt_tokens": 12000, "generation_tokens": 3400, "num_preemptions": 0,
                "prefix_cache_queries": 0, "prefix_cache_hits": 0}


def chromium_path() -> str | None:
    found = os.environ.get("TEECUBE_CHROMIUM")
    if found and Path(found).exists():
        return found
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


class Served:
    """An aiohttp app on a loopback port, in its own event-loop thread (optionally over TLS)."""

    def __init__(self, build: Callable[[], tuple[web.Application, Any]]) -> None:
        self._build = build
        self.port = 0
        self.app: web.Application | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.app, ssl_context = self._build()
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def start(self) -> Served:
        self._thread.start()
        self._ready.wait(60)
        if self._error:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


def fake_upstream() -> Served:
    def build() -> tuple[web.Application, None]:
        app = bench_fake.create_app(4)

        from engine.metrics import EngineMetrics
        from engine.outputs import EngineStats

        # The engine's own exposition (vLLM names), over fixed stats.
        exposition = EngineMetrics(lambda: EngineStats(**ENGINE_STATS), bench_fake.MODEL)

        async def metrics(request: web.Request) -> web.Response:
            return web.Response(body=exposition.render(), content_type="text/plain")

        app.router.add_get("/metrics", metrics)
        return app, None

    return Served(build).start()


def proxy(state_dir: Path, database_url: str) -> tuple[Served, ProxyConfig]:
    config = ProxyConfig(database_url=database_url, pepper=PEPPER, operator_token=OPERATOR_TOKEN, tls=True,
                         tee="simulated", state_dir=str(state_dir), cache_ttl=0.2, auth_failure_limit=10_000)

    def build() -> tuple[web.Application, Any]:
        from proxy.encryption import Encryption
        from proxy.server import attested_tls

        ssl_context, routes, identity = attested_tls(config)
        return create_app(config, extra_routes=routes, encryption=Encryption(identity.hpke_key)), ssl_context

    return Served(build).start(), config


def seed(database_url: str, upstream_url: str) -> dict[str, str]:
    """Two tenants (acme, globex) on the fake upstream, a day of usage each; returns their keys."""
    db.upgrade(database_url)
    factory = db.session_factory(database_url)
    secrets_by_domain = {}
    with factory.begin() as s:
        add_deployment(s, "fake", "openai", upstream_url, bench_fake.MODEL, "test:seed", context_length=4096)
        for name in ("acme", "globex"):
            create_domain(s, name, "test:seed", requests_per_minute=600)
            grant_model(s, name, f"{name}-chat", "fake", "test:seed")
            _, secrets_by_domain[name] = create_key(s, name, "test:seed", name=f"{name}-key", pepper=PEPPER,
                                                    expires_at=datetime.now(UTC) + timedelta(days=30))
        ids = {d: s.execute(db_text("SELECT id FROM domains WHERE name = :n"), {"n": d}).scalar_one()
               for d in ("acme", "globex")}
    now = datetime.now(UTC)
    rows = [UsageRecordIn(request_id=f"seed-{d}-{i}", domain_id=ids[d], alias=f"{d}-chat", status="ok",
                          status_code=200, latency_ms=40 + i, prompt_tokens=20 + i, completion_tokens=10 + i,
                          created_at=now - timedelta(hours=3 * i))
            for d in ids for i in range(8)]
    record_usage(factory, rows)
    factory.kw["bind"].dispose()
    return secrets_by_domain


def db_text(sql: str) -> Any:
    from sqlalchemy import text

    return text(sql)
