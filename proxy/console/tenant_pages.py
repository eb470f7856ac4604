"""A tenant's own page: its domain's models, limits, its key's expiry and its own usage.

Everything is looked up from the session's domain id (set at sign-in from the key), never
from the URL: query parameters naming another domain are ignored.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from domains import keys
from domains.views import domain_settings, domain_view
from proxy.console.queries import usage_report
from proxy.console.sessions import ConsoleSession
from proxy.console.usage_pages import charts
from proxy.console.web import act, page, render

TENANT_DAYS = 7


def _mine(s: Session, session: ConsoleSession) -> dict[str, Any]:
    assert session.domain_id is not None and session.key_id is not None
    key = keys.get_key(s, session.key_id)
    view = domain_view(s, session.domain_id)
    allowed = set(key.allowed_aliases) if key.allowed_aliases is not None else None
    models = [m for alias, m in view.items() if allowed is None or alias in allowed]
    return {
        "settings": domain_settings(s, session.domain_id),
        "models": models,
        "key": {"key_id": key.key_id, "name": key.name, "prefix": key.prefix, "expires_at": key.expires_at,
                "requests_per_minute": key.requests_per_minute, "tokens_per_minute": key.tokens_per_minute},
        "report": usage_report(s, days=TENANT_DAYS, domain_id=session.domain_id),
    }


@page("GET", "/my", "tenant")
async def tenant_page(request: web.Request, session: ConsoleSession) -> web.Response:
    data = await act(request, lambda s: _mine(s, session), changes=False)
    return render(request, "tenant.jinja", session, charts=charts(data["report"]), **data)
