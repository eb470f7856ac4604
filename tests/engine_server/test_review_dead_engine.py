"""Review: once the engine loop has died, a new streamed request is a 503 JSON error, not a 200 stream
whose only event is the error (its own server: this module kills the engine)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from server_harness import MODEL, RunningServer, http

from engine.server.settings import ServerConfig


@pytest.fixture(scope="module")
def server(server_factory: Callable[..., RunningServer]) -> RunningServer:
    return server_factory(ServerConfig(), max_model_len=256, num_kv_blocks=64)


def test_streams_after_the_engine_died_are_503_json(server: RunningServer) -> None:
    def broken_step(stream: bool = True) -> list:
        raise RuntimeError("injected failure in the engine step")

    server.engine.engine.step = broken_step  # type: ignore[union-attr, method-assign]
    body = {"model": MODEL, "prompt": "Hi", "max_tokens": 4}
    assert http(server.base_url + "/v1/completions", body)[0] == 503  # the step that dies
    assert server.wait_for(lambda: server.engine.is_dead, 10)
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "stream": True}
    for path, payload in (("/v1/chat/completions", chat), ("/v1/completions", {**body, "stream": True})):
        status, headers, answer = http(server.base_url + path, payload)
        assert status == 503, answer
        assert headers["Content-Type"].startswith("application/json")
        assert answer["error"]["code"] == "engine_dead"
