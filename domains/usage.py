"""Usage records: one metadata row per request, written in batches. Never prompt or completion text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from sqlalchemy import case, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from domains.errors import Invalid
from domains.models import ApiKey, Domain, DomainModel, UsageRecord, utcnow
from domains.tenants import get_domain

RULE_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_RULE_IDS_CHARS = 512


@dataclass(frozen=True, slots=True)
class UsageRecordIn:
    request_id: str
    domain_id: int
    alias: str
    status: str  # e.g. ok, error, blocked, rate_limited, cancelled
    status_code: int
    latency_ms: int
    key_id: str | None = None  # None when the caller authenticated with a JWT
    deployment_id: int | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    guardrail_rule_ids: tuple[str, ...] = ()
    created_at: datetime = field(default_factory=utcnow)


def _row(record: UsageRecordIn) -> dict[str, object]:
    # Rule ids only: anything that does not look like an id (text, say) is refused.
    bad = [r for r in record.guardrail_rule_ids if not RULE_ID_RE.fullmatch(r)]
    if bad:
        raise Invalid("guardrail_rule_ids must be rule ids ([A-Za-z0-9._:-], at most 64 characters)")
    row = asdict(record)
    joined = ",".join(record.guardrail_rule_ids)
    row["guardrail_rule_ids"] = joined[:MAX_RULE_IDS_CHARS] or None
    row["request_id"] = record.request_id[:64]
    row["alias"] = record.alias[:128]
    row["status"] = record.status[:32]
    return row


def record_usage(factory: sessionmaker[Session], records: Sequence[UsageRecordIn]) -> int:
    """Insert a batch in one transaction; returns how many rows were written."""
    if not records:
        return 0
    rows = [_row(r) for r in records]
    with factory.begin() as session:
        session.execute(insert(UsageRecord), rows)
    return len(rows)


# ---- reading: totals per domain, model, key and day ----------------------------------------

USAGE_COLUMNS = ("day", "domain", "model", "key_id", "requests", "errors", "prompt_tokens",
                 "completion_tokens")
MAX_USAGE_ROWS = 10_000


def usage_totals(
    session: Session,
    *,
    domain: str | int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = MAX_USAGE_ROWS,
) -> list[dict[str, object]]:
    """Request and token totals per (day, domain, model, key), newest day first.

    `domain` restricts to one domain (a tenant sees only its own); `since`/`until` bound
    `created_at` (UTC, half-open). Only counts and ids: usage rows never hold text.
    """
    if not 1 <= limit <= MAX_USAGE_ROWS:
        raise Invalid(f"limit must be from 1 to {MAX_USAGE_ROWS}")
    day = func.date(UsageRecord.created_at).label("day")
    stmt = (
        select(
            day,
            Domain.name.label("domain"),
            UsageRecord.alias.label("model"),
            UsageRecord.key_id,
            func.count().label("requests"),
            func.sum(case((UsageRecord.status == "ok", 0), else_=1)).label("errors"),
            func.sum(UsageRecord.prompt_tokens).label("prompt_tokens"),
            func.sum(UsageRecord.completion_tokens).label("completion_tokens"),
        )
        .join(Domain, Domain.id == UsageRecord.domain_id)
        .group_by(day, Domain.name, UsageRecord.alias, UsageRecord.key_id)
        .order_by(day.desc(), Domain.name, UsageRecord.alias, UsageRecord.key_id)
        .limit(limit)
    )
    if domain is not None:
        dom_id = domain if isinstance(domain, int) else get_domain(session, domain).id
        stmt = stmt.where(UsageRecord.domain_id == dom_id)
    if since is not None:
        stmt = stmt.where(UsageRecord.created_at >= _utc(since))
    if until is not None:
        stmt = stmt.where(UsageRecord.created_at < _utc(until))
    return [
        {**row._asdict(), "day": str(row.day), "requests": int(row.requests), "errors": int(row.errors or 0),
         "prompt_tokens": int(row.prompt_tokens or 0), "completion_tokens": int(row.completion_tokens or 0)}
        for row in session.execute(stmt)
    ]


def _utc(value: datetime) -> datetime:
    """A time without a zone is UTC (the columns hold UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def tenant_limits(session: Session, domain_id: int, key_id: str | None) -> dict[str, object]:
    """The limits a tenant's requests meet: its domain's, each model's grant, its key's.

    What a tenant may know about its own domain only: no deployment URLs, no credentials.
    """
    dom = session.get(Domain, domain_id)
    if dom is None:
        raise Invalid("unknown domain")
    grants = session.scalars(
        select(DomainModel).where(DomainModel.domain_id == domain_id).order_by(DomainModel.alias)
    )
    key = session.scalars(select(ApiKey).where(ApiKey.key_id == key_id)).one_or_none() if key_id else None
    if key is not None and key.domain_id != domain_id:
        key = None
    return {
        "domain": {
            "name": dom.name,
            "requests_per_minute": dom.requests_per_minute,
            "tokens_per_minute": dom.tokens_per_minute,
            "max_tokens_cap": dom.max_tokens_cap,
            "max_body_bytes": dom.max_body_bytes,
            "max_messages": dom.max_messages,
            "max_n": dom.max_n,
        },
        "models": [
            {
                "model": g.alias,
                "enabled": g.enabled,
                "requests_per_minute": g.requests_per_minute,
                "tokens_per_minute": g.tokens_per_minute,
                "max_tokens_cap": g.max_tokens_cap,
                "max_prompt_tokens": g.max_prompt_tokens,
            }
            for g in grants
        ],
        "key": None
        if key is None
        else {
            "key_id": key.key_id,
            "models": key.allowed_aliases,
            "requests_per_minute": key.requests_per_minute,
            "tokens_per_minute": key.tokens_per_minute,
            "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        },
    }
