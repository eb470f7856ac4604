"""`read_sse`: the same events however the upstream's bytes are split, and one flush per read."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from proxy.forward.relay import MAX_SSE_LINE, read_sse

STREAM = (
    b'data: {"a": 1}\n\n'
    b"event: ignored\r\n"
    b'data: {"b":\r\n'
    b"data: 2}\r\n\r\n"
    b": a comment\n\n"
    b"data:caf\xc3\xa9\n\n"
    b"data: [DONE]\n\n"
)
EVENTS = ['{"a": 1}', '{"b":\n2}', "café", "[DONE]"]


class _Content:
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = list(pieces)
        self.reads = 0

    async def readany(self) -> bytes:
        self.reads += 1
        return self.pieces.pop(0) if self.pieces else b""


class _Resp:
    def __init__(self, pieces: list[bytes]) -> None:
        self.content = _Content(pieces)


async def _collect(pieces: list[bytes]) -> tuple[list[str], list[tuple[int, int]]]:
    resp: Any = _Resp(pieces)
    events: list[str] = []
    flushes: list[tuple[int, int]] = []

    async def flush() -> None:
        flushes.append((resp.content.reads, len(events)))

    async for event in read_sse(resp, flush):
        events.append(event)
    return events, flushes


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16, len(STREAM)])
def test_same_events_for_every_split(size: int) -> None:
    pieces = [STREAM[i:i + size] for i in range(0, len(STREAM), size)]
    events, _ = asyncio.run(_collect(pieces))
    assert events == EVENTS


def test_one_flush_per_read_after_its_events() -> None:
    events, flushes = asyncio.run(_collect([STREAM[:20], STREAM[20:], b"data: tail"]))
    assert events == [*EVENTS, "tail"]  # an unterminated last event still counts
    # Flushed after read 1 (one event so far) and read 2 (all four); read 3 has no newline.
    assert flushes == [(1, 1), (2, 4)]


def test_a_burst_of_events_is_one_flush() -> None:
    burst = b"".join(b"data: %d\n\n" % i for i in range(50))
    events, flushes = asyncio.run(_collect([burst]))
    assert events == [str(i) for i in range(50)] and flushes == [(1, 50)]


def test_an_endless_line_is_a_payload_error() -> None:
    pieces = [b"data: " + b"x" * (1024 * 1024)] * 5
    with pytest.raises(aiohttp.ClientPayloadError):
        asyncio.run(_collect(pieces))
    assert MAX_SSE_LINE < 5 * 1024 * 1024


def test_one_event_per_read_gives_the_same_events() -> None:
    # A busy engine's stream reaches the proxy one event per read (the reader's fast path).
    stream = STREAM + b'data:  {"c": 3}\n\n' + b"data:x\r\n\r\n" + b"data: y\n\ndata: z\n\n"
    whole, _ = asyncio.run(_collect([bytes([b]) for b in stream]))  # never one whole event per read
    pieces = [p + b"\n\n" for p in stream.split(b"\n\n") if p]
    events, flushes = asyncio.run(_collect(pieces))
    assert events == whole == [*EVENTS, ' {"c": 3}'.lstrip(), "x", "y", "z"]
    # one flush per read, after that read's events (read 6 holds "x" and "y")
    assert flushes == [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 7), (7, 8)]
