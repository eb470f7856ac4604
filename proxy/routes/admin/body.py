"""Admin request bodies: capped, a JSON object, only known fields, each of the expected type.

A spec maps field name to kind: `str`, `int`, `bool`, `object`, `str_list`, `key_list`
(PEM strings or JWK objects) or `time` (ISO 8601, UTC when no offset is given); a trailing
`?` allows null. Fields named in `required` must be present and non-null.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from proxy.body import parse_json, read_body_bytes
from proxy.errors import bad_request

MAX_BODY_BYTES = 256 * 1024

_CHECKS: dict[str, tuple[str, Any]] = {
    "str": ("a string", lambda v: isinstance(v, str)),
    "int": (
        "an integer below 2^31",
        lambda v: isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2**31,
    ),
    "bool": ("a boolean", lambda v: isinstance(v, bool)),
    "object": ("a JSON object", lambda v: isinstance(v, dict)),
    "str_list": ("a list of strings", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v)),
    "key_list": (
        "a list of PEM strings or JWK objects",
        lambda v: isinstance(v, list) and all(isinstance(x, str | dict) for x in v),
    ),
    "time": ("an ISO 8601 timestamp", lambda v: isinstance(v, str)),
}


async def _read(request: web.Request) -> Any:
    # Capped (after decompression), with a deadline, nested at most MAX_DEPTH, no lone surrogates.
    raw = await read_body_bytes(request, MAX_BODY_BYTES)
    if not raw.strip():
        return {}
    return parse_json(raw, forbid_upstream_fields=False)


def _time(value: str, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise bad_request(
            f"{field} must be an ISO 8601 timestamp", param=field, code="invalid_request"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def read_fields(
    request: web.Request, spec: Mapping[str, str], required: Collection[str] = ()
) -> dict[str, Any]:
    """The body's fields, checked against `spec`; absent fields are absent from the result."""
    body = await _read(request)
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    for field in body:
        if field not in spec:
            shown = field if len(field) <= 64 and field.isprintable() else "(unprintable)"
            raise bad_request(f"Unknown field '{shown}'.", param=shown, code="unknown_field")
    out: dict[str, Any] = {}
    for field, kind in spec.items():
        if field not in body:
            continue
        value = body[field]
        nullable = kind.endswith("?")
        base = kind.rstrip("?")
        what, check = _CHECKS[base]
        if value is None and nullable:
            out[field] = None
        elif value is None or not check(value):
            suffix = " or null" if nullable else ""
            raise bad_request(f"{field} must be {what}{suffix}.", param=field, code="invalid_request")
        else:
            out[field] = _time(value, field) if base == "time" else value
    for field in required:
        if out.get(field) is None:
            raise bad_request(f"{field} is required.", param=field, code="invalid_request")
    return out
