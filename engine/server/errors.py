"""OpenAI error objects and the middleware that turns every failure into one.

Messages never carry prompt or completion text, and clients never see a traceback.
"""

from __future__ import annotations

import json
import logging
import traceback

from aiohttp import web

from engine.errors import ContextLengthExceeded, EngineDead, InvalidParam
from engine.server.request_ids import Handler, request_id_of

log = logging.getLogger("engine.server")

_TYPES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    413: "RequestEntityTooLargeError",
    415: "UnsupportedMediaTypeError",
    500: "InternalServerError",
    503: "ServiceUnavailableError",
}


class ApiError(Exception):
    """An error with its HTTP status and OpenAI error fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type_ or ("invalid_request_error" if status < 500 else _TYPES.get(status, "server_error"))
        self.headers = headers or {}

    def body(self) -> dict[str, dict[str, str | None]]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad_request(param: str | None, message: str, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def from_exception(exc: BaseException, prompt_param: str = "prompt") -> ApiError | None:
    """The ApiError an engine or HTTP exception maps to; None for an unexpected one."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ContextLengthExceeded):
        return ApiError(400, str(exc), param=prompt_param, code="context_length_exceeded")
    if isinstance(exc, InvalidParam):
        return ApiError(400, f"{exc.param}: {exc.message}", param=exc.param, code="invalid_value")
    if isinstance(exc, EngineDead):
        return ApiError(503, "The engine is not running", code="engine_dead")
    if isinstance(exc, web.HTTPException) and exc.status >= 400:
        return ApiError(exc.status, exc.reason, code=exc.reason.lower().replace(" ", "_"))
    return None


def error_response(err: ApiError, request_id: str | None = None) -> web.Response:
    headers = dict(err.headers)
    if request_id:
        headers["x-request-id"] = request_id
    return web.json_response(err.body(), status=err.status, headers=headers, dumps=json.dumps)


def log_internal(exc: BaseException, request_id: str) -> None:
    """Log an unexpected error: its type and stack frames, never its message (it may quote a prompt)."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("request %s failed: %s\n%s", request_id, type(exc).__name__, frames)


def internal_error(request_id: str) -> ApiError:
    return ApiError(
        500, f"Internal server error (request id {request_id})", code="internal_error", type_="server_error"
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes an OpenAI error object; unexpected ones a 500 with the request id."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        err = from_exception(exc)
        assert err is not None
        return error_response(err, request_id_of(request))
    except Exception as exc:
        rid = request_id_of(request)
        err = from_exception(exc)
        if err is None:
            log_internal(exc, rid)
            err = internal_error(rid)
        return error_response(err, rid)
