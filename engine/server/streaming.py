"""Server-sent events as OpenAI streams them: `data: <json>\n\n` ... `data: [DONE]\n\n`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from engine.server.errors import from_exception, internal_error, log_internal

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


def encode_event(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"


def continuous_usage_requested(body: Any) -> bool:
    """vLLM's `stream_options: {include_usage: true, continuous_usage_stats: true}`."""
    options = body.get("stream_options") if isinstance(body, dict) else None
    return (
        isinstance(options, dict)
        and options.get("include_usage") is True
        and (options.get("continuous_usage_stats") is True)
    )


class SseWriter:
    """One SSE response. A write to a client that has gone raises ConnectionResetError.

    `usage` (continuous usage stats): every chunk with choices carries the usage so far, so a
    client that stops reading mid-stream (the proxy, when its tenant goes) knows what was generated.
    """

    def __init__(
        self, request: web.Request, request_id: str, usage: Callable[[], dict[str, int]] | None = None
    ) -> None:
        self.request = request
        self.usage = usage
        self.response = web.StreamResponse(status=200, headers={**SSE_HEADERS, "x-request-id": request_id})
        self.response.enable_chunked_encoding()

    @property
    def started(self) -> bool:
        return self.response.prepared

    async def start(self) -> None:
        await self.response.prepare(self.request)

    async def send(self, obj: Any) -> None:
        if not self.started:
            await self.start()
        if self.usage is not None and isinstance(obj, dict) and obj.get("choices"):
            obj["usage"] = self.usage()
        await self.response.write(encode_event(obj))

    async def send_bytes(self, data: bytes) -> None:
        """An event already encoded (engine/server/chunks.py); not for continuous usage."""
        if not self.started:
            await self.start()
        await self.response.write(data)

    async def done(self) -> None:
        if not self.started:
            await self.start()
        await self.response.write(DONE)
        await self.response.write_eof()

    async def fail(self, exc: Exception, request_id: str) -> None:
        """An error after the stream began: one error event (as vLLM and OpenAI send), then [DONE]."""
        err = from_exception(exc)
        if err is None:
            log_internal(exc, request_id)
            err = internal_error(request_id)
        try:
            await self.send(err.body())
            await self.done()
        except ConnectionError:
            pass
