"""A minimal OpenAI-compatible upstream for `teecube bench proxy`: answers at once with a fixed
completion, so that timing it directly and through the proxy isolates the proxy's cost.

`python -m proxy.bench_fake --port PORT [--chunks K]`: `/v1/chat/completions` and
`/v1/completions`, JSON or SSE (K content chunks, a usage chunk when asked, `[DONE]`).

`--interval S` writes a stream one chunk at a time, S seconds apart (0: all at once, one write),
as an engine does at one token per step: many concurrent streams then reach the proxy as many
small reads instead of one burst each. `--answer ids` streams what the engine sends without a
tokenizer (empty text and the chunk's `token_ids`), and a request asking for
`continuous_usage_stats` gets usage on every chunk, as from vLLM or teecube's engine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from aiohttp import web

MODEL = "fake-model"
WORD = " token"


def _usage(chunks: int) -> dict[str, int]:
    return {"prompt_tokens": 32, "completion_tokens": chunks, "total_tokens": 32 + chunks}


def _choice(chat: bool, text: str, finish: str | None, *, stream: bool) -> dict[str, Any]:
    if not chat:
        return {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}
    key = "delta" if stream else "message"
    message = {"role": "assistant", "content": text}
    return {"index": 0, key: message, "logprobs": None, "finish_reason": finish}


def prebuilt(chunks: int) -> dict[tuple[bool, bool, bool], bytes]:
    """Every answer as bytes, keyed by (chat, stream, include_usage): nothing is built per request."""
    out: dict[tuple[bool, bool, bool], bytes] = {}
    for chat in (True, False):
        obj = "chat.completion" if chat else "text_completion"
        full = {"id": "cmpl-fake", "object": obj, "created": 0, "model": MODEL,
                "choices": [_choice(chat, WORD * chunks, "length", stream=False)], "usage": _usage(chunks)}
        body = json.dumps(full).encode()
        out[(chat, False, False)] = out[(chat, False, True)] = body
        sobj = "chat.completion.chunk" if chat else "text_completion"
        events = []
        for i in range(chunks):
            finish = "length" if i == chunks - 1 else None
            chunk = {"id": "cmpl-fake", "object": sobj, "created": 0, "model": MODEL,
                     "choices": [_choice(chat, WORD, finish, stream=True)]}
            events.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        usage = {"id": "cmpl-fake", "object": sobj, "created": 0, "model": MODEL, "choices": [],
                 "usage": _usage(chunks)}
        done = b"data: [DONE]\n\n"
        out[(chat, True, False)] = b"".join(events) + done
        out[(chat, True, True)] = b"".join(events) + b"data: " + json.dumps(usage).encode() + b"\n\n" + done
    return out


def paced_events(chunks: int, *, chat: bool, ids: bool, include_usage: bool, continuous: bool) -> list[bytes]:
    """A stream's events one by one, in the engine's compact layout (`engine/server/chunks.py`)."""
    obj = "chat.completion.chunk" if chat else "text_completion"
    head = {"id": "cmpl-fake", "object": obj, "created": 0, "model": MODEL}
    events = []
    for i in range(chunks):
        choice = _choice(chat, "" if ids else WORD, "length" if i == chunks - 1 else None, stream=True)
        if chat:
            choice["delta"] = {"content": choice["delta"]["content"]}
        if ids:
            choice["token_ids"] = [1000 + i % 50]
        chunk: dict[str, Any] = {**head, "choices": [choice]}
        if continuous:
            chunk["usage"] = {"prompt_tokens": 32, "completion_tokens": i + 1, "total_tokens": 33 + i}
        events.append(b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n")
    if include_usage:
        events.append(b"data: " + json.dumps({**head, "choices": [], "usage": _usage(chunks)},
                                             separators=(",", ":")).encode() + b"\n\n")
    return [*events, b"data: [DONE]\n\n"]


def create_app(chunks: int = 16, *, interval: float = 0.0, ids: bool = False) -> web.Application:
    answers = prebuilt(chunks)
    paced = {(chat, usage, cont): paced_events(chunks, chat=chat, ids=ids, include_usage=usage,
                                               continuous=cont)
             for chat in (True, False) for usage in (True, False) for cont in (True, False)}

    async def complete(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        chat = request.path.endswith("/chat/completions")
        stream = bool(body.get("stream"))
        options = body.get("stream_options") or {}
        usage = bool(options.get("include_usage"))
        continuous = usage and bool(options.get("continuous_usage_stats"))
        if not stream:
            return web.Response(body=answers[(chat, False, usage)], content_type="application/json")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        if interval > 0 or ids or continuous:
            for event in paced[(chat, usage, continuous)]:
                await resp.write(event)
                if interval > 0:
                    await asyncio.sleep(interval)
        else:
            await resp.write(answers[(chat, stream, usage)])
        await resp.write_eof()
        return resp

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", complete)
    app.router.add_post("/v1/completions", complete)
    app.router.add_get("/health", health)
    app.router.add_get("/v1/models", models)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proxy.bench_fake", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunks", type=int, default=16, help="content chunks per streamed answer")
    parser.add_argument("--interval", type=float, default=0.0, help="seconds between streamed chunks")
    parser.add_argument("--answer", choices=["text", "ids"], default="text",
                        help="ids: empty text and token_ids per chunk (an engine without a tokenizer)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    app = create_app(args.chunks, interval=args.interval, ids=args.answer == "ids")
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None,
                backlog=1024)
    return 0


if __name__ == "__main__":
    sys.exit(main())
