"""Query parameters shared by `GET /v1/usage` and `GET /admin/v1/usage`."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from domains.usage import MAX_USAGE_ROWS
from proxy.errors import bad_request


def _time(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:  # a time UTC cannot hold (9999-12-31T23:59:59-23:59) overflows converting: the same 400
        value = datetime.fromisoformat(raw) if len(raw) <= 40 else None
        if value is not None:
            value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        value = None
    if value is None:
        raise bad_request(f"`{name}` must be an ISO 8601 date or time.", param=name, code="invalid_value")
    return value


def usage_window(request: web.Request) -> tuple[datetime | None, datetime | None, int]:
    """`since`, `until` (ISO 8601, UTC without a zone) and `limit` (1..MAX_USAGE_ROWS)."""
    raw = request.query.get("limit", "1000")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6 and 1 <= int(raw) <= MAX_USAGE_ROWS):
        raise bad_request(f"`limit` must be an integer from 1 to {MAX_USAGE_ROWS}.", param="limit",
                          code="invalid_value")
    return _time(request, "since"), _time(request, "until"), int(raw)
