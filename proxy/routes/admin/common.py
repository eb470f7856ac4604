"""Plumbing shared by the admin routes: operator auth, one unit of work per request, errors.

Authentication runs before anything else (before the body is read). Errors from `domains/`
carry operator-safe messages and map to 400/404/409; database errors never show their text
(it may quote parameters such as a key's hash).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from domains.errors import Conflict, Invalid, NotFound
from domains.operator_actions import ActionInvalid
from proxy.auth import bearer_token, client_address, raise_if_throttled
from proxy.errors import ApiError
from proxy.guardrails import PolicyConfigError
from proxy.state import CONFIG, DIRECTORY, OPERATOR_THROTTLE

ACTOR = "admin-api:operator"
routes = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _operator(request: web.Request) -> str:
    """The operator token or 401; wrong tokens from one address are throttled (429), the right
    token always passes."""
    token = request.app[CONFIG].operator_token or ""
    presented = bearer_token(request)
    ok = presented is not None and bool(token)
    # Always compare, so a malformed header costs the same as a wrong token.
    if not hmac.compare_digest((presented or "").encode(), token.encode()) or not ok:
        throttle = request.app[OPERATOR_THROTTLE]
        await throttle.failed(client_address(request))
        await raise_if_throttled(throttle, client_address(request))
        raise ApiError(401, "Invalid operator token.", code="invalid_operator_token")
    return ACTOR


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Register an admin handler behind the operator-token check."""

    def register(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            await _operator(request)
            return await handler(request)

        guarded.__name__ = handler.__name__
        routes.route(method, path)(guarded)
        return handler

    return register


def _api_error(exc: Exception) -> ApiError | None:
    if isinstance(exc, NotFound):
        return ApiError(404, str(exc), code="not_found")
    if isinstance(exc, Conflict):
        return ApiError(409, str(exc), code="conflict")
    if isinstance(exc, ActionInvalid):
        return ApiError(400, str(exc), code=exc.code, param=exc.param)
    if isinstance(exc, Invalid):
        return ApiError(400, str(exc), code="invalid_request")
    if isinstance(exc, PolicyConfigError):
        return ApiError(400, f"config.{exc}", code="invalid_request", param=f"config.{exc.field}")
    if isinstance(exc, DataError):  # e.g. a value longer than its column (PostgreSQL)
        return ApiError(400, "A value is too long or malformed for its field.", code="invalid_request")
    if isinstance(exc, IntegrityError):
        return ApiError(409, "The change conflicts with the current state; retry.", code="conflict")
    return None


async def run_in_session(
    request: web.Request, action: Callable[[Session, str], Any], *, changes: bool = True
) -> Any:
    """Authenticate the operator, then run one unit of work (one transaction) in a worker thread.

    After a change (`changes`), the proxy's caches are dropped so it applies here at once.
    """
    actor = await _operator(request)
    factory = request.app["session_factory"]

    def work() -> Any:
        with factory.begin() as session:
            return action(session, actor)

    try:
        result = await asyncio.to_thread(work)
    except Exception as exc:
        mapped = _api_error(exc)
        if mapped is None:
            raise
        raise mapped from None
    if changes:
        request.app[DIRECTORY].invalidate()
    return result


def listing(rows: list[dict[str, Any]]) -> web.Response:
    return web.json_response({"object": "list", "data": rows})


def one(row: dict[str, Any], *, status: int = 200, secret: bool = False) -> web.Response:
    # A response carrying a secret must not be kept by any cache on the way.
    headers = {"Cache-Control": "no-store"} if secret else None
    return web.json_response(row, status=status, headers=headers)
