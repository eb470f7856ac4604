"""The engine behind the proxy: a bounded queue by default (what `teecube serve` starts), and no
`Server:` version banner."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from engine.cli import build_parser, configs
from engine.server.settings import DEFAULT_MAX_QUEUE_SIZE, ServerConfig


def test_the_engine_queue_is_bounded_by_default() -> None:
    args = build_parser().parse_args(["--model", "bundled"])
    _, server = configs(args)
    assert server.max_queue_size == DEFAULT_MAX_QUEUE_SIZE == ServerConfig().max_queue_size
    assert 0 < DEFAULT_MAX_QUEUE_SIZE <= 4096


@pytest.mark.slow  # starts the proxy's engine
def test_the_engine_sends_no_version_banner(engine) -> None:
    async def server_header() -> str:
        connector = aiohttp.UnixConnector(path=str(engine.socket))
        async with aiohttp.ClientSession(connector=connector) as session, session.get(
            "http://localhost/health"
        ) as resp:
            return resp.headers.get("Server", "")

    banner = asyncio.run(server_header())
    assert banner == "teecube-engine" and "aiohttp" not in banner and "Python" not in banner
