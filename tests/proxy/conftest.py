"""End-to-end fixtures: a real engine (bundled SmolLM2 on CPU) on a Unix socket, real
databases, and the proxy running in a background thread so tests can use the official
synchronous `openai` SDK against it."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Self

import aiohttp
import openai
import pytest

from domains import db
from domains.deployments import add_deployment
from domains.grants import grant_model
from domains.keys import create_key
from domains.tenants import create_domain
from proxy.app import create_app
from proxy.config import ProxyConfig
from proxy.listener import HardenedRunner
from proxy.operator_listener import create_metrics_app
from proxy.state import METRICS
from tests.conftest import fresh_postgres_database

ENGINE_KEY_ENV = "TEECUBE_TEST_ENGINE_KEY"
ENGINE_MODEL = "SmolLM2-135M-Instruct"
PEPPER = secrets.token_hex(32).encode()
# The proxy salts requests to teecube/openai upstreams with `cache_salt`; an engine from before
# that field rejects it, so proxy_config turns the salt off until the engine fixture finds it
# accepted (tests of the salt itself set prefix_cache_isolation explicitly). An environment
# variable, as test modules import this file under a second module name.
ENGINE_CACHE_SALT_ENV = "TEECUBE_TEST_ENGINE_ACCEPTS_CACHE_SALT"


class CapturingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a broken record must not break the test run
            self.lines.append(str(record.msg))


@pytest.fixture(scope="session")
def log_capture() -> Iterator[CapturingHandler]:
    handler = CapturingHandler()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


@dataclass
class EngineProcess:
    socket: Path
    log_path: Path
    proc: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, str]:
        async def send() -> tuple[int, str]:
            connector = aiohttp.UnixConnector(path=str(self.socket))
            headers = {"Authorization": f"Bearer {os.environ[ENGINE_KEY_ENV]}"}
            async with aiohttp.ClientSession(connector=connector) as session, session.post(
                f"http://localhost{path}", json=body, headers=headers
            ) as resp:
                return resp.status, await resp.text()

        return asyncio.run(send())

    def accepts_cache_salt(self) -> bool:
        """Whether this engine takes vLLM's `cache_salt` field (a 400 naming it: not yet)."""
        status, text = self.post("/v1/completions", {"model": ENGINE_MODEL, "prompt": "hi", "max_tokens": 1,
                                                     "cache_salt": "probe"})
        return not (status == 400 and "cache_salt" in text)

    def get(self, path: str) -> tuple[int, str]:
        async def fetch() -> tuple[int, str]:
            connector = aiohttp.UnixConnector(path=str(self.socket))
            async with aiohttp.ClientSession(connector=connector) as session, session.get(
                f"http://localhost{path}"
            ) as resp:
                return resp.status, await resp.text()

        return asyncio.run(fetch())


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    workdir = tmp_path_factory.mktemp("engine")
    sock = workdir / "engine.sock"
    log_path = workdir / "engine.log"
    os.environ[ENGINE_KEY_ENV] = secrets.token_urlsafe(24)
    env = os.environ | {"TEECUBE_ENGINE_API_KEY": os.environ[ENGINE_KEY_ENV]}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "teecube.cli", "engine", "--model", "bundled", "--uds", str(sock),
             "--max-model-len", "2048", "--max-num-seqs", "64", "--log-level", "debug"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    handle = EngineProcess(sock, log_path, proc)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, handle.log_text()[-2000:]
        if sock.exists():
            try:
                if handle.get("/health")[0] == 200:
                    break
            except (aiohttp.ClientError, OSError):
                pass
        time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("engine did not start")
    os.environ[ENGINE_CACHE_SALT_ENV] = "1" if handle.accepts_cache_salt() else "0"
    yield handle
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def database_url_for(backend: str, tmp_path_factory: pytest.TempPathFactory, tag: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp(tag) / 'teecube.db'}"
    else:
        yield from fresh_postgres_database(f"teecube_test_proxy_{tag}_{os.getpid()}")


