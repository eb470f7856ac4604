"""The server with the engine core in its own process (`--engine-core-process on`, forced on CPU) answers
as the thread-mode server does: chat and completions, streamed and whole, n > 1, stop strings,
logprobs, JSON schemas; a client that disconnects frees its blocks in the core; a killed core process
is a 503 (and /health 503) for waiting and later requests, without a hang."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import aiohttp
import openai
import pytest
import torch
from pydantic import BaseModel
from server_harness import MODEL, RunningServer, http

from engine.server.settings import ServerConfig

pytestmark = pytest.mark.slow

MESSAGES = [{"role": "user", "content": "Name three colours."}]
PROMPT = "One, two, three, four, five,"
ENGINE = dict(max_model_len=512, num_kv_blocks=256)


class Colour(BaseModel):
    name: str
    hex: str


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread for both cores (a process-mode core takes the server's count): two threads
    spin against each other on a shared 2-core box."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def servers(one_thread: None, server_factory: Any) -> tuple[RunningServer, RunningServer]:
    on = server_factory(ServerConfig(), engine_core_process="on", **ENGINE)
    off = server_factory(ServerConfig(), engine_core_process="off", **ENGINE)
    assert on.engine.core_pid is not None and off.engine.core_pid is None
    return on, off


@pytest.fixture(scope="module")
def clients(servers: tuple[RunningServer, RunningServer]) -> Iterator[list[openai.OpenAI]]:
    made = [
        openai.OpenAI(base_url=s.base_url + "/v1", api_key="x", max_retries=0, timeout=120) for s in servers
    ]
    yield made
    for c in made:
        c.close()


def both(clients: list[openai.OpenAI], call: Any) -> tuple[Any, Any]:
    on, off = (call(c) for c in clients)
    return on, off


def dump(resp: Any) -> Any:
    """The response without what differs between two servers (ids, timestamps)."""
    if isinstance(resp, list):
        return [dump(r) for r in resp]
    return resp.model_dump(exclude={"id", "created", "system_fingerprint"})


def test_chat_and_completions_match_thread_mode(clients: list[openai.OpenAI]) -> None:
    def chat(c: openai.OpenAI, **kw: Any) -> Any:
        kw.setdefault("temperature", 0)
        return c.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=12, **kw)

    def complete(c: openai.OpenAI, **kw: Any) -> Any:
        return c.completions.create(model=MODEL, prompt=PROMPT, temperature=0, max_tokens=16, **kw)

    on, off = both(clients, chat)
    assert on.choices[0].message.content and dump(on) == dump(off)
    on, off = both(clients, lambda c: list(chat(c, stream=True, stream_options={"include_usage": True})))
    assert dump(on) == dump(off)
    on, off = both(clients, lambda c: chat(c, n=2, seed=5, temperature=1.0, logprobs=True, top_logprobs=2))
    assert len(on.choices) == 2 and dump(on) == dump(off)
    on, off = both(clients, lambda c: list(complete(c, n=2, stream=True)))
    assert dump(on) == dump(off)
    on, off = both(clients, lambda c: complete(c, logprobs=2))
    assert dump(on) == dump(off)


def test_stop_string_frees_the_sequence_in_the_core(
    servers: tuple[RunningServer, RunningServer], clients: list[openai.OpenAI]
) -> None:
    full = clients[0].completions.create(model=MODEL, prompt=PROMPT, temperature=0, max_tokens=16)
    stop = full.choices[0].text.split()[2]
    on, off = both(
        clients,
        lambda c: c.completions.create(model=MODEL, prompt=PROMPT, temperature=0, max_tokens=16, stop=[stop]),
    )
    assert on.choices[0].finish_reason == "stop" and dump(on) == dump(off)
    assert on.choices[0].text == full.choices[0].text[: full.choices[0].text.index(stop)]
    assert servers[0].all_blocks_free()  # answered only once the core freed it


def test_json_schema_in_process_mode(clients: list[openai.OpenAI]) -> None:
    on, off = both(
        clients,
        lambda c: c.chat.completions.parse(
            model=MODEL, messages=MESSAGES, response_format=Colour, max_tokens=60, temperature=0
        ),
    )
    assert on.choices[0].finish_reason == "stop" and isinstance(on.choices[0].message.parsed, Colour)
    assert on.choices[0].message.content == off.choices[0].message.content


async def _read_some_then_drop(server: RunningServer, chunks: int) -> int:
    body = {"model": MODEL, "messages": MESSAGES, "max_tokens": 400, "ignore_eos": True, "stream": True}
    async with aiohttp.ClientSession() as session:
        async with session.post(server.base_url + "/v1/chat/completions", json=body) as resp:
            assert resp.status == 200
            seen = 0
            async for line in resp.content:
                seen += line.startswith(b"data: ")
                if seen >= chunks:
                    break
            used = server.engine.stats().total_blocks - server.engine.stats().free_blocks
            resp.connection.transport.abort()  # type: ignore[union-attr]
    return used


def test_client_disconnect_frees_blocks_in_the_core(servers: tuple[RunningServer, RunningServer]) -> None:
    server = servers[0]
    assert asyncio.run(_read_some_then_drop(server, chunks=3)) > 0
    assert server.wait_for(server.all_blocks_free, timeout=60)


def test_killed_core_is_503_for_waiting_and_later_requests(
    servers: tuple[RunningServer, RunningServer],
) -> None:
    """Runs last in this module: it kills the process-mode server's core."""
    server = servers[0]
    assert http(server.base_url + "/health")[0] == 200
    body = {"model": MODEL, "messages": MESSAGES, "max_tokens": 400, "ignore_eos": True}
    answers: dict[str, Any] = {}

    def ask(name: str, extra: dict[str, Any]) -> None:
        answers[name] = http(server.base_url + "/v1/chat/completions", {**body, **extra})

    threads = [
        threading.Thread(target=ask, args=("whole", {})),
        threading.Thread(target=ask, args=("stream", {"stream": True})),
    ]
    for t in threads:
        t.start()
    assert server.wait_for(lambda: server.engine.stats().num_running == 2, timeout=60)
    os.kill(server.engine.core_pid, signal.SIGKILL)  # type: ignore[arg-type]
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive()
    status, _, payload = answers["whole"]
    assert status == 503 and payload["error"]["code"] == "engine_dead"
    status, _, text = answers["stream"]  # began before the kill: an error event, then [DONE]
    events = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    assert status == 200 and events[-1] == "[DONE]"
    assert json.loads(events[-2])["error"]["code"] == "engine_dead"
    assert http(server.base_url + "/health")[0] == 503
    assert http(server.base_url + "/v1/chat/completions", body)[0] == 503
