"""A real engine server on the bundled model in a background thread, and a small HTTP helper."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.async_engine import AsyncEngine
from engine.config import EngineConfig
from engine.server.app import create_app
from engine.server.lifecycle import make_runner, start_site
from engine.server.settings import ServerConfig

MODEL = "smol"
API_KEY = "test-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@dataclass
class RunningServer:
    base_url: str
    engine: AsyncEngine
    config: ServerConfig
    uds: str | None
    loop: asyncio.AbstractEventLoop

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
        """Poll until predicate() holds (bounded); returns whether it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()

    def all_blocks_free(self) -> bool:
        s = self.engine.stats()
        return s.free_blocks == s.total_blocks and s.num_running == 0 and s.num_waiting == 0


def start_server(
    model_path: Path, server_config: ServerConfig, uds: str | None = None, **engine_fields: Any
) -> tuple[RunningServer, Callable[[], None]]:
    async_scheduling = engine_fields.pop("async_scheduling", None)  # True: a step in flight even on CPU
    config = EngineConfig(model=str(model_path), served_model_name=MODEL, **engine_fields)
    engine = AsyncEngine(config, async_scheduling=async_scheduling)
    app = create_app(engine, server_config)
    runner = make_runner(app, server_config)
    loop = asyncio.new_event_loop()
    ready: dict[str, Any] = {}

    async def setup() -> None:
        await runner.setup()
        await start_site(runner, ServerConfig(host="127.0.0.1", port=0))
        if uds:
            await start_site(runner, ServerConfig(uds=uds))
        ready["port"] = next(a[1] for a in runner.addresses if isinstance(a, tuple))

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(setup())
        except BaseException as exc:
            ready["error"] = exc
            return
        finally:
            started.set()
        loop.run_forever()

    started = threading.Event()
    thread = threading.Thread(target=run, name="engine-server", daemon=True)
    thread.start()
    started.wait()
    if "error" in ready:
        raise ready["error"]
    server = RunningServer(f"http://127.0.0.1:{ready['port']}", engine, server_config, uds, loop)

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=120)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)

    return server, stop


def http(
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    method: str | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One request with urllib: (status, headers, JSON body or text)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            status, hdrs, payload = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, hdrs, payload = err.code, dict(err.headers), err.read()
    try:
        return status, hdrs, json.loads(payload)
    except ValueError:
        return status, hdrs, payload.decode()
