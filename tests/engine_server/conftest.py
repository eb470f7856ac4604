"""Fixtures: real engine servers on the bundled model (the model loads once per server)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from server_harness import API_KEY, RunningServer, start_server

from engine.server.settings import ServerConfig


@pytest.fixture(scope="module")
def server_factory(bundled_model: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start servers for one module; all stop when the module is done."""
    stops: list[Callable[[], None]] = []

    def make(server_config: ServerConfig, uds: str | None = None, **engine_fields: Any) -> RunningServer:
        server, stop = start_server(bundled_model, server_config, uds, **engine_fields)
        stops.append(stop)
        return server

    yield make
    for stop in stops:
        stop()


@pytest.fixture(scope="session")
def api_server(bundled_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Shared by the SDK and raw-HTTP modules: --api-key, a 64 KiB body limit, a Unix socket too."""
    uds = str(tmp_path_factory.mktemp("uds") / "engine.sock")
    config = ServerConfig(api_key=API_KEY, max_request_body_bytes=64 * 1024)
    server, stop = start_server(bundled_model, config, uds, max_model_len=512, num_kv_blocks=256)
    yield server
    stop()
