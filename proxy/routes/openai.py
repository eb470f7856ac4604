"""Tenant routes: `/v1/models`, `/v1/chat/completions`, `/v1/completions`.

authenticate → resolve the domain's alias (deny by default) → check caps → admit
(reserve limits) → input guardrails → forward → output guardrails → settle → usage.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from domains.usage import UsageRecordIn
from domains.views import ModelGrant
from proxy.auth import Principal
from proxy.body import estimate_prompt_tokens, read_json_body
from proxy.errors import ApiError, bad_request, model_not_found
from proxy.forward.relay import Outcome, forward_json, forward_stream
from proxy.forward.upstream import Upstream
from proxy.guard import CheckedInput, GuardrailBlocked
from proxy.limits import BucketSpec, Reservation
from proxy.state import AUTH, DIRECTORY, GUARDS, LIMITER, METRICS, POOL, USAGE

routes = web.RouteTableDef()
DEFAULT_RESERVED_COMPLETION = 4096


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


@routes.get("/v1/models/{model}")
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
    return await _complete(request, route="chat", path="/v1/chat/completions")


@routes.post("/v1/completions")
async def completions(request: web.Request) -> web.StreamResponse:
    return await _complete(request, route="completions", path="/v1/completions")


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


async def _complete(request: web.Request, *, route: str, path: str) -> web.StreamResponse:
    app = request.app
    started = time.perf_counter()
    request_id = request["request_id"]
    principal = await app[AUTH].authenticate(request)
    settings = await app[DIRECTORY].settings(principal.domain_id)
    if settings is None or not settings.active:
        raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
    body = await read_json_body(request, settings.max_body_bytes)

    # The model is resolved before any other check, so a model outside the grant is a 404
    # whatever else is wrong with the request.
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request(
            "You must provide a model parameter.", param="model", code="missing_required_parameter"
        )
    grant = (await app[DIRECTORY].view(principal.domain_id)).get(model)
    if grant is None or not _visible(principal, grant):
        raise model_not_found(model)

    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise bad_request("`stream` must be a boolean.", param="stream", code="invalid_type")
    stream_options = body.get("stream_options")
    if stream_options is not None and not isinstance(stream_options, dict):
        raise bad_request("`stream_options` must be an object.", param="stream_options", code="invalid_type")
    include_usage = bool(stream_options and stream_options.get("include_usage"))
    if route == "chat":
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise bad_request("`messages` must be a non-empty array.", param="messages", code="invalid_type")
        if len(messages) > settings.max_messages:
            raise bad_request(
                f"Too many messages: at most {settings.max_messages}.", param="messages", code="invalid_value"
            )
    elif "prompt" not in body:
        raise bad_request("You must provide a prompt.", param="prompt", code="missing_required_parameter")
    n = _int_field(body, "n", minimum=1) or 1
    if n > settings.max_n:
        raise bad_request(f"`n` must be at most {settings.max_n}.", param="n", code="invalid_value")
    token_field = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = _int_field(body, token_field, minimum=1)
    caps = [c for c in (settings.max_tokens_cap, grant.max_tokens_cap) if c]
    cap = min(caps) if caps else None
    if cap is not None:
        if max_tokens is not None and max_tokens > cap:
            raise bad_request(
                f"`{token_field}` must be at most {cap}.", param=token_field, code="invalid_value"
            )
        if max_tokens is None:
            max_tokens = cap
            body = {**body, "max_tokens": cap}
    prompt_estimate = estimate_prompt_tokens(body, route)
    if grant.max_prompt_tokens and prompt_estimate > grant.max_prompt_tokens:
        raise bad_request(
            f"The prompt is longer than this model allows ({grant.max_prompt_tokens} tokens).",
            param="messages" if route == "chat" else "prompt",
            code="context_length_exceeded",
        )
    completion_budget = max_tokens or min(grant.context_length or DEFAULT_RESERVED_COMPLETION,
                                          DEFAULT_RESERVED_COMPLETION)
    reserved = prompt_estimate + completion_budget * n

    reservation: Reservation | None = None
    outcome = Outcome()
    checked: CheckedInput | None = None
    blocked_ids: list[str] = []
    try:
        try:
            reservation = await app[LIMITER].reserve(_buckets(principal, settings, grant), reserved)
        except ApiError as err:
            if err.status == 429:
                app[METRICS].limit_hits.labels(principal.domain_name, err.type).inc()
            raise
        checked = await app[GUARDS].check_input(
            principal.domain_id, settings, body, route, pool=app[POOL], request_id=request_id, kind=grant.kind
        )
        forward_body = {**checked.body, "model": grant.served_model_name}
        upstream = Upstream(grant.url, grant.credential_ref)
        headers = dict(reservation.headers)
        headers["x-request-id"] = request_id
        app[METRICS].overhead.labels(route).observe(time.perf_counter() - started)
        if stream:
            # The classifier's verdict (if any) is awaited before the first byte is sent.
            response, outcome = await checked.run(forward_stream(
                request, app[POOL], upstream, path, forward_body, alias=grant.alias, request_id=request_id,
                include_usage=include_usage, guard=checked.output_guard, headers=headers,
                before_output=checked.before_output,
            ))
        else:
            payload, outcome = await checked.run(forward_json(
                app[POOL], upstream, path, forward_body, alias=grant.alias, request_id=request_id,
                guard=checked.output_guard,
            ))
            response = web.json_response(payload, headers=headers)
        return response
    except ApiError as err:
        outcome.status_code = err.status
        outcome.status = {429: "rate_limited", 400: "rejected"}.get(err.status, "error")
        if err.code == "content_policy_violation":
            outcome.status = "blocked"
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
        used = outcome.prompt_tokens + outcome.completion_tokens
        if not outcome.usage_known and outcome.status in ("cancelled", "error"):
            used = prompt_estimate + outcome.completion_tokens
        if reservation is not None:
            await app[LIMITER].settle(reservation, used)
        _account(request, principal, grant, route, outcome, started)


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
