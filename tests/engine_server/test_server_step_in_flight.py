"""The server on the engine's loop with a step in flight (as on a GPU, forced on CPU): concurrent streams
with stop strings, n > 1 and logprobs give what each gives alone and what the synchronous loop gives;
a client that goes away frees its blocks."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import openai
import pytest
from server_harness import AUTH, MODEL, RunningServer

from engine.server.settings import ServerConfig

pytestmark = pytest.mark.slow  # its own engine server (test_async_engine covers step-in-flight)

PROMPTS = ["Write a haiku about the sea.", "Why is the sky blue?"]
CHAT = "/v1/chat/completions"


@pytest.fixture(scope="module")
def servers(server_factory: Any) -> dict[bool, RunningServer]:
    return {
        overlapped: server_factory(
            ServerConfig(), max_model_len=256, num_kv_blocks=256, async_scheduling=overlapped
        )
        for overlapped in (False, True)
    }


async def one(client: openai.AsyncOpenAI, prompt: str, **kw: Any) -> list[tuple[int, str, str | None]]:
    stream = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": prompt}], stream=True, **kw
    )
    texts: dict[int, str] = {}
    reasons: dict[int, str | None] = {}
    async for chunk in stream:
        for c in chunk.choices:
            texts[c.index] = texts.get(c.index, "") + (c.delta.content or "")
            reasons[c.index] = c.finish_reason or reasons.get(c.index)
    return [(i, texts[i], reasons[i]) for i in sorted(texts)]


def kinds() -> list[dict[str, Any]]:
    return [
        dict(temperature=0, max_tokens=10),
        dict(temperature=0, max_tokens=10, stop=["e"]),
        dict(temperature=0.9, seed=3, n=2, max_tokens=8),
        dict(
            temperature=0, max_tokens=8, logprobs=True, top_logprobs=2, extra_body={"repetition_penalty": 1.2}
        ),
    ]


async def run_all(server: RunningServer) -> tuple[list, list]:
    async with openai.AsyncOpenAI(base_url=server.base_url + "/v1", api_key="none", max_retries=0) as client:
        alone = [await one(client, p, **k) for p in PROMPTS for k in kinds()]
        together = await asyncio.gather(*(one(client, p, **k) for p in PROMPTS for k in kinds()))
    return alone, list(together)


def test_concurrent_streams_match_solo_runs_and_the_synchronous_loop(
    servers: dict[bool, RunningServer],
) -> None:
    results = {}
    for overlapped, server in servers.items():
        alone, together = asyncio.run(run_all(server))
        assert together == alone
        assert server.wait_for(server.all_blocks_free, timeout=60)
        results[overlapped] = alone
    assert results[True] == results[False]
    assert any(reason == "stop" for r in results[True] for _, _, reason in r)


async def drop_mid_stream(server: RunningServer) -> int:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 200,
        "ignore_eos": True,
        "stream": True,
    }
    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with session.post(server.base_url + CHAT, json=body) as resp:
            seen = 0
            async for line in resp.content:
                seen += line.startswith(b"data: ")
                if seen >= 3:
                    break
            free = server.engine.stats().free_blocks
            resp.connection.transport.abort()
    return free


def test_a_dropped_stream_frees_its_blocks(servers: dict[bool, RunningServer]) -> None:
    server = servers[True]
    assert asyncio.run(drop_mid_stream(server)) < server.engine.stats().total_blocks
    assert server.wait_for(server.all_blocks_free, timeout=60)
