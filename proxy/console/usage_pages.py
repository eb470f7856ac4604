"""Usage (per domain, model and day, with charts) and the audit log (filters, pages)."""

from __future__ import annotations

from aiohttp import web

from domains import tenants
from proxy.console.charts import bar_chart
from proxy.console.queries import AUDIT_PAGE, AuditPage, UsageReport, audit_page, usage_report
from proxy.console.sessions import ConsoleSession
from proxy.console.web import Refused, act, page, render

DEFAULT_DAYS = 7


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name, "")
    if raw.isascii() and raw.isdigit() and len(raw) <= 6:
        return max(low, min(high, int(raw)))
    return default


def charts(report: UsageReport) -> list:
    days = [(d[5:], report.by_day[d]) for d in report.days]
    return [
        bar_chart("Requests per day", [(d, t.requests) for d, t in days]),
        bar_chart("Prompt tokens per day", [(d, t.prompt_tokens) for d, t in days]),
        bar_chart("Completion tokens per day", [(d, t.completion_tokens) for d, t in days]),
        bar_chart("Limit and guardrail hits per day",
                  [(d, t.limit_hits + t.guardrail_hits) for d, t in days]),
    ]


@page("GET", "/usage", "operator")
async def usage_page(request: web.Request, session: ConsoleSession) -> web.Response:
    days = _int_param(request, "days", DEFAULT_DAYS, 1, 90)
    domain = request.query.get("domain") or None

    def load(s):  # type: ignore[no-untyped-def]
        domain_id = tenants.get_domain(s, domain).id if domain else None
        names = [d.name for d in tenants.list_domains(s)]
        return usage_report(s, days=days, domain_id=domain_id), names

    try:
        report, names = await act(request, load, changes=False)
    except Refused as exc:
        return render(request, "not_found.jinja", session, status=404, message=str(exc))
    return render(request, "usage.jinja", session, report=report, charts=charts(report), days=days,
                  domain=domain, domain_names=names)


@page("GET", "/audit", "operator")
async def audit_log_page(request: web.Request, session: ConsoleSession) -> web.Response:
    filters = {k: (request.query.get(k) or "").strip()[:128] or None
               for k in ("actor", "action", "object_type")}
    number = _int_param(request, "page", 1, 1, 100_000)
    status = 200
    try:
        result = await act(request, lambda s: audit_page(s, page=number, **filters), changes=False)
    except Refused as exc:  # a filter the database cannot compare (PostgreSQL refuses a NUL)
        session.flashes.append(("error", str(exc)))
        result, status = AuditPage([], number, False), 400
    return render(request, "audit.jinja", session, status=status, result=result, filters=filters,
                  page_size=AUDIT_PAGE)
