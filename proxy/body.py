"""Reading and checking a tenant's JSON body before anything else looks at it.

The body is read as a stream with a hard cap on its decoded size (aiohttp's own cap covers
only `read()`/`json()`; a compressed body is capped after decompression, so a bomb stops at
the cap) and a deadline, must be a JSON object nested at most `MAX_DEPTH` deep, may hold no
lone surrogate (it cannot be encoded as UTF-8 further on), and may not name an upstream or
a credential anywhere (`api_base`, `base_url`, ...). Every failure is a 4xx.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from typing import Any

from aiohttp import web

from proxy.errors import ApiError, bad_request
from proxy.tokens import estimate_prompt_tokens

__all__ = ["FORBIDDEN_FIELDS", "MAX_DEPTH", "estimate_prompt_tokens", "parse_json", "read_body_bytes",
           "read_json_body"]

FORBIDDEN_FIELDS = frozenset(
    {
        "api_base",
        "base_url",
        "api_url",
        "api_key",
        "api_version",
        "upstream",
        "upstream_url",
        "azure_endpoint",
        "custom_llm_provider",
        "extra_headers",
        "extra_query",
        "litellm_params",
        "proxy_url",
    }
)
MAX_DEPTH = 64
BODY_READ_TIMEOUT = 30.0  # seconds for the whole body once the headers are in
_SURROGATE = re.compile("[\ud800-\udfff]")


# A compressed body whose bytes have all arrived but whose decoder still waits for more (aiohttp's
# deflate decoder on garbage: its end-of-stream error does not always reach the reader) is broken:
# refused after this long instead of holding the connection until the body deadline.
STALL_CHECK_S = 0.5


class _Undecodable(Exception):
    """Every byte the client declared is in, and the decoded stream has not ended."""


def _all_raw_bytes_in(request: web.Request) -> bool:
    declared = request.content_length
    received = getattr(request.content, "total_raw_bytes", None)
    return declared is not None and isinstance(received, int) and received >= declared


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(413, f"Request body is larger than {max_bytes} bytes.", code="request_too_large")


async def read_body_bytes(request: web.Request, max_bytes: int, *,
                          timeout: float = BODY_READ_TIMEOUT) -> bytes:
    """The decoded body, at most `max_bytes`, within `timeout` seconds; 4xx on anything broken."""
    declared = request.content_length
    if declared is not None and declared > max_bytes and not request.headers.get("Content-Encoding"):
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            try:
                wait = min(STALL_CHECK_S, max(deadline - loop.time(), 0.0))
                chunk = await asyncio.wait_for(request.content.readany(), wait)
            except TimeoutError:
                if loop.time() >= deadline:
                    raise
                # (a busy loop can let the timer fire before the woken read runs: the bytes are in)
                chunk = request.content.read_nowait()
                if not chunk:
                    if request.content.at_eof():
                        break
                    if _all_raw_bytes_in(request):
                        raise _Undecodable() from None
                    continue
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(max_bytes)
            chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, "The request body did not arrive in time.", code="request_timeout") from None
    except (ApiError, ConnectionResetError, asyncio.CancelledError):
        raise
    except Exception:
        # A broken chunked encoding, a garbage compressed body (gzip, deflate, br), a payload
        # the parser gave up on: the exception text may quote the bytes, so it is not kept.
        raise bad_request("We could not read the body of your request.", code="invalid_body") from None
    return b"".join(chunks)


def parse_json(raw: bytes, *, forbid_upstream_fields: bool = True) -> Any:
    """Any JSON value, nested at most MAX_DEPTH deep, without lone surrogates (NaN and Infinity,
    which are not JSON, are refused too)."""
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise bad_request("We could not parse the JSON body of your request.", code="invalid_json") from None
    _check_tree(body, 0, forbid=forbid_upstream_fields)
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    return body


async def read_json_body(request: web.Request, max_bytes: int, *,
                         timeout: float = BODY_READ_TIMEOUT) -> dict[str, Any]:
    return parse_json_object(await read_body_bytes(request, max_bytes, timeout=timeout))


def _check_string(value: str, field: str | None) -> None:
    if _SURROGATE.search(value):
        shown = field if field and len(field) <= 64 and field.isprintable() else None
        raise bad_request(
            "The request holds text that is not valid Unicode (a lone surrogate).",
            param=shown, code="invalid_encoding",
        )


def _check_tree(node: Any, depth: int, field: str | None = None, *, forbid: bool = True) -> None:
    if depth > MAX_DEPTH:
        raise bad_request("The request body is nested too deeply.", code="invalid_request")
    if isinstance(node, str):
        _check_string(node, field)
    elif isinstance(node, float) and not math.isfinite(node):  # 1e999 parses as infinity
        shown = field if field and len(field) <= 64 and field.isprintable() else None
        raise bad_request("Numbers must be finite.", param=shown, code="invalid_value")
    elif isinstance(node, dict):
        for key, value in node.items():
            _check_string(key, field)
            if forbid and key.lower() in FORBIDDEN_FIELDS:
                raise bad_request(
                    f"The field `{key}` is not allowed: upstreams are set by the operator.",
                    param=key,
                    code="forbidden_field",
                )
            _check_tree(value, depth + 1, field or key, forbid=forbid)
    elif isinstance(node, list):
        for item in node:
            _check_tree(item, depth + 1, field, forbid=forbid)
