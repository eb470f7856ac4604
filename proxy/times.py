"""Times a client gives (ISO 8601 in a query, a JSON body or a form), checked before use.

`datetime.fromisoformat` accepts times UTC cannot hold: `9999-12-31T23:59:59-23:59` is past
year 9999 in UTC and `0001-01-01T00:00:00+23:59` before year 1, so converting them (which the
database layer does to every bound time) raises OverflowError. Such a time is the client's
mistake: a 400 naming the field, never a 500.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any


def as_utc(value: datetime) -> datetime | None:
    """`value` in UTC, or None when UTC cannot hold it."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return None


def unrepresentable_time(inp: Any) -> str | None:
    """The name of a time field of a dataclass input that UTC cannot hold, or None."""
    if not dataclasses.is_dataclass(inp):
        return None
    for f in dataclasses.fields(inp):
        value = getattr(inp, f.name, None)
        if isinstance(value, datetime) and as_utc(value) is None:
            return f.name
    return None
