"""`x-request-id` on every response: the client's if it sent a sane one, else ours."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


@web.middleware
async def request_id_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    given = request.headers.get("x-request-id", "")
    request_id = given if _SANE.fullmatch(given) else new_request_id()
    request["request_id"] = request_id
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["x-request-id"] = request_id
        raise
    if not response.prepared:
        response.headers["x-request-id"] = request_id
    return response
