"""Chat completion bodies: whole (chat.completion) or streamed (chat.completion.chunk)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.server.job import Job
from engine.server.protocol import ChatRequest
from engine.server.responses import chat_logprobs, choice, envelope
from engine.server.streaming import SseWriter


async def chat_response(job: Job, req: ChatRequest) -> web.Response:
    async for _, out in job.gen.stream():
        job.accumulate(0, out.outputs, keep=True)
    choices = []
    for i, c in enumerate(job.choices):
        lps = chat_logprobs(job.texts, c.logprobs, req.top_logprobs) if req.logprobs else None
        message = {"role": "assistant", "content": "".join(c.text)}
        choices.append(choice(i, "message", message, lps, c.finish_reason, c.stop_reason))
    job.log_done()
    return web.json_response(
        envelope("chat.completion", job.response_id, job.created, job.model, choices, job.usage())
    )


async def chat_stream(job: Job, req: ChatRequest) -> web.StreamResponse:
    sse = SseWriter(job.request, job.request_id, usage=job.usage if req.continuous_usage else None)

    def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> dict[str, Any]:
        body = envelope("chat.completion.chunk", job.response_id, job.created, job.model, choices, usage)
        if not req.include_usage:
            del body["usage"]
        return body

    try:
        role = {"role": "assistant", "content": ""}
        await sse.send(chunk([choice(i, "delta", role, None, None) for i in range(job.n)]))
        async for _, out in job.gen.stream():
            job.accumulate(0, out.outputs, keep=False)
            choices = []
            for o in out.outputs:
                lps = None
                if req.logprobs and o.logprobs:
                    lps = chat_logprobs(job.texts, o.logprobs, req.top_logprobs)
                delta = {"content": o.text} if o.text or o.finish_reason is None else {}
                choices.append(choice(o.index, "delta", delta, lps, o.finish_reason, o.stop_reason))
            await sse.send(chunk(choices))
        if req.include_usage:
            await sse.send(chunk([], job.usage()))
        await sse.done()
        job.log_done()
    except ConnectionError:
        job.log_disconnect()
    except Exception as exc:
        await sse.fail(exc, job.request_id)
    return sse.response
