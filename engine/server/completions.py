"""Text completion bodies (text_completion), whole or streamed; echo and completions-style logprobs."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.loader.dummy import has_tokenizer
from engine.server.chunks import ChunkEncoder
from engine.server.job import Job
from engine.server.protocol import CompletionRequest
from engine.server.responses import (
    choice,
    completion_logprobs,
    echo_logprobs,
    envelope,
    joined_logprobs,
    vllm_prompt_logprobs,
)
from engine.server.streaming import SseWriter


def _echo(job: Job, req: CompletionRequest, choice_index: int) -> str:
    """The prompt as given (vLLM): a text prompt verbatim, not its tokens decoded (which would add
    the BOS token a tokenizer prepends); token ids decoded."""
    if not req.echo:
        return ""
    given = req.prompts[choice_index // job.n]
    if isinstance(given, str):
        return given
    return job.state.engine.tokenizer.decode(given, skip_special_tokens=False)


def _with_token_ids(job: Job, body: dict[str, Any], token_ids: list[int]) -> dict[str, Any]:
    """Without a tokenizer the text is empty: each choice carries its token ids instead (as vLLM's
    `return_token_ids`; in a stream, the chunk's new ones)."""
    if not has_tokenizer(job.state.engine.tokenizer):
        body["token_ids"] = token_ids
    return body


def _prompt_logprobs(job: Job, req: CompletionRequest, prompt_index: int, entries: Any) -> dict[str, Any]:
    return echo_logprobs(job.texts, job.prompts[prompt_index], entries, req.logprobs or 0)


async def completion_response(job: Job, req: CompletionRequest) -> web.Response:
    token_ids: dict[int, list[int]] = {}
    prompt_lps: dict[int, Any] = {}  # echo with logprobs: each prompt's entries
    async for p, out in job.gen.stream():
        job.accumulate(p, out.outputs, keep=True)
        if out.prompt_logprobs is not None:
            prompt_lps[p] = out.prompt_logprobs
        for o in out.outputs:
            token_ids.setdefault(job.index(p, o), []).extend(o.token_ids)
    choices = []
    for i, c in enumerate(job.choices):
        prefix = _echo(job, req, i)
        lps = completion_logprobs(job.texts, c.logprobs, len(prefix)) if req.logprobs is not None else None
        if lps is not None and req.echo:
            lps = joined_logprobs(_prompt_logprobs(job, req, i // job.n, prompt_lps.get(i // job.n)), lps)
        body = choice(i, "text", prefix + "".join(c.text), lps, c.finish_reason, c.stop_reason)
        if req.prompt_logprobs is not None:
            entries = prompt_lps.get(i // job.n)
            body["prompt_logprobs"] = vllm_prompt_logprobs(job.texts, entries, req.prompt_logprobs)
        choices.append(_with_token_ids(job, body, token_ids.get(i, [])))
    job.log_done()
    return web.json_response(
        envelope("text_completion", job.response_id, job.created, job.model, choices, job.usage())
    )


async def completion_stream(job: Job, req: CompletionRequest) -> web.StreamResponse:
    sse = SseWriter(job.request, job.request_id, usage=job.usage if req.continuous_usage else None)

    def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> dict[str, Any]:
        body = envelope("text_completion", job.response_id, job.created, job.model, choices, usage)
        if not req.include_usage:
            del body["usage"]
        return body

    offsets = [0] * len(job.choices)  # text offset of each choice's next token (logprobs)
    fast = None  # the common case (no logprobs): chunks as bytes, no dicts
    if req.logprobs is None:
        fast = ChunkEncoder(
            "text_completion",
            job.response_id,
            job.created,
            job.model,
            include_usage=req.include_usage,
            key="text",
        )
    ids_out = not has_tokenizer(job.state.engine.tokenizer)
    # echo with logprobs: a prompt's echo waits for its prompt logprobs, which come with its first tokens
    echo_first = req.echo and req.logprobs is not None
    echoed: set[int] = set()
    try:
        if req.echo and not echo_first:
            for i in range(len(job.choices)):
                await sse.send(chunk([choice(i, "text", _echo(job, req, i), None, None)]))
        async for p, out in job.gen.stream():
            if echo_first and p not in echoed:
                echoed.add(p)
                lps = _prompt_logprobs(job, req, p, out.prompt_logprobs)
                for i in range(p * job.n, (p + 1) * job.n):
                    prefix = _echo(job, req, i)
                    offsets[i] = len(prefix)
                    await sse.send(chunk([choice(i, "text", prefix, lps, None)]))
            job.accumulate(p, out.outputs, keep=False)
            if fast is not None:
                await sse.send_bytes(
                    fast.event(
                        [
                            fast.choice(
                                job.index(p, o),
                                o.text,
                                o.finish_reason,
                                o.stop_reason,
                                list(o.token_ids) if ids_out else None,
                            )
                            for o in out.outputs
                        ],
                        job.usage() if req.continuous_usage else None,
                    )
                )
                continue
            choices = []
            for o in out.outputs:
                i = job.index(p, o)
                lps = None
                if req.logprobs is not None and o.logprobs:
                    lps = completion_logprobs(job.texts, o.logprobs, offsets[i])
                    offsets[i] = lps["text_offset"][-1] + len(lps["tokens"][-1])
                body = choice(i, "text", o.text, lps, o.finish_reason, o.stop_reason)
                choices.append(_with_token_ids(job, body, list(o.token_ids)))
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
