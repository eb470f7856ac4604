"""A minimal OpenAI-compatible upstream for `teecube bench proxy`: answers at once with a fixed
completion, so that timing it directly and through the proxy isolates the proxy's cost.

`python -m proxy.bench_fake --port PORT [--chunks K]`: `/v1/chat/completions` and
`/v1/completions`, JSON or SSE (K content chunks, a usage chunk when asked, `[DONE]`).
"""

from __future__ import annotations

import argparse
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


def create_app(chunks: int = 16) -> web.Application:
    answers = prebuilt(chunks)

    async def complete(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        chat = request.path.endswith("/chat/completions")
        stream = bool(body.get("stream"))
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        payload = answers[(chat, stream, usage)]
        if not stream:
            return web.Response(body=payload, content_type="application/json")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        await resp.write(payload)
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
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    web.run_app(create_app(args.chunks), host=args.host, port=args.port, access_log=None, print=None,
                backlog=1024)
    return 0


if __name__ == "__main__":
    sys.exit(main())
