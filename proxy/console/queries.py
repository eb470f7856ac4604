"""Read-only views for the console: usage summed per day/domain/model, the audit log by page.

Usage rows are metadata only (tokens, status, rule ids): nothing here can show prompt text.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domains.models import AuditEvent, Domain, UsageRecord

MAX_USAGE_DAYS = 90
AUDIT_PAGE = 25


@dataclass
class UsageTotals:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    limit_hits: int = 0
    guardrail_hits: int = 0

    def add(self, row: Any) -> None:
        self.requests += 1
        self.prompt_tokens += row.prompt_tokens
        self.completion_tokens += row.completion_tokens
        self.limit_hits += row.status == "rate_limited" or row.status_code == 429
        self.guardrail_hits += bool(row.guardrail_rule_ids)


@dataclass
class UsageReport:
    days: list[str]
    by_day: dict[str, UsageTotals] = field(default_factory=dict)
    by_domain: dict[str, UsageTotals] = field(default_factory=dict)
    by_model: dict[tuple[str, str], UsageTotals] = field(default_factory=dict)
    total: UsageTotals = field(default_factory=UsageTotals)


def usage_report(session: Session, *, days: int, domain_id: int | None = None,
                 now: datetime | None = None) -> UsageReport:
    """Totals over the last `days` days (UTC), optionally for one domain only."""
    days = max(1, min(days, MAX_USAGE_DAYS))
    now = now or datetime.now(UTC)
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    names = {d.id: d.name for d in session.scalars(select(Domain))}
    stmt = select(
        UsageRecord.domain_id, UsageRecord.alias, UsageRecord.prompt_tokens, UsageRecord.completion_tokens,
        UsageRecord.status, UsageRecord.status_code, UsageRecord.guardrail_rule_ids, UsageRecord.created_at,
    ).where(UsageRecord.created_at >= start)
    if domain_id is not None:
        stmt = stmt.where(UsageRecord.domain_id == domain_id)
    labels = [(start + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(days)]
    report = UsageReport(days=labels, by_day={d: UsageTotals() for d in labels})
    by_domain: dict[str, UsageTotals] = defaultdict(UsageTotals)
    by_model: dict[tuple[str, str], UsageTotals] = defaultdict(UsageTotals)
    for row in session.execute(stmt):
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        day = created.astimezone(UTC).strftime("%Y-%m-%d")
        domain = names.get(row.domain_id, str(row.domain_id))
        for totals in (report.by_day.setdefault(day, UsageTotals()), by_domain[domain],
                       by_model[(domain, row.alias)], report.total):
            totals.add(row)
    report.by_domain = dict(sorted(by_domain.items()))
    report.by_model = dict(sorted(by_model.items()))
    return report


@dataclass
class AuditPage:
    events: list[AuditEvent]
    page: int
    has_next: bool


def audit_page(session: Session, *, page: int = 1, actor: str | None = None, action: str | None = None,
               object_type: str | None = None) -> AuditPage:
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc())
    if actor:
        stmt = stmt.where(AuditEvent.actor == actor)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    page = max(1, page)
    rows = list(session.scalars(stmt.offset((page - 1) * AUDIT_PAGE).limit(AUDIT_PAGE + 1)))
    return AuditPage(rows[:AUDIT_PAGE], page, len(rows) > AUDIT_PAGE)
