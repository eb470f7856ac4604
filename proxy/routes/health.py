"""`/health` for probes. (`/metrics` is on the operator listener: `proxy.operator_listener`.)"""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})
