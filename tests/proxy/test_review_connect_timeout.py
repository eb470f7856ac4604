"""An upstream that never accepts the connection (its accept queue full: the kernel drops the SYNs) runs
into the pool's connect timeout: the tenant gets a 504, and since nothing was sent the request is not
marked forwarded, so it is charged 0 tokens like a refused connection (before: the prompt estimate)."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest

from proxy.errors import ApiError
from proxy.forward import relay
from proxy.forward.relay import Outcome
from proxy.forward.upstream import Upstream, UpstreamPool
from proxy.routes.openai import _charged


async def _post_to_a_full_listener(connect_timeout: float) -> tuple[ApiError, Outcome]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):  # fill the accept queue: later SYNs are dropped, so connect() hangs
        c = socket.socket()
        c.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            c.connect(("127.0.0.1", port))
        fillers.append(c)
    await asyncio.sleep(0.2)
    pool = UpstreamPool(connect_timeout=connect_timeout)
    outcome = Outcome()
    try:
        with pytest.raises(ApiError) as err:
            await relay._post(pool, Upstream(f"http://127.0.0.1:{port}"), "/v1/chat/completions",
                              {"model": "m"}, "req-1", outcome)
    finally:
        await pool.close()
        for c in fillers:
            c.close()
        server.close()
    return err.value, outcome


def test_a_connect_timeout_is_a_504_and_not_forwarded() -> None:
    error, outcome = asyncio.run(_post_to_a_full_listener(0.5))
    assert error.status == 504 and error.code == "upstream_timeout"
    assert outcome.forwarded is False
    assert _charged(outcome, stream=False, prompt_estimate=1335, reserved=2000) == 0
