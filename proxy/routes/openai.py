"""Tenant routes: `/v1/models`, `/v1/chat/completions`, `/v1/completions`, `/v1/responses`,
`/v1/embeddings`.

authenticate → resolve the domain's alias (deny by default) → check caps → admit
(reserve limits) → input guardrails → forward → output guardrails → settle → usage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

from aiohttp import web

from domains.usage import UsageRecordIn
from domains.views import ModelGrant
from proxy import responses_api
from proxy.auth import Principal
from proxy.body import read_json_body
from proxy.errors import ApiError, bad_request, model_not_found
from proxy.forward.relay import Outcome, forward_json, forward_stream
from proxy.forward.upstream import Upstream
from proxy.guard import CheckedInput, GuardrailBlocked
from proxy.limits import BucketSpec, Reservation
from proxy.prefix_cache import SALTED_KINDS, apply_cache_salt
from proxy.state import AUTH, CONFIG, DIRECTORY, GUARDS, LIMITER, METRICS, POOL, USAGE
from proxy.tokens import (
    DEFAULT_COMPLETION_TOKENS,
    LEGACY_COMPLETION_DEFAULT_TOKENS,
    estimate_prompt_tokens,
    generated_sequences,
    likely_text_tokens,
)

routes = web.RouteTableDef()


@routes.get("/v1/models")
async def list_models(request: web.Request) -> web.Response:
    principal = await request.app[AUTH].authenticate(request)
    view = await request.app[DIRECTORY].view(principal.domain_id)
    data = [
        {"id": alias, "object": "model", "created": 0, "owned_by": principal.domain_name}
        for alias, grant in sorted(view.items())
        if _visible(principal, grant)
    ]
    return web.json_response({"object": "list", "data": data})


@routes.get("/v1/models/{model:.+}")  # an alias may hold "/" (org/model), as the SDKs send it
async def get_model(request: web.Request) -> web.Response:
    principal = await request.app[AUTH].authenticate(request)
    alias = request.match_info["model"]
    grant = (await request.app[DIRECTORY].view(principal.domain_id)).get(alias)
    if grant is None or not _visible(principal, grant):
        raise model_not_found(alias)
    card = {"id": alias, "object": "model", "created": 0, "owned_by": principal.domain_name}
    return web.json_response(card)


@routes.post("/v1/chat/completions")
async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await _generation(request, route="chat", path="/v1/chat/completions")


@routes.post("/v1/completions")
async def completions(request: web.Request) -> web.StreamResponse:
    return await _generation(request, route="completions", path="/v1/completions")


async def _generation(request: web.Request, *, route: str, path: str) -> web.StreamResponse:
    started = time.perf_counter()
    principal, settings, body, grant = await _authorized(request)
    return await _complete(request, principal, settings, body, grant, route=route, path=path, started=started)


@routes.post("/v1/responses")
async def responses(request: web.Request) -> web.StreamResponse:
    """OpenAI's Responses API, run as a chat completion (proxy/responses_api): the same limits,
    guardrails and accounting; fields named as the Responses API names them in every 400."""
    started = time.perf_counter()
    principal, settings, body, grant = await _authorized(request)
    chat, echo = responses_api.to_chat(body)
    try:
        return await _complete(request, principal, settings, chat, grant, route="chat",
                               path="/v1/chat/completions", started=started, responses=echo)
    except ApiError as err:  # the chat path's checks and the upstream's 400s name chat fields
        raise responses_api.renamed(err) from None


@routes.route("*", "/v1/responses/{tail:.+}")
async def stored_response(request: web.Request) -> web.Response:
    """Retrieve, cancel, delete, input items: this server keeps no responses (a clear 404, after the
    credential is checked like every tenant route)."""
    await request.app[AUTH].authenticate(request)
    raise ApiError(404, "This server keeps no responses (every Response says store: false): there is "
                   "nothing to retrieve, cancel or delete.", code="not_found")


@routes.post("/v1/embeddings")
async def embeddings(request: web.Request) -> web.StreamResponse:
    started = time.perf_counter()
    principal, settings, body, grant = await _authorized(request)
    if grant.kind not in SALTED_KINDS:
        raise bad_request("Embeddings are not available for this model.", param="model",
                          code="unsupported_model")
    if "input" not in body:
        raise bad_request("You must provide an input.", param="input", code="missing_required_parameter")
    _check_prompt(body["input"], "input")
    prompt_estimate = estimate_prompt_tokens(body, "embeddings")
    likely = estimate_prompt_tokens(body, "embeddings", likely_text_tokens)
    if grant.max_prompt_tokens and likely > grant.max_prompt_tokens:
        raise bad_request(f"The input is longer than this model allows ({grant.max_prompt_tokens} tokens).",
                          param="input", code="context_length_exceeded")
    request.app[METRICS].phase.labels("embeddings", "admission").observe(time.perf_counter() - started)
    return await _admit_and_forward(request, principal, settings, grant, body, route="embeddings",
                                    path="/v1/embeddings", stream=False, include_usage=False, started=started,
                                    prompt_estimate=prompt_estimate, reserved=prompt_estimate, floor=likely)


def _visible(principal: Principal, grant: ModelGrant) -> bool:
    allowed = principal.allowed_aliases
    return grant.enabled and (allowed is None or grant.alias in allowed)


def _int_field(body: dict[str, Any], name: str, *, minimum: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"`{name}` must be an integer.", param=name, code="invalid_type")
    if value < minimum:
        raise bad_request(f"`{name}` must be at least {minimum}.", param=name, code="invalid_value")
    if value >= 2**31:
        raise bad_request(f"`{name}` is too large.", param=name, code="invalid_value")
    return value


def _buckets(principal: Principal, settings: Any, grant: ModelGrant) -> list[BucketSpec]:
    specs: list[BucketSpec] = []
    owners = [
        (f"key:{principal.subject}", principal.rpm, principal.tpm),
        (f"domain:{principal.domain_id}", settings.rpm, settings.tpm),
        (f"grant:{principal.domain_id}:{grant.alias}", grant.rpm, grant.tpm),
    ]
    for owner, rpm, tpm in owners:
        if rpm:
            specs.append(BucketSpec(f"rpm:{owner}", rpm, "requests"))
        if tpm:
            specs.append(BucketSpec(f"tpm:{owner}", tpm, "tokens"))
    return specs


def _check_prompt(value: Any, name: str) -> None:
    """A string, a non-empty list of strings, of token ids, or of token-id lists."""
    def token_ids(items: Any) -> bool:
        return isinstance(items, list) and bool(items) and all(
            isinstance(t, int) and not isinstance(t, bool) and 0 <= t < 2**31 for t in items)

    if isinstance(value, str):
        return
    if isinstance(value, list) and value and (
        all(isinstance(p, str) for p in value) or token_ids(value) or all(token_ids(p) for p in value)
    ):
        return
    raise bad_request(
        f"`{name}` must be a string, an array of strings, an array of token ids or an array of "
        "token-id arrays.", param=name, code="invalid_type",
    )


async def _authorized(request: web.Request) -> tuple[Principal, Any, dict[str, Any], ModelGrant]:
    """authenticate → the domain's settings → the body → the alias (a model outside the grant is a
    404 whatever else is wrong with the request)."""
    app = request.app
    principal = await app[AUTH].authenticate(request)
    directory = app[DIRECTORY]
    # The domain's grants and guardrail policy start loading while its settings are (and the body is
    # read): on a cache miss, one round of database reads before forwarding instead of three. Their
    # uses below join these reads or hit the cache; each is still at most the directory's TTL old.
    _prefetch(directory.view(principal.domain_id))
    _prefetch(directory.guardrail_policy(principal.domain_id))
    settings = await directory.settings(principal.domain_id)
    if settings is None or not settings.active:
        raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
    body = await read_json_body(request, settings.max_body_bytes, timeout=app[CONFIG].body_timeout)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request(
            "You must provide a model parameter.", param="model", code="missing_required_parameter"
        )
    grant = (await directory.view(principal.domain_id)).get(model)
    if grant is None or not _visible(principal, grant):
        raise model_not_found(model)
    return principal, settings, body, grant


def _prefetch(lookup: Awaitable[Any]) -> None:
    """Start a cached directory lookup now; it completes even if the request fails first (an error
    is retrieved here; the request's own lookup raises it)."""
    task = asyncio.ensure_future(lookup)
    task.add_done_callback(lambda t: t.cancelled() or t.exception())


def _completion_budget(
    body: dict[str, Any], settings: Any, grant: ModelGrant, route: str
) -> tuple[dict[str, Any], int]:
    """(body to forward, tokens each generated sequence may reach). A chat request without max_tokens
    gets the cap, or the conservative default forwarded as its max_tokens, so the model cannot
    generate more than was reserved; a legacy completion gets OpenAI's 16 (or the cap, if smaller)."""
    given = {f: _int_field(body, f, minimum=1) for f in ("max_tokens", "max_completion_tokens")}
    caps = [c for c in (settings.max_tokens_cap, grant.max_tokens_cap) if c]
    cap = min(caps) if caps else None
    for name, value in given.items():
        if cap is not None and value is not None and value > cap:
            raise bad_request(f"`{name}` must be at most {cap}.", param=name, code="invalid_value")
    asked = [v for v in given.values() if v is not None]
    if asked:
        return body, max(asked)
    if route == "completions":
        tokens = min(LEGACY_COMPLETION_DEFAULT_TOKENS, cap or LEGACY_COMPLETION_DEFAULT_TOKENS)
        return {**body, "max_tokens": tokens}, tokens
    if cap is not None:
        return {**body, "max_tokens": cap}, cap
    context = grant.context_length
    if context and context <= DEFAULT_COMPLETION_TOKENS and grant.kind in SALTED_KINDS:
        return body, context  # the engine stops at its context length
    return {**body, "max_tokens": DEFAULT_COMPLETION_TOKENS}, DEFAULT_COMPLETION_TOKENS


def _include_usage(stream_options: dict[str, Any] | None) -> bool:
    """stream_options' include_usage (the proxy rewrites stream_options upstream, so it checks it here)."""
    if stream_options is None:
        return False
    for name in ("include_usage", "continuous_usage_stats", "include_obfuscation"):
        value = stream_options.get(name)
        if value is not None and not isinstance(value, bool):
            raise bad_request(f"`stream_options.{name}` must be a boolean.", param=f"stream_options.{name}",
                              code="invalid_type")
    return stream_options.get("include_usage") is True


def _check_sampling_counts(body: dict[str, Any], settings: Any) -> None:
    for name in ("n", "best_of"):
        value = _int_field(body, name, minimum=1)
        if value is not None and value > settings.max_n:
            raise bad_request(f"`{name}` must be at most {settings.max_n}.", param=name, code="invalid_value")


async def _complete(request: web.Request, principal: Principal, settings: Any, body: dict[str, Any],
                    grant: ModelGrant, *, route: str, path: str, started: float,
                    responses: responses_api.Echo | None = None) -> web.StreamResponse:
    """A chat or legacy completion; `responses`: answer in the Responses API's shape instead."""
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise bad_request("`stream` must be a boolean.", param="stream", code="invalid_type")
    stream_options = body.get("stream_options")
    if stream_options is not None and not isinstance(stream_options, dict):
        raise bad_request("`stream_options` must be an object.", param="stream_options", code="invalid_type")
    include_usage = _include_usage(stream_options) or responses is not None  # a Response carries usage
    if route == "chat":
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise bad_request("`messages` must be a non-empty array.", param="messages", code="invalid_type")
        if len(messages) > settings.max_messages:
            raise bad_request(
                f"Too many messages: at most {settings.max_messages}.", param="messages", code="invalid_value"
            )
        if not all(isinstance(m, dict) for m in messages):
            raise bad_request("Each message must be an object.", param="messages", code="invalid_type")
    elif "prompt" not in body:
        raise bad_request("You must provide a prompt.", param="prompt", code="missing_required_parameter")
    else:
        _check_prompt(body["prompt"], "prompt")
    _check_sampling_counts(body, settings)
    body, per_sequence = _completion_budget(body, settings, grant, route)
    prompt_estimate = estimate_prompt_tokens(body, route)
    likely = estimate_prompt_tokens(body, route, likely_text_tokens)
    if grant.max_prompt_tokens and likely > grant.max_prompt_tokens:
        raise bad_request(
            f"The prompt is longer than this model allows ({grant.max_prompt_tokens} tokens).",
            param="messages" if route == "chat" else "prompt",
            code="context_length_exceeded",
        )
    completion = per_sequence * generated_sequences(body, route)
    request.app[METRICS].phase.labels(route, "admission").observe(time.perf_counter() - started)
    return await _admit_and_forward(request, principal, settings, grant, body, route=route, path=path,
                                    stream=stream, include_usage=include_usage, started=started,
                                    prompt_estimate=prompt_estimate, reserved=prompt_estimate + completion,
                                    floor=likely + completion, responses=responses)


async def _admit_and_forward(request: web.Request, principal: Principal, settings: Any, grant: ModelGrant,
                             body: dict[str, Any], *, route: str, path: str, stream: bool,
                             include_usage: bool, started: float, prompt_estimate: int,
                             reserved: int, floor: int,
                             responses: responses_api.Echo | None = None) -> web.StreamResponse:
    """admit (reserve limits) → input guardrails → forward → output guardrails → settle → usage.

    `reserved` bounds what the request can use; `floor` is the likely use (see Limiter.reserve)."""
    app = request.app
    request_id = request["request_id"]
    reservation: Reservation | None = None
    outcome = Outcome(prompt_estimate=prompt_estimate)
    checked: CheckedInput | None = None
    blocked_ids: list[str] = []
    try:
        phase_start = time.perf_counter()
        try:
            reservation = await app[LIMITER].reserve(_buckets(principal, settings, grant), reserved,
                                                     floor=floor)
        except ApiError as err:
            if err.status == 429:
                app[METRICS].limit_hits.labels(principal.domain_name, err.type).inc()
            raise
        app[METRICS].phase.labels(route, "limits").observe(time.perf_counter() - phase_start)
        phase_start = time.perf_counter()
        checked = await app[GUARDS].check_input(
            principal.domain_id, settings, body, route, pool=app[POOL], request_id=request_id,
            kind=grant.kind, upstream=Upstream(grant.url, grant.credential_ref),
            served_model=grant.served_model_name, estimated_tokens=prompt_estimate,
        )
        app[METRICS].phase.labels(route, "input_guardrails").observe(time.perf_counter() - phase_start)
        forward_body = apply_cache_salt(
            {**checked.body, "model": grant.served_model_name}, kind=grant.kind, secret=app[CONFIG].pepper,
            domain_id=principal.domain_id, shared=settings.shared_prefix_cache,
            enabled=app[CONFIG].prefix_cache_isolation,
        )
        upstream = Upstream(grant.url, grant.credential_ref)
        headers = dict(reservation.headers)
        headers["x-request-id"] = request_id
        app[METRICS].overhead.labels(route).observe(time.perf_counter() - started)
        if stream:
            # The classifier's verdict (if any) is awaited before the first byte is sent.
            response, outcome = await checked.run(forward_stream(
                request, app[POOL], upstream, path, forward_body, alias=grant.alias, request_id=request_id,
                include_usage=include_usage, guard=checked.output_guard, headers=headers,
                before_output=checked.before_output, outcome=outcome,
                continuous_usage=grant.kind in SALTED_KINDS,
                encoder=responses_api.ResponsesStream(responses, grant.alias) if responses else None,
            ))
        else:
            payload, outcome = await checked.run(forward_json(
                app[POOL], upstream, path, forward_body, alias=grant.alias, request_id=request_id,
                guard=checked.output_guard if route != "embeddings" else None, outcome=outcome,
            ))
            if responses is not None:
                payload = responses_api.from_chat(payload, responses, grant.alias)
            response = web.json_response(payload, headers=headers)
        return response
    except ApiError as err:
        outcome.status_code = err.status
        outcome.status = {429: "rate_limited", 400: "rejected"}.get(err.status, "error")
        if err.code == "content_policy_violation":
            outcome.status = "blocked"
        if err.code == "upstream_overloaded":  # the upstream refused it unrun (its queue is full)
            outcome.forwarded = False
        if isinstance(err, GuardrailBlocked):
            blocked_ids = err.rule_ids
        if err.status >= 500:
            app[METRICS].upstream_errors.labels(grant.alias, err.code or "error").inc()
        raise
    except BaseException:
        outcome.status, outcome.status_code = "cancelled", 499
        raise
    finally:
        # Input, classifier and output rule ids (never text), also for blocked and cancelled requests.
        outcome.rule_ids = [*(checked.audit_rule_ids(outcome.blocked_rule) if checked else []), *blocked_ids]
        used = _charged(outcome, stream=stream, prompt_estimate=prompt_estimate, reserved=reserved)
        if reservation is not None:
            await app[LIMITER].settle(reservation, used)
        _account(request, principal, grant, route, outcome, started)


def _charged(outcome: Outcome, *, stream: bool, prompt_estimate: int, reserved: int) -> int:
    """Tokens to charge (and record) for a request that reached admission.

    The upstream's usage when it reported any (for a stream cut short: the last figures it sent);
    otherwise the prompt estimate plus the output counted on the way, and for a non-streamed
    request the tenant abandoned, the whole reservation (what it generated is unknown). Nothing
    for a request the model never ran: refused, blocked by the input guardrails, abandoned or
    failed before it was sent, or turned away by a busy upstream."""
    if outcome.status == "rejected" or outcome.status == "rate_limited" or not outcome.forwarded:
        outcome.prompt_tokens = outcome.completion_tokens = 0
        return 0
    if outcome.usage_known:
        return outcome.prompt_tokens + outcome.completion_tokens
    outcome.prompt_tokens = prompt_estimate
    if outcome.status == "cancelled" and not stream:
        outcome.completion_tokens = max(0, reserved - prompt_estimate)
    return outcome.prompt_tokens + outcome.completion_tokens


def _account(request: web.Request, principal: Principal, grant: ModelGrant, route: str, outcome: Outcome,
             started: float) -> None:
    app = request.app
    latency = time.perf_counter() - started
    metrics = app[METRICS]
    metrics.requests.labels(principal.domain_name, grant.alias, f"{outcome.status_code // 100}xx").inc()
    metrics.latency.labels(route).observe(latency)
    metrics.tokens.labels(principal.domain_name, grant.alias, "prompt").inc(outcome.prompt_tokens)
    metrics.tokens.labels(principal.domain_name, grant.alias, "completion").inc(outcome.completion_tokens)
    if outcome.rule_ids:
        metrics.guardrail_hits.labels(principal.domain_name, "request").inc(len(outcome.rule_ids))
    app[USAGE].add(
        UsageRecordIn(
            request_id=request["request_id"],
            domain_id=principal.domain_id,
            alias=grant.alias,
            status=outcome.status,
            status_code=outcome.status_code,
            latency_ms=int(latency * 1000),
            key_id=principal.key_id,
            deployment_id=grant.deployment_id,
            prompt_tokens=outcome.prompt_tokens,
            completion_tokens=outcome.completion_tokens,
            guardrail_rule_ids=tuple(dict.fromkeys(outcome.rule_ids)),
        )
    )
