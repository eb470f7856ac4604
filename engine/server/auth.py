"""Bearer-token check (--api-key): /health, /ping, /metrics and /version stay open, as in vLLM."""

from __future__ import annotations

import hmac

from aiohttp import web
from aiohttp.typedefs import Middleware

from engine.server.errors import ApiError
from engine.server.request_ids import Handler

OPEN_PATHS = frozenset({"/health", "/ping", "/metrics", "/version"})


def auth_middleware(api_key: str) -> Middleware:
    expected = api_key.encode()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in OPEN_PATHS:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
                raise ApiError(
                    401,
                    "Incorrect API key provided",
                    code="invalid_api_key",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return await handler(request)

    return middleware
