"""`GET /v1/usage`: a tenant reads its own domain's usage and limits with its API key (or JWT).

The domain comes from the credential, never from the request, so nothing of another domain can
be asked for. Totals per day, model and key; counts only, never text.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from domains.usage import tenant_limits, usage_totals
from proxy.routes.usage_query import usage_window
from proxy.state import AUTH

routes = web.RouteTableDef()


@routes.get("/v1/usage")
async def get_usage(request: web.Request) -> web.Response:
    principal = await request.app[AUTH].authenticate(request)
    since, until, limit = usage_window(request)
    factory = request.app["session_factory"]

    def read() -> dict[str, Any]:
        with factory() as session:
            rows = usage_totals(session, domain=principal.domain_id, since=since, until=until, limit=limit)
            limits = tenant_limits(session, principal.domain_id, principal.key_id)
        return {"object": "usage", "domain": principal.domain_name, "data": rows, "limits": limits}

    return web.json_response(await asyncio.to_thread(read), headers={"Cache-Control": "no-store"})
