"""Chat completion bodies: whole (chat.completion) or streamed (chat.completion.chunk)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.server.chat_outputs import OutputParsers
from engine.server.chunks import ChunkEncoder
from engine.server.job import Job
from engine.server.protocol import ChatRequest
from engine.server.responses import chat_logprobs, choice, envelope, vllm_prompt_logprobs
from engine.server.streaming import SseWriter


async def chat_response(job: Job, req: ChatRequest, parsers: OutputParsers | None = None) -> web.Response:
    parsers = parsers or OutputParsers()
    prompt_lps = None
    async for _, out in job.gen.stream():
        job.accumulate(0, out.outputs, keep=True)
        prompt_lps = out.prompt_logprobs or prompt_lps
    choices = []
    for i, c in enumerate(job.choices):
        lps = chat_logprobs(job.texts, c.logprobs, req.top_logprobs) if req.logprobs else None
        text = "".join(c.text)
        if parsers.active:
            message = parsers.message(text)
            reason = parsers.finish_reason(c.finish_reason, "tool_calls" in message)
        else:
            message, reason = {"role": "assistant", "content": text}, c.finish_reason
        choices.append(choice(i, "message", message, lps, reason, c.stop_reason))
    job.log_done()
    body = envelope("chat.completion", job.response_id, job.created, job.model, choices, job.usage())
    if req.prompt_logprobs is not None:  # vLLM: on the response, not per choice
        body["prompt_logprobs"] = vllm_prompt_logprobs(job.texts, prompt_lps, req.prompt_logprobs)
    return web.json_response(body)


async def chat_stream(job: Job, req: ChatRequest, parsers: OutputParsers | None = None) -> web.StreamResponse:
    parsers = parsers or OutputParsers()
    sse = SseWriter(job.request, job.request_id, usage=job.usage if req.continuous_usage else None)
    streams = [parsers.stream() for _ in range(job.n)] if parsers.active else []

    def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> dict[str, Any]:
        body = envelope("chat.completion.chunk", job.response_id, job.created, job.model, choices, usage)
        if not req.include_usage:
            del body["usage"]
        return body

    fast = None  # the common case (no tool parsing or logprobs): chunks as bytes
    if not streams and not req.logprobs:
        fast = ChunkEncoder(
            "chat.completion.chunk",
            job.response_id,
            job.created,
            job.model,
            include_usage=req.include_usage,
            key="delta",
        )
    try:
        role = {"role": "assistant", "content": ""}
        await sse.send(chunk([choice(i, "delta", role, None, None) for i in range(job.n)]))
        async for _, out in job.gen.stream():
            job.accumulate(0, out.outputs, keep=False)
            if fast is not None:
                await sse.send_bytes(
                    fast.event(
                        [
                            fast.choice(
                                o.index,
                                o.text if o.text or o.finish_reason is None else None,
                                o.finish_reason,
                                o.stop_reason,
                            )
                            for o in out.outputs
                        ],
                        job.usage() if req.continuous_usage else None,
                    )
                )
                continue
            choices = []
            for o in out.outputs:
                lps = None
                if req.logprobs and o.logprobs:
                    lps = chat_logprobs(job.texts, o.logprobs, req.top_logprobs)
                reason = o.finish_reason
                if streams:
                    stream = streams[o.index]
                    delta = stream.feed(o.text, final=reason is not None)
                    reason = parsers.finish_reason(reason, stream.has_calls)
                    if not delta and lps is None and reason is None:
                        continue
                else:
                    delta = {"content": o.text} if o.text or reason is None else {}
                choices.append(choice(o.index, "delta", delta, lps, reason, o.stop_reason))
            if choices:
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
