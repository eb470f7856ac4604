"""Operator admin API under `/admin/v1/`: the same actions as `teecube admin`.

Authenticated by the operator token only (constant-time compare); a tenant key is
never accepted here. Every change writes an audit event (done in `domains/`).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from proxy.errors import ApiError
from proxy.state import CONFIG, DIRECTORY

routes = web.RouteTableDef()


def _operator(request: web.Request) -> str:
    token = request.app[CONFIG].operator_token or ""
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    ok = scheme.lower() == "bearer" and bool(token)
    # Always compare, so a wrong scheme costs the same as a wrong token.
    if not hmac.compare_digest(presented.strip().encode(), token.encode()) or not ok:
        raise ApiError(401, "Invalid operator token.", code="invalid_operator_token")
    return "admin-api:operator"


async def run_in_session(request: web.Request, action: Callable[[Session, str], Any]) -> Any:
    """Authenticate the operator, then run one unit of work in a worker thread."""
    actor = _operator(request)
    factory = request.app["session_factory"]

    def work() -> Any:
        with factory.begin() as session:
            return action(session, actor)

    result = await asyncio.to_thread(work)
    request.app[DIRECTORY].invalidate()
    return result


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@routes.get("/admin/v1/domains")
async def list_domains(request: web.Request) -> web.Response:
    from domains.tenants import list_domains as _list

    rows = await run_in_session(
        request, lambda s, _actor: [{"name": d.name, "status": d.status} for d in _list(s)]
    )
    return web.json_response({"object": "list", "data": rows})
