"""`read_sse` bounds an event, not only a line (review): an upstream that sends `data:` lines
without ever ending the event (no blank line) grew the proxy's memory without bound, the lines
kept until the upstream stopped; now an event over MAX_SSE_LINE bytes is a payload error, as an
over-long line is (the relay ends the stream with an error event)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from proxy.forward.relay import MAX_SSE_LINE, read_sse


class _Content:
    def __init__(self, pieces: Any) -> None:
        self.pieces = pieces
        self.reads = 0

    async def readany(self) -> bytes:
        self.reads += 1
        return next(self.pieces, b"")


class _Resp:
    def __init__(self, pieces: Any) -> None:
        self.content = _Content(pieces)


async def _collect(pieces: Any) -> tuple[list[str], int]:
    resp: Any = _Resp(iter(pieces))
    return [e async for e in read_sse(resp)], resp.content.reads


def test_an_endless_event_of_short_lines_is_a_payload_error() -> None:
    line = b"data: " + b"x" * 1000 + b"\n"
    pieces = (line * 64 for _ in range(10_000))  # 640 MB if it were all read
    with pytest.raises(aiohttp.ClientPayloadError):
        asyncio.run(_collect(pieces))


def test_reads_stop_soon_after_the_bound() -> None:
    line = b"data: " + b"x" * 1000 + b"\n"
    resp: Any = _Resp(iter([line * 64] * 10_000))

    async def run() -> None:
        async for _ in read_sse(resp):
            pass

    with pytest.raises(aiohttp.ClientPayloadError):
        asyncio.run(run())
    assert resp.content.reads * 64 * len(line) < 2 * MAX_SSE_LINE


def test_many_events_of_any_total_size_are_fine() -> None:
    event = b"data: " + b"y" * 1000 + b"\n\n"
    events, _ = asyncio.run(_collect([event * 1000] * 10))  # 10 MB in all, 1 KB each
    assert len(events) == 10_000


def test_a_large_event_under_the_bound_passes() -> None:
    body = b"data: " + b"z" * 1000 + b"\n"
    events, _ = asyncio.run(_collect([body * 1000, b"\n"]))
    assert len(events) == 1 and len(events[0]) == 1000 * 1000 + 999
