"""64 simultaneous greedy streams give the same text as each alone, and leave every KV block free."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from server_harness import MODEL, RunningServer, http

from engine.server.settings import ServerConfig

PROMPTS = [
    "Write a haiku about the sea.",
    "What is the capital of Italy?",
    "List three fruits.",
    "Say hello in French.",
    "Why is the sky blue?",
    "Count from one to five.",
    "Name a famous painter.",
    "Describe a cat in one sentence.",
]
COPIES = 8  # 8 prompts x 8 = 64 streams
MAX_TOKENS = 12


@pytest.fixture(scope="module")
def server(server_factory: Any) -> RunningServer:
    return server_factory(ServerConfig(), max_model_len=256, num_kv_blocks=512)


async def stream_text(client: openai.AsyncOpenAI, prompt: str) -> tuple[str, int]:
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": prompt}],
        temperature=0,
        max_tokens=MAX_TOKENS,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, tokens = "", -1
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            tokens = chunk.usage.completion_tokens
    return text, tokens


async def run(base_url: str) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    async with openai.AsyncOpenAI(base_url=base_url + "/v1", api_key="none", max_retries=0, timeout=300) as c:
        alone = [await stream_text(c, p) for p in PROMPTS]
        together = await asyncio.gather(*(stream_text(c, p) for _ in range(COPIES) for p in PROMPTS))
    return alone, list(together)


@pytest.mark.slow
def test_64_concurrent_streams_match_solo_runs_and_free_the_pool(server: RunningServer) -> None:
    alone, together = asyncio.run(run(server.base_url))
    assert all(text and tokens > 0 for text, tokens in alone)
    assert len(together) == COPIES * len(PROMPTS)
    assert together == alone * COPIES
    assert server.wait_for(server.all_blocks_free, timeout=60)


@pytest.mark.slow
def test_health_turns_503_once_the_engine_loop_dies(server: RunningServer) -> None:
    """Runs last in this module: it kills the module's engine by making its next step fail."""
    assert http(server.base_url + "/health")[0] == 200

    def broken_step(stream: bool = True) -> list:
        raise RuntimeError("injected failure in the engine step")

    server.engine.engine.step = broken_step  # type: ignore[union-attr, method-assign]
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
    status, _, payload = http(server.base_url + "/v1/chat/completions", body)
    assert status == 503 and payload["error"]["code"] == "engine_dead"
    assert "injected" not in payload["error"]["message"]
    assert http(server.base_url + "/health")[0] == 503
    assert http(server.base_url + "/v1/chat/completions", body)[0] == 503
