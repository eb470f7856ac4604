"""`/health` for probes. (`/metrics` is on the operator listener: `proxy.operator_listener`.)"""

from __future__ import annotations

import os

from aiohttp import web

from proxy.state import CONFIG

routes = web.RouteTableDef()
_seen: set[str] = set()  # ready markers found (a marker stays once the supervisor creates it)


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    """200 once this proxy serves; 503 `starting` while a supervisor's workers are still starting (the
    first one up would otherwise answer for all of them, and a probe's traffic would wait in the
    others' backlogs)."""
    marker = request.app[CONFIG].ready_marker
    if marker is not None and marker not in _seen:
        if not os.path.exists(marker):
            return web.json_response({"status": "starting"}, status=503)
        _seen.add(marker)
    return web.json_response({"status": "ok"})
