"""Request ids: taken from a well-formed X-Request-Id (the proxy sends one) or made here."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_KEY: web.RequestKey[str] = web.RequestKey("teecube_request_id", str)


def request_id_of(request: web.Request) -> str:
    return request.get(_KEY, "-")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get("x-request-id", "")
    request[_KEY] = given if _REQUEST_ID_RE.match(given) else uuid.uuid4().hex
    response = await handler(request)
    if not response.prepared:
        response.headers["x-request-id"] = request[_KEY]
    return response
