"""OpenAI-shaped errors. Every failure a tenant sees is one of these; nothing else leaves.

Messages are fixed strings chosen here: they never carry request text, upstream
details or exception text.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger("teecube.proxy")

_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "server_error",
    503: "server_error",
    504: "timeout_error",
}


class ApiError(Exception):
    """An error that becomes `{"error": {...}}` with the given status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.type = type_ or _TYPES.get(status, "invalid_request_error")
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            text=json.dumps(self.body()),
            content_type="application/json",
            headers=self.headers,
        )


def invalid_api_key() -> ApiError:
    # One body for unknown, malformed, expired, revoked and wrong-domain credentials.
    return ApiError(401, "Incorrect API key provided.", code="invalid_api_key")


def model_not_found(model: str) -> ApiError:
    shown = model if len(model) <= 64 and model.isprintable() else "requested"
    return ApiError(
        404,
        f"The model `{shown}` does not exist or you do not have access to it.",
        code="model_not_found",
        param="model",
    )


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def upstream_unavailable() -> ApiError:
    return ApiError(503, "The model is temporarily unavailable. Please retry.", code="upstream_unavailable")


def upstream_timeout() -> ApiError:
    return ApiError(504, "The model did not answer in time.", code="upstream_timeout")


_HTTP_STATUS_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as err:
        return err.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = {404: "Not found.", 405: "Method not allowed.", 413: "Request body too large."}.get(
            exc.status, exc.reason
        )
        err = ApiError(exc.status, message, code=_HTTP_STATUS_CODES.get(exc.status))
        return err.response()
    except Exception as exc:
        # The log names the request id, route, exception type and code location only: never
        # the body or the exception's text, which may quote request content.
        where = "".join(traceback.format_tb(exc.__traceback__)[-3:])
        log.error(
            "internal error request_id=%s route=%s type=%s\n%s",
            request.get("request_id", "-"),
            request.path,
            type(exc).__name__,
            where,
        )
        return ApiError(500, "Internal error.", code="internal_error").response()
