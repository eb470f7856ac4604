"""POST /v1/chat/completions and /v1/completions."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from engine.errors import ContextLengthExceeded
from engine.server.body import read_json
from engine.server.errors import ApiError, from_exception, internal_error, log_internal
from engine.server.generation import Generation
from engine.server.prompting import chat_prompt_ids, completion_prompt_ids, resolve_max_tokens
from engine.server.protocol import ChatRequest, CompletionRequest, parse_chat, parse_completion
from engine.server.request_ids import request_id_of
from engine.server.responses import (
    TokenTexts,
    chat_logprobs,
    choice,
    completion_logprobs,
    envelope,
    usage,
)
from engine.server.state import STATE, ServerState
from engine.server.streaming import SseWriter

log = logging.getLogger("engine.server")
routes = web.RouteTableDef()


@dataclass(slots=True)
class _Choice:
    """What one choice has accumulated (non-streaming)."""

    text: list[str] = field(default_factory=list)
    logprobs: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0
    finish_reason: str | None = None
    stop_reason: int | str | None = None


def check_model(state: ServerState, body: Any) -> None:
    model = body.get("model") if isinstance(body, dict) else None
    if isinstance(model, str) and model not in state.model_names:
        message = f"The model `{model[:256]}` does not exist."
        raise ApiError(404, message, param="model", code="model_not_found")


def _admit(state: ServerState) -> None:
    if not state.admission.try_enter():
        retry = str(state.config.retry_after_s)
        message = "The server is busy; retry later"
        raise ApiError(503, message, code="queue_full", headers={"Retry-After": retry})


def _max_tokens(state: ServerState, prompts: list[list[int]], max_tokens: int | None, param: str) -> int:
    try:
        return min(resolve_max_tokens(len(p), max_tokens, state.engine.max_model_len) for p in prompts)
    except ContextLengthExceeded as exc:
        raise ApiError(400, str(exc), param=param, code="context_length_exceeded") from None


@routes.post("/v1/chat/completions")
async def chat_completions(request: web.Request) -> web.StreamResponse:
    arrival = time.monotonic()
    state = request.app[STATE]
    body = await read_json(request)
    check_model(state, body)
    req = parse_chat(body, state.engine.spec.vocab_size)
    prompt = chat_prompt_ids(state.engine.tokenizer, req.messages, req.add_generation_prompt)
    req.params.max_tokens = _max_tokens(state, [prompt], req.params.max_tokens, "messages")
    response_id = f"chatcmpl-{uuid.uuid4().hex}"
    _admit(state)
    try:
        async with Generation(state.engine, state.metrics, response_id, [prompt], req.params, arrival) as gen:
            if req.stream:
                return await _stream_chat(request, state, req, gen, response_id, len(prompt))
            return await _chat(request, state, req, gen, response_id, len(prompt))
    finally:
        state.admission.leave()


@routes.post("/v1/completions")
async def completions(request: web.Request) -> web.StreamResponse:
    arrival = time.monotonic()
    state = request.app[STATE]
    body = await read_json(request)
    check_model(state, body)
    req = parse_completion(body, state.engine.spec.vocab_size)
    prompts = [completion_prompt_ids(state.engine.tokenizer, p) for p in req.prompts]
    req.params.max_tokens = _max_tokens(state, prompts, req.params.max_tokens, "prompt")
    response_id = f"cmpl-{uuid.uuid4().hex}"
    _admit(state)
    try:
        async with Generation(state.engine, state.metrics, response_id, prompts, req.params, arrival) as gen:
            if req.stream:
                return await _stream_completion(request, state, req, gen, response_id, prompts)
            return await _completion(request, state, req, gen, response_id, prompts)
    finally:
        state.admission.leave()


async def _chat(
    request: web.Request, state: ServerState, req: ChatRequest, gen: Generation, rid: str, prompt_tokens: int
) -> web.Response:
    choices = [_Choice() for _ in range(req.params.n)]
    async for _, out in gen.stream():
        _accumulate(choices, 0, out.outputs)
    texts = TokenTexts(state.engine.tokenizer)
    body_choices = [
        choice(
            i,
            "message",
            {"role": "assistant", "content": "".join(c.text)},
            chat_logprobs(texts, c.logprobs, req.top_logprobs) if req.logprobs else None,
            c.finish_reason,
            c.stop_reason,
        )
        for i, c in enumerate(choices)
    ]
    completion_tokens = sum(c.tokens for c in choices)
    _log_done(request, rid, prompt_tokens, completion_tokens, choices)
    return web.json_response(
        envelope(
            "chat.completion",
            rid,
            int(time.time()),
            state.model_name,
            body_choices,
            usage(prompt_tokens, completion_tokens),
        )
    )


async def _completion(
    request: web.Request,
    state: ServerState,
    req: CompletionRequest,
    gen: Generation,
    rid: str,
    prompts: list[list[int]],
) -> web.Response:
    n = req.params.n
    choices = [_Choice() for _ in range(n * len(prompts))]
    async for p, out in gen.stream():
        _accumulate(choices, p * n, out.outputs)
    texts = TokenTexts(state.engine.tokenizer)
    body_choices = []
    for i, c in enumerate(choices):
        prefix = _echo_text(state, req, prompts[i // n])
        lps = completion_logprobs(texts, c.logprobs, len(prefix)) if req.logprobs is not None else None
        body_choices.append(choice(i, "text", prefix + "".join(c.text), lps, c.finish_reason, c.stop_reason))
    prompt_tokens = sum(len(p) for p in prompts)
    completion_tokens = sum(c.tokens for c in choices)
    _log_done(request, rid, prompt_tokens, completion_tokens, choices)
    return web.json_response(
        envelope(
            "text_completion",
            rid,
            int(time.time()),
            state.model_name,
            body_choices,
            usage(prompt_tokens, completion_tokens),
        )
    )


def _accumulate(choices: list[_Choice], base: int, outputs: list[Any]) -> None:
    for o in outputs:
        c = choices[base + o.index]
        c.text.append(o.text)
        c.tokens += len(o.token_ids)
        if o.logprobs:
            c.logprobs.extend(o.logprobs)
        if o.finish_reason is not None:
            c.finish_reason, c.stop_reason = o.finish_reason, o.stop_reason


def _echo_text(state: ServerState, req: CompletionRequest, prompt: list[int]) -> str:
    if not req.echo:
        return ""
    return state.engine.tokenizer.decode(prompt, skip_special_tokens=False)


async def _stream_chat(
    request: web.Request, state: ServerState, req: ChatRequest, gen: Generation, rid: str, prompt_tokens: int
) -> web.StreamResponse:
    sse = SseWriter(request, request_id_of(request))
    created, model, n = int(time.time()), state.model_name, req.params.n
    texts = TokenTexts(state.engine.tokenizer)

    def chunk(choices: list[dict[str, Any]]) -> dict[str, Any]:
        return envelope("chat.completion.chunk", rid, created, model, choices, None, req.include_usage)

    choices = [_Choice() for _ in range(n)]
    try:
        await sse.send(
            chunk([choice(i, "delta", {"role": "assistant", "content": ""}, None, None) for i in range(n)])
        )
        async for _, out in gen.stream():
            _accumulate_counts(choices, 0, out.outputs)
            body = []
            for o in out.outputs:
                lps = None
                if req.logprobs and o.logprobs:
                    lps = chat_logprobs(texts, o.logprobs, req.top_logprobs)
                delta = {"content": o.text} if o.text or o.finish_reason is None else {}
                body.append(choice(o.index, "delta", delta, lps, o.finish_reason, o.stop_reason))
            await sse.send(chunk(body))
        completion_tokens = sum(c.tokens for c in choices)
        if req.include_usage:
            await sse.send(
                envelope(
                    "chat.completion.chunk", rid, created, model, [], usage(prompt_tokens, completion_tokens)
                )
            )
        await sse.done()
        _log_done(request, rid, prompt_tokens, completion_tokens, choices)
    except Exception as exc:
        await _stream_failed(sse, request, rid, exc)
    return sse.response


async def _stream_completion(
    request: web.Request,
    state: ServerState,
    req: CompletionRequest,
    gen: Generation,
    rid: str,
    prompts: list[list[int]],
) -> web.StreamResponse:
    sse = SseWriter(request, request_id_of(request))
    created, model, n = int(time.time()), state.model_name, req.params.n
    texts = TokenTexts(state.engine.tokenizer)

    def chunk(choices: list[dict[str, Any]], usage_: dict[str, int] | None = None) -> dict[str, Any]:
        return envelope("text_completion", rid, created, model, choices, usage_, req.include_usage)

    choices = [_Choice() for _ in range(n * len(prompts))]
    offsets = [0] * len(choices)
    try:
        if req.echo:
            for i in range(len(choices)):
                prefix = _echo_text(state, req, prompts[i // n])
                await sse.send(chunk([choice(i, "text", prefix, None, None)]))
        async for p, out in gen.stream():
            _accumulate_counts(choices, p * n, out.outputs)
            body = []
            for o in out.outputs:
                i = p * n + o.index
                lps = None
                if req.logprobs is not None and o.logprobs:
                    lps = completion_logprobs(texts, o.logprobs, offsets[i])
                    offsets[i] = lps["text_offset"][-1] + len(lps["tokens"][-1])
                body.append(choice(i, "text", o.text, lps, o.finish_reason, o.stop_reason))
            await sse.send(chunk(body))
        prompt_tokens = sum(len(p) for p in prompts)
        completion_tokens = sum(c.tokens for c in choices)
        if req.include_usage:
            await sse.send(chunk([], usage(prompt_tokens, completion_tokens)))
        await sse.done()
        _log_done(request, rid, prompt_tokens, completion_tokens, choices)
    except Exception as exc:
        await _stream_failed(sse, request, rid, exc)
    return sse.response


def _accumulate_counts(choices: list[_Choice], base: int, outputs: list[Any]) -> None:
    for o in outputs:
        c = choices[base + o.index]
        c.tokens += len(o.token_ids)
        if o.finish_reason is not None:
            c.finish_reason = o.finish_reason


async def _stream_failed(sse: SseWriter, request: web.Request, rid: str, exc: Exception) -> None:
    """A stream that cannot go on: the client left (nothing to send) or an error event, then [DONE]."""
    if isinstance(exc, ConnectionError):
        log.info("request %s (%s): client disconnected; aborted", request_id_of(request), rid)
        return
    err = from_exception(exc, "prompt")
    if err is None:
        log_internal(exc, request_id_of(request))
        err = internal_error(request_id_of(request))
    try:
        await sse.send(err.body())
        await sse.done()
    except ConnectionError:
        pass


def _log_done(
    request: web.Request, rid: str, prompt_tokens: int, completion_tokens: int, choices: list[_Choice]
) -> None:
    reasons = ",".join(sorted({c.finish_reason or "-" for c in choices}))
    log.info(
        "request %s (%s): prompt_tokens=%d completion_tokens=%d finish=%s",
        request_id_of(request),
        rid,
        prompt_tokens,
        completion_tokens,
        reasons,
    )
