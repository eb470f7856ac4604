"""The web console with `--workers`: served by worker 0 only, forwarded to it by the others.

Console sessions (sign-in, CSRF token, a new key's secret shown once) live in one process's
memory (`proxy.console.sessions`), and a browser's connections land on any worker. So worker 0
also listens on a Unix socket in the supervisor's private run directory, and every other worker
answers `/console*` by relaying the request there (method, path, query, headers, body up to the
app's body cap) and the answer back. The client's address travels in `X-Teecube-Console-Client`,
which worker 0 believes only on that Unix socket: the sign-in throttle stays per client address.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from proxy.console.web import is_compressed
from proxy.errors import ApiError

log = logging.getLogger("teecube.proxy.console")
CLIENT_HEADER = "X-Teecube-Console-Client"
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "te", "trailer",
        "proxy-connection", "proxy-authenticate", "proxy-authorization"}  # fmt: skip
_SESSION = web.AppKey("console_forward_session", aiohttp.ClientSession)


def _via_unix_socket(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and isinstance(transport.get_extra_info("sockname"), str)


@web.middleware
async def forwarded_client_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Worker 0: a console request relayed by another worker keeps its client's address."""
    client = request.headers.get(CLIENT_HEADER)
    if client and _via_unix_socket(request):
        request = request.clone(remote=client[:64])
    return await handler(request)


async def _forward(request: web.Request) -> web.StreamResponse:
    if is_compressed(request):  # its forms never are; worker 0 would get the decoded bytes mislabelled
        raise ApiError(415, "The console takes no compressed request bodies.", code="unsupported_encoding")
    body = await request.read()  # bounded by the app's client_max_size
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP and k != CLIENT_HEADER]
    headers.append((CLIENT_HEADER, request.remote or "unknown"))
    try:
        async with request.app[_SESSION].request(
            request.method, f"http://console{request.rel_url}", headers=headers, data=body,
            allow_redirects=False,
        ) as upstream:  # fmt: skip
            payload = await upstream.read()
            out = web.Response(status=upstream.status, body=payload)
            for key, value in upstream.headers.items():
                if key.lower() not in _HOP:
                    out.headers.add(key, value)
            return out
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        log.warning("console relay to worker 0 failed (%s)", type(exc).__name__)
        raise ApiError(503, "The console is restarting. Please retry.", code="console_unavailable",
                       type_="server_error", headers={"Retry-After": "2"}) from None  # fmt: skip


def mount_console_forward(app: web.Application, socket_path: str) -> None:
    """Every worker but 0: `/console` and everything under it go to worker 0."""

    async def session(app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.UnixConnector(path=socket_path, limit=32)
        app[_SESSION] = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, timeout=aiohttp.ClientTimeout(total=60)
        )
        yield
        await app[_SESSION].close()

    app.cleanup_ctx.append(session)
    app.router.add_route("*", "/console", _forward)
    app.router.add_route("*", "/console/{tail:.*}", _forward)
