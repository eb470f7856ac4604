"""Model rows as plain dicts for the CLI and the admin API: non-secret columns only."""

from __future__ import annotations

from typing import Any

from domains.audit import snapshot
from domains.models import Base


def as_dict(obj: Base | dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Non-secret columns of a model row (secret_hash never leaves)."""
    data = dict(obj) if isinstance(obj, dict) else snapshot(obj)
    data.update(extra)
    return data
