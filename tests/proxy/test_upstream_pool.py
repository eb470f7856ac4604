"""The pooled upstream session keeps no state between requests (it serves every tenant)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestServer

from proxy.forward.upstream import Upstream, UpstreamPool


async def _cookies_seen() -> list[str | None]:
    seen: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        resp = web.json_response({"ok": True})
        resp.set_cookie("session", "issued-for-the-first-tenant")
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    async with TestServer(app, host="127.0.0.1") as server:
        pool = UpstreamPool()
        # A host name, not an IP address: aiohttp's default jar ignores cookies from IP addresses.
        upstream = Upstream(f"http://localhost:{server.port}")
        try:
            for request_id in ("req_a", "req_b"):
                session = pool.session(upstream)
                async with session.post(upstream.endpoint("/v1/chat/completions"), data=b"{}",
                                        headers=pool.headers(upstream, request_id)) as resp:
                    assert resp.status == 200
                    assert resp.cookies["session"].value == "issued-for-the-first-tenant"
        finally:
            await pool.close()
    return seen


def test_a_cookie_set_by_the_upstream_is_not_sent_again() -> None:
    assert asyncio.run(_cookies_seen()) == [None, None]
