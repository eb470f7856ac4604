"""Audit events: every operator action writes one, with before/after of non-secret fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from domains.errors import Invalid
from domains.models import AuditEvent, Base

# Columns never copied into an audit event, whatever the table.
SECRET_COLUMNS = frozenset({"secret_hash"})


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def snapshot(obj: Base) -> dict[str, Any]:
    """The object's non-secret columns as JSON-ready values."""
    mapper = inspect(obj).mapper
    return {
        attr.key: _plain(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in SECRET_COLUMNS
    }


def check_actor(actor: str) -> str:
    if not actor or not actor.strip() or len(actor) > 256:
        raise Invalid("actor must be a non-empty string of at most 256 characters (e.g. cli:alice)")
    return actor


def record(
    session: Session,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    for side in (before, after):
        if side and SECRET_COLUMNS & side.keys():
            raise ValueError("secret columns must not reach the audit log")
    event = AuditEvent(
        actor=check_actor(actor),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=before,
        after=after,
    )
    session.add(event)
    return event


def list_events(
    session: Session,
    *,
    limit: int = 100,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
) -> list[AuditEvent]:
    """The latest events, newest first, optionally only those of one actor, action or object type."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    for column, value in (
        (AuditEvent.actor, actor),
        (AuditEvent.action, action),
        (AuditEvent.object_type, object_type),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return list(session.scalars(stmt))