@dataclass
class Tenancy:
    """Operator actions for a test: domains, deployments, grants and keys in a real DB."""

    url: str
    actor: str = "test:operator"
    keys: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        db.upgrade(self.url)
        self.factory = db.session_factory(self.url)

    def domain(self, name: str, **kwargs: Any) -> None:
        with self.factory.begin() as s:
            create_domain(s, name, self.actor, **kwargs)

    def deployment(self, name: str, url: str, served: str = ENGINE_MODEL, **kwargs: Any) -> None:
        with self.factory.begin() as s:
            add_deployment(s, name, kwargs.pop("kind", "teecube"), url, served, self.actor,
                           credential_ref=kwargs.pop("credential_ref", f"env:{ENGINE_KEY_ENV}"), **kwargs)

    def grant(self, domain: str, alias: str, deployment: str, **limits: Any) -> None:
        with self.factory.begin() as s:
            grant_model(s, domain, alias, deployment, self.actor, **limits)

    def key(self, domain: str, label: str, **kwargs: Any) -> str:
        with self.factory.begin() as s:
            _, secret = create_key(s, domain, self.actor, name=label, pepper=PEPPER, **kwargs)
        self.keys[label] = secret
        return secret


class AppThread:
    """An aiohttp application on a loopback port, served from its own event-loop thread, so
    tests can drive it with synchronous clients. `stopping` is set when the server shuts down."""

    def __init__(self, build: Callable[[], Any], *, handler_cancellation: bool = False,
                 runner: Callable[..., Any] | None = None) -> None:
        self._build = build
        self._handler_cancellation = handler_cancellation
        self._runner = runner
        self.port = 0
        self.app: Any = None
        self.stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        from aiohttp import web

        self._loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        self.app = self._build()
        if self._runner is not None:
            runner = self._runner(self.app, handler_cancellation=self._handler_cancellation)
        else:
            runner = web.AppRunner(self.app, handler_cancellation=self._handler_cancellation, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        await self.started()
        self._ready.set()
        await self.stopping.wait()
        await runner.cleanup()
        await self.stopped()

    async def started(self) -> None:
        """Hook: more listeners on this loop once the app is up."""

    async def stopped(self) -> None:
        """Hook: stop what `started` started."""

    def start(self, timeout: float = 60) -> Self:
        self._thread.start()
        self._ready.wait(timeout)
        if self._error:
            raise self._error
        return self

    def call(self, coro) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(60)

    def stop(self) -> None:
        if self._loop and self.stopping:
            self._loop.call_soon_threadsafe(self.stopping.set)
        self._thread.join(60)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class ProxyThread(AppThread):
    """The proxy app (`create_app`) on the hardened tenant listener, with the operator metrics
    listener beside it (`metrics_url`) and a tenant-side `openai` client factory."""

    def __init__(self, config: ProxyConfig, *, extra_routes: list[Any] | None = None) -> None:
        runner = partial(HardenedRunner, header_timeout=config.header_timeout,
                         max_connections_per_address=config.max_connections_per_address)
        super().__init__(lambda: create_app(config, extra_routes=extra_routes), handler_cancellation=True,
                         runner=runner)
        self.config = config
        self.metrics_port = 0
        self._metrics_runner: Any = None

    async def started(self) -> None:
        from aiohttp import web

        metrics_app = create_metrics_app(self.app[METRICS], self.config.operator_token, "127.0.0.1",
                                         metrics_token=self.config.metrics_token)
        self._metrics_runner = web.AppRunner(metrics_app, access_log=None)
        await self._metrics_runner.setup()
        site = web.TCPSite(self._metrics_runner, "127.0.0.1", 0)
        await site.start()
        self.metrics_port = site._server.sockets[0].getsockname()[1]

    async def stopped(self) -> None:
        await self._metrics_runner.cleanup()

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def client(self, api_key: str, **kwargs: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.base_url}/v1", api_key=api_key, max_retries=0,
                             timeout=120, **kwargs)


def proxy_config(url: str, **over: Any) -> ProxyConfig:
    base: dict[str, Any] = dict(database_url=url, pepper=PEPPER, tls=False, cache_ttl=0.5,
                                auth_failure_limit=10_000, upstream_read_timeout=60,
                                prefix_cache_isolation=os.environ.get(ENGINE_CACHE_SALT_ENV) != "0")
    return ProxyConfig(**(base | over))
