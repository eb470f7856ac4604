"""Usage records: one metadata row per request, written in batches. Never prompt or completion text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from domains.errors import Invalid
from domains.models import UsageRecord, utcnow

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
