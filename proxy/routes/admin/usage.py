"""`GET /admin/v1/usage?domain=&since=&until=&limit=`: what `teecube admin usage --json` prints."""

from __future__ import annotations

from aiohttp import web

from domains.usage import usage_totals
from proxy.routes.admin.common import listing, route, run_in_session
from proxy.routes.usage_query import usage_window


@route("GET", "/admin/v1/usage")
async def list_usage(request: web.Request) -> web.Response:
    since, until, limit = usage_window(request)
    domain = request.query.get("domain") or None
    return listing(
        await run_in_session(
            request,
            lambda s, _a: usage_totals(s, domain=domain, since=since, until=until, limit=limit),
            changes=False,
        )
    )
