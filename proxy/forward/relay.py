"""Send a checked request upstream and relay the answer to the tenant.

Non-streaming: one JSON body, model name rewritten to the tenant's alias, output
guardrails applied to each choice. Streaming: SSE relayed chunk by chunk; the
proxy always asks the upstream for usage and drops that chunk when the tenant did
not ask for it; output guardrails hold back only what a rule could still match; a tenant
disconnect closes the upstream request, which cancels the generation there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from proxy.errors import ApiError, upstream_timeout, upstream_unavailable
from proxy.forward.upstream import CredentialError, Upstream, UpstreamPool
from proxy.guardrails.output import OutputGuard
from proxy.guardrails.response import ResponseGuard
from proxy.tokens import text_tokens, usage_count

log = logging.getLogger("teecube.proxy.forward")
MAX_UPSTREAM_BODY = 64 * 1024 * 1024
_URLISH = re.compile(r"(https?|unix)://\S+|/[\w./-]+\.sock")
# pydantic's validation messages (vLLM, FastAPI servers) quote the offending value, which may be
# prompt text (a repr: one line), so the rest of that line goes
_QUOTED_INPUT = re.compile(r"input_value=[^\n]*")
_PASS_CODES = {"context_length_exceeded", "invalid_value", "invalid_type", "missing_required_parameter"}


@dataclass(slots=True)
class Outcome:
    """What the upstream did, for settling limits and the usage record."""

    status_code: int = 200
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_known: bool = False
    blocked_rule: str | None = None
    status: str = "ok"  # ok | error | blocked | cancelled
    rule_ids: list[str] = field(default_factory=list)
    # Whether the request may have reached the upstream (set as it is sent; cleared when the
    # connection could not be made). A request that never left the proxy cost the model nothing.
    forwarded: bool = False
    # The caller's prompt estimate: what is charged (and reported) when the upstream sent no usage.
    prompt_estimate: int = 0


def _upstream_error_fields(payload: Any) -> dict[str, Any]:
    """The error object of an upstream's error body, whichever shape its server uses: OpenAI's
    `{"error": {...}}`, vLLM's before 0.10 (`{"object": "error", "message": ...}`, flat), a bare
    `{"error": "message"}`; anything else (FastAPI's `{"detail": [...]}`, not JSON) is no fields."""
    if not isinstance(payload, dict):
        return {}
    err = payload.get("error")
    if isinstance(err, dict):
        return err
    if isinstance(err, str):
        return {"message": err}
    if payload.get("object") == "error":
        return payload
    return {}


def _sanitized_upstream_error(status: int, payload: Any, retry_after: str | None = None) -> ApiError:
    """Pass a tenant-fixable 4xx through as a 4xx (message without URLs, paths or quoted input
    values); hide everything else."""
    if status in (400, 413, 422):
        err = _upstream_error_fields(payload)
        message = str(err.get("message") or "The request was rejected by the model server.")
        message = _QUOTED_INPUT.sub("input_value=[redacted]", _URLISH.sub("[redacted]", message))[:400]
        code = err.get("code") if isinstance(err.get("code"), str) else None
        param = err.get("param")
        param = param if isinstance(param, str) and len(param) <= 64 and param.isprintable() else None
        if code not in _PASS_CODES:
            code = "invalid_request" if code else None
        return ApiError(400 if status == 422 else status, message, code=code, param=param)
    if status in (429, 503) and retry_after is not None:
        # The engine is busy (its queue is full): the tenant may retry, after the engine's delay.
        return ApiError(status, "The model is busy. Please retry.", code="upstream_overloaded",
                        headers={"Retry-After": _retry_after(retry_after)})
    if status == 429:
        return ApiError(429, "The model is overloaded. Please retry.", code="upstream_overloaded",
                        headers={"Retry-After": "1"})
    return upstream_unavailable()


def _retry_after(value: str) -> str:
    """The upstream's Retry-After as whole seconds in 1..60 (an HTTP date or junk becomes 1)."""
    try:
        return str(min(60, max(1, int(value.strip()))))
    except ValueError:
        return "1"


async def _post(pool: UpstreamPool, upstream: Upstream, path: str, body: dict[str, Any], request_id: str,
                outcome: Outcome) -> aiohttp.ClientResponse:
    try:
        headers = pool.headers(upstream, request_id)
    except CredentialError:
        log.error("upstream credential unresolved request_id=%s", request_id)
        raise upstream_unavailable() from None
    data = json.dumps(body).encode()
    outcome.forwarded = True
    try:
        return await pool.session(upstream).post(
            upstream.endpoint(path), data=data, headers=headers, allow_redirects=False
        )
    except TimeoutError as exc:
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            outcome.forwarded = False  # no connection within the connect timeout: nothing was sent
        raise upstream_timeout() from None
    except (aiohttp.ClientError, OSError) as exc:
        if isinstance(exc, aiohttp.ClientConnectorError | ConnectionRefusedError | FileNotFoundError):
            outcome.forwarded = False  # no connection: the upstream never saw the request
        log.warning("upstream unreachable request_id=%s error=%s", request_id, type(exc).__name__)
        raise upstream_unavailable() from None


def _take_usage(outcome: Outcome, usage: Any) -> None:
    if isinstance(usage, dict):
        outcome.prompt_tokens = usage_count(usage.get("prompt_tokens"))
        outcome.completion_tokens = usage_count(usage.get("completion_tokens"))
        outcome.usage_known = True


def _choice_text(choice: dict[str, Any], chat: bool) -> str | None:
    if chat:
        holder = choice.get("message") or choice.get("delta") or {}
        value = holder.get("content") if isinstance(holder, dict) else None
    else:
        value = choice.get("text")
    return value if isinstance(value, str) else None


async def forward_json(
    pool: UpstreamPool,
    upstream: Upstream,
    path: str,
    body: dict[str, Any],
    *,
    alias: str,
    request_id: str,
    guard: Any | None,
    outcome: Outcome | None = None,
) -> tuple[dict[str, Any], Outcome]:
    outcome = outcome if outcome is not None else Outcome()
    resp = await _post(pool, upstream, path, body, request_id, outcome)
    async with resp:
        try:
            raw = await resp.content.read(MAX_UPSTREAM_BODY + 1)
        except TimeoutError:
            raise upstream_timeout() from None
        except (aiohttp.ClientError, OSError):
            raise upstream_unavailable() from None
        if len(raw) > MAX_UPSTREAM_BODY:
            raise upstream_unavailable()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if resp.status in (404, 405) and path == "/v1/embeddings":
            # The deployment's server has no embeddings route (it serves generation only).
            raise ApiError(400, "Embeddings are not available for this model.", code="unsupported_model",
                           param="model")
        if resp.status != 200 or not isinstance(payload, dict):
            raise _sanitized_upstream_error(resp.status, payload, resp.headers.get("Retry-After"))
    payload["model"] = alias
    chat = path.endswith("/chat/completions")
    if guard is not None:  # every text field of every choice (guardrails/response.py)
        outcome.blocked_rule = ResponseGuard(guard, chat=chat).payload(payload)
    _take_usage(outcome, payload.get("usage"))
    if not outcome.usage_known:
        # No usage from this upstream: count the text it answered with, conservatively.
        texts = (_choice_text(c, chat) for c in payload.get("choices") or [] if isinstance(c, dict))
        outcome.completion_tokens = sum(text_tokens(t) for t in texts if t)
    if outcome.blocked_rule:
        outcome.status = "blocked"
    return payload, outcome


MAX_SSE_LINE = 4 * 1024 * 1024


async def read_sse(resp: aiohttp.ClientResponse,
                   flush: Callable[[], Awaitable[None]] | None = None) -> AsyncIterator[str]:
    """The `data:` payloads of an SSE stream, one per event (a line or an event over
    MAX_SSE_LINE bytes is a payload error).

    `flush` is awaited after the events of each network read, before waiting for more: a relay
    that queues its output writes once per upstream read instead of once per event (a burst of
    events costs one send, and a slow tenant or a busy proxy catches up instead of falling behind).
    """
    content = resp.content
    pending = b""
    lines: list[str] = []
    size = 0  # bytes of `lines`: an event that never ends must not grow without bound
    while True:
        data = await content.readany()
        if not data:
            break
        if not pending and not lines and data.startswith(b"data:") and data.endswith(b"\n\n") \
                and data.count(b"\n") == 2 and b"\r" not in data:
            # The common read at high concurrency: exactly one single-line event.
            yield data[5:-2].lstrip(b" ").decode("utf-8", "replace")
            if flush is not None:
                await flush()
            continue
        pending += data
        if b"\n" not in data:
            if len(pending) > MAX_SSE_LINE:
                raise aiohttp.ClientPayloadError("SSE line too long")
            continue
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            line = raw.rstrip(b"\r")
            if not line:
                if lines:
                    yield "\n".join(lines)
                    lines, size = [], 0
            elif line.startswith(b"data:"):
                size += len(line)
                if size > MAX_SSE_LINE:
                    raise aiohttp.ClientPayloadError("SSE event too long")
                lines.append(line[5:].lstrip(b" ").decode("utf-8", "replace"))
        if flush is not None:
            await flush()
    line = pending.rstrip(b"\r")
    if line.startswith(b"data:"):
        lines.append(line[5:].lstrip(b" ").decode("utf-8", "replace"))
    if lines:
        yield "\n".join(lines)


class StreamEncoder(Protocol):
    """Writes the relay's chat chunks in another API's stream format (proxy/responses_api)."""

    def encode(self, chunk: dict[str, Any]) -> bytes: ...

    def finish(self) -> bytes: ...


class _Queued:
    """Output for the tenant, queued by the relay and written by `flush` in one piece: chunks as
    chat SSE, or through `encoder`."""

    __slots__ = ("encoder", "out", "parts")

    def __init__(self, out: web.StreamResponse, encoder: StreamEncoder | None = None) -> None:
        self.out = out
        self.parts: list[bytes] = []
        self.encoder = encoder

    def chunk(self, chunk: dict[str, Any]) -> None:
        self.parts.append(_sse(chunk) if self.encoder is None else self.encoder.encode(chunk))

    def done(self) -> None:
        self.parts.append(DONE if self.encoder is None else self.encoder.finish())

    async def flush(self) -> None:
        if self.parts:
            data = b"".join(self.parts)
            self.parts.clear()
            await self.out.write(data)


_RAW_DECODE = json.JSONDecoder().raw_decode


def _loads(data: str) -> Any:
    """json.loads(data), without its two whitespace regex passes for a payload that is one object."""
    if data[:1] == "{" and data[-1:] == "}":
        obj, end = _RAW_DECODE(data)
        if end == len(data):
            return obj
    return json.loads(data)  # the same result or error as always


# json.dumps(obj, separators=(",", ":")) builds an encoder per call; this one is built once.
compact_json = json.JSONEncoder(separators=(",", ":")).encode


def _sse(obj: Any) -> bytes:
    return b"data: " + compact_json(obj).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"


async def forward_stream(
    request: web.Request,
    pool: UpstreamPool,
    upstream: Upstream,
    path: str,
    body: dict[str, Any],
    *,
    alias: str,
    request_id: str,
    include_usage: bool,
    guard: OutputGuard | None,
    headers: dict[str, str],
    before_output: Callable[[], Awaitable[None]] | None = None,
    outcome: Outcome | None = None,
    continuous_usage: bool = False,
    encoder: StreamEncoder | None = None,
) -> tuple[web.StreamResponse, Outcome]:
    """`before_output` runs before the first byte goes to the tenant (the classifier's verdict);
    when it raises, the upstream request is closed and nothing was sent.

    `outcome` (the caller's) holds the usage seen so far even when the tenant goes away mid-stream.
    `continuous_usage` asks the upstream for usage on every chunk (vLLM's
    `continuous_usage_stats`), so an aborted stream is charged what it generated; the tenant sees
    those per-chunk figures only when it asked for them itself. `encoder`: the tenant's stream in
    another format than chat SSE (chunks after the guardrails go through it)."""
    outcome = outcome if outcome is not None else Outcome()
    tenant_options = body.get("stream_options")
    tenant_continuous = include_usage and isinstance(tenant_options, dict) and bool(
        tenant_options.get("continuous_usage_stats"))
    body = dict(body)
    body["stream"] = True
    body["stream_options"] = {"include_usage": True}
    if continuous_usage:
        body["stream_options"]["continuous_usage_stats"] = True
    resp = await _post(pool, upstream, path, body, request_id, outcome)
    async with resp:
        if resp.status != 200:
            try:
                payload = json.loads(await resp.content.read(1024 * 1024))
            except (ValueError, aiohttp.ClientError, OSError):
                payload = None
            raise _sanitized_upstream_error(resp.status, payload, resp.headers.get("Retry-After"))
        if before_output is not None:
            try:
                await before_output()
            except BaseException:
                resp.close()  # stops the generation upstream
                raise
        out = web.StreamResponse(
            status=200,
            headers={
                **headers,
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            },
        )
        await out.prepare(request)
        chat = path.endswith("/chat/completions")
        fields = ResponseGuard(guard, chat=chat) if guard is not None else None
        finished: set[int] = set()
        seen: set[int] = set()
        expected = _expected_choices(body, chat)
        all_blocked = False
        last_chunk: dict[str, Any] | None = None
        # The upstream's usage chunk, sent after the held-back text (an upstream may send it before
        # its last chunks: releasing the held text then would end the guard's streams early)
        usage_chunk: dict[str, Any] | None = None
        queued = _Queued(out, encoder)
        try:
            async for data in read_sse(resp, queued.flush):
                if data == "[DONE]":
                    break
                try:
                    chunk = _loads(data)
                except (ValueError, RecursionError):
                    continue
                if not isinstance(chunk, dict):
                    continue
                choices = chunk.get("choices") or []
                if "error" in chunk or chunk.get("object") == "error" or not _valid_choices(choices):
                    # an error event (OpenAI's {"error": {...}}, vLLM's flat {"object": "error"}),
                    # or choices of a shape no server sends: the stream ends with an error event
                    outcome.status, outcome.status_code = "error", 502
                    _end_after_upstream_failure(queued, fields, last_chunk, chat, outcome, finished,
                                                usage_chunk)
                    break
                chunk["model"] = alias
                usage = chunk.get("usage")
                if usage is not None:
                    _take_usage(outcome, usage)
                if not choices:
                    if include_usage and isinstance(usage, dict):
                        if fields is None:
                            queued.chunk(chunk)
                        else:
                            usage_chunk = chunk
                    continue
                if not tenant_continuous:
                    chunk.pop("usage", None)  # also an explicit null
                last_chunk = chunk
                for choice in choices:
                    seen.add(choice.get("index", 0))
                    if not outcome.usage_known:
                        text = _choice_text(choice, chat)
                        if text:  # no usage from this upstream: count each delta conservatively
                            outcome.completion_tokens += max(1, text_tokens(text))
                # A blocked choice ends with content_filter (the text released before the finding);
                # the other choices go on. Once every choice is blocked the upstream request is closed.
                blocked = fields.chunk(chunk) if fields is not None else None
                for choice in chunk["choices"]:
                    if choice.get("finish_reason"):
                        finished.add(choice.get("index", 0))
                if blocked:
                    outcome.blocked_rule = outcome.blocked_rule or blocked
                if chunk["choices"]:
                    queued.chunk(chunk)
                if fields is not None and outcome.blocked_rule and _all_blocked(fields, seen, expected):
                    all_blocked = True
                    break
            if outcome.status != "error":  # held-back text of choices that got no finish_reason
                _release_held(queued, fields, last_chunk, chat, outcome, finished)
            if all_blocked and last_chunk is not None:
                if include_usage:  # the upstream's usage never came: what the usage record charges
                    queued.chunk(_usage_chunk(last_chunk, outcome))
            elif usage_chunk is not None and outcome.status != "error":
                queued.chunk(usage_chunk)
            queued.done()
            await queued.flush()
        except (ConnectionResetError, aiohttp.ClientConnectionResetError, asyncio.CancelledError):
            outcome.status = "cancelled"
            raise
        except (aiohttp.ClientError, OSError, TimeoutError):
            outcome.status, outcome.status_code = "error", 502
            try:
                _end_after_upstream_failure(queued, fields, last_chunk, chat, outcome, finished, usage_chunk)
                queued.done()
                await queued.flush()
            except (ConnectionResetError, aiohttp.ClientConnectionResetError):
                outcome.status = "cancelled"
        except Exception as exc:
            # The response has started: an error answer now would be written into its body.
            # End the stream with an error event instead (what is queued was scanned; no held-back
            # text: the guard's state is unknown). The log names the exception type only.
            log.error("stream relay failed request_id=%s type=%s", request_id, type(exc).__name__)
            outcome.status, outcome.status_code = "error", 502
            queued.chunk(_MID_STREAM_ERROR)
            queued.done()
            try:
                await queued.flush()
            except (ConnectionResetError, aiohttp.ClientConnectionResetError):
                outcome.status = "cancelled"
    if outcome.blocked_rule:
        outcome.status = "blocked"
    return out, outcome


def _expected_choices(body: dict[str, Any], chat: bool) -> int:
    """How many choices the request asked for: n per prompt (a completions body may hold several)."""
    n = body.get("n")
    n = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
    prompt = body.get("prompt")
    if chat or not isinstance(prompt, list) or not prompt or isinstance(prompt[0], int):
        return n
    return n * len(prompt)


def _all_blocked(fields: ResponseGuard, seen: set[int], expected: int) -> bool:
    """Whether every choice the request will get has been ended by a rule."""
    blocked = fields.blocked_choices()
    return seen <= blocked and len(blocked) >= expected


def _release_held(queued: _Queued, fields: ResponseGuard | None, last_chunk: dict[str, Any] | None,
                  chat: bool, outcome: Outcome, finished: set[int]) -> None:
    """Scan and send what the output guard still holds for choices that got no finish_reason (a
    blocked choice holds nothing)."""
    if fields is None or last_chunk is None:
        return
    for index, delta in fields.flush():
        if delta.get("blocked"):
            finished.add(index)
        blocked = delta.pop("blocked", None)
        logprobs = delta.pop("logprobs", None)
        chunk = _final_chunk(last_chunk, index, chat, "")
        choice = chunk["choices"][0]
        choice["finish_reason"] = "content_filter" if blocked else None
        if logprobs:
            choice["logprobs"] = logprobs
        if chat:
            choice["delta"] = delta
        else:
            choice["text"] = delta.get("text", "")
        queued.chunk(chunk)
        outcome.blocked_rule = outcome.blocked_rule or blocked


def _end_after_upstream_failure(queued: _Queued, fields: ResponseGuard | None,
                                last_chunk: dict[str, Any] | None, chat: bool, outcome: Outcome,
                                finished: set[int], usage_chunk: dict[str, Any] | None) -> None:
    """Release what the output guard still holds (scanned, as at a normal end), the upstream's usage
    chunk if it came, then the error event."""
    _release_held(queued, fields, last_chunk, chat, outcome, finished)
    if usage_chunk is not None and not outcome.blocked_rule:
        queued.chunk(usage_chunk)
    queued.chunk(_MID_STREAM_ERROR)


_MID_STREAM_ERROR = {"error": {"message": "The model server failed mid-stream.", "type": "server_error",
                               "param": None, "code": "upstream_error"}}


def _valid_choices(choices: Any) -> bool:
    """A list of objects, each with an integer `index` (the relay and the output guard key their
    state by it); a missing or null one is 0, and is set so."""
    if not isinstance(choices, list):
        return False
    for choice in choices:
        if not isinstance(choice, dict):
            return False
        index = choice.get("index")
        if index is None:
            choice["index"] = 0
        elif type(index) is not int:
            return False
    return True


def _final_chunk(template: dict[str, Any], index: int, chat: bool, reason: str) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": index, "finish_reason": reason}
    if chat:
        choice["delta"] = {}
    else:
        choice["text"] = ""
    return {k: v for k, v in template.items() if k not in ("choices", "usage")} | {"choices": [choice]}


def _usage_chunk(template: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    """The usage of a stream the proxy ended: the upstream's last figures, or (none came) what the
    request is charged: the prompt estimate and the output counted on the way."""
    prompt = outcome.prompt_tokens if outcome.usage_known else outcome.prompt_estimate
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": outcome.completion_tokens,
        "total_tokens": prompt + outcome.completion_tokens,
    }
    base = {k: v for k, v in template.items() if k not in ("choices", "usage")}
    return base | {"choices": [], "usage": usage}
