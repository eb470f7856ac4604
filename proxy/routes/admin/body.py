"""Admin request bodies: capped (after decompression), with a deadline, a JSON object.

What the object may hold is the action's typed input (`domains.operator_actions`), checked there.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from proxy.body import parse_json, read_body_bytes
from proxy.errors import bad_request

MAX_BODY_BYTES = 256 * 1024


async def read_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body is `{}`. Nested at most MAX_DEPTH, no lone surrogates."""
    raw = await read_body_bytes(request, MAX_BODY_BYTES)
    if not raw.strip():
        return {}
    body = parse_json(raw, forbid_upstream_fields=False)
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    return body
