"""The tenant-facing HTTP listener, hardened against malformed and hostile connections.

- A connection must finish its request headers within `header_timeout` seconds of opening (and
  of its previous response): aiohttp's keep-alive timer closes a connection that is waiting
  for a request, so idle and slow-header connections cannot pile up.
- At most `max_connections_per_address` open connections per client address (an IPv6 client: per
  /64, `proxy.addresses`); more are answered with a fixed 429 and closed. Under `--workers N` the
  count spans every worker (`proxy.connection_table`).
- A request the HTTP parser rejects (bad request line, header bytes, chunked encoding, ...) is
  answered with a fixed OpenAI error: aiohttp's own answer and log line quote the raw bytes.
- No `Server:` version banner.
Body read deadlines are enforced where bodies are read (`proxy.body`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from proxy.addresses import limit_key
from proxy.connection_table import SharedConnections
from proxy.loghygiene import RateLimitedLog

SERVER_NAME = "teecube"
log = RateLimitedLog(logging.getLogger("teecube.proxy.listener"))

_REFUSED = (
    b"HTTP/1.1 429 Too Many Requests\r\nServer: teecube\r\nContent-Type: application/json\r\n"
    b"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
)


def _error_json(status: int, message: str, code: str) -> str:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})


_REFUSED_BODY = _error_json(429, "Too many connections from your address.", "too_many_connections").encode()
REFUSED_RESPONSE = _REFUSED % (len(_REFUSED_BODY), _REFUSED_BODY)


class ConnectionCounter:
    """Open connections per client address: this process's own, plus (with `shared`) what the other
    workers hold for the address's slot."""

    def __init__(self, limit: int, shared: SharedConnections | None = None) -> None:
        self.limit = limit
        self.shared = shared
        self._open: dict[str, int] = {}

    def open(self, address: str) -> bool:
        count = self._open.get(address, 0)
        slot = self.shared.slot(address) if self.shared is not None else 0
        others = self.shared.others(slot) if self.shared is not None else 0
        if count + others >= self.limit:
            return False
        self._open[address] = count + 1
        if self.shared is not None:
            self.shared.add(slot, 1)
        return True

    def close(self, address: str) -> None:
        if address not in self._open:
            return
        count = self._open[address] - 1
        if count > 0:
            self._open[address] = count
        else:
            del self._open[address]
        if self.shared is not None:
            self.shared.add(self.shared.slot(address), -1)

    def count(self, address: str) -> int:
        return self._open.get(address, 0)


def _address(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple | list) and peer:
        return limit_key(str(peer[0]))  # an IPv6 client counts under its /64
    return "local"


class GuardedHandler(RequestHandler):
    """aiohttp's per-connection protocol with the cap and a fixed answer to unparsable requests."""

    counter: ConnectionCounter | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._tc_address = _address(transport)
        self._tc_counted = self.counter is None or self.counter.open(self._tc_address)
        if not self._tc_counted:
            log.warning("refused a connection: too many open connections from one address")
            transport.write(REFUSED_RESPONSE)  # type: ignore[attr-defined]
            transport.close()
            return
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        if not getattr(self, "_tc_counted", False):
            return
        if self.counter is not None:
            self.counter.close(self._tc_address)
            self._tc_counted = False
        super().connection_lost(exc)

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        # The exception and aiohttp's message may quote the raw request bytes: log the type only.
        log.info("rejected a malformed HTTP request status=%d type=%s", status, type(exc).__name__)
        if request.writer.output_size > 0:
            raise ConnectionError("response already started")
        if 400 <= status < 500:
            body = _error_json(status, "The HTTP request is malformed.", "bad_http_request")
        else:
            status = 500
            body = _error_json(500, "Internal error.", "internal_error")
        resp = web.Response(status=status, text=body, content_type="application/json",
                            headers={"Server": SERVER_NAME})
        resp.force_close()
        return resp


class _GuardedServer(web.Server):
    counter: ConnectionCounter | None = None

    def __call__(self) -> RequestHandler:
        handler = GuardedHandler(self, loop=self._loop, **self._kwargs)
        handler.counter = self.counter
        return handler


class HardenedRunner(web.AppRunner):
    """An AppRunner whose connections are `GuardedHandler`s sharing one per-address counter."""

    def __init__(self, app: web.Application, *, header_timeout: float, max_connections_per_address: int,
                 shared_connections: SharedConnections | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("access_log", None)
        super().__init__(app, keepalive_timeout=header_timeout, **kwargs)
        self.counter = ConnectionCounter(max_connections_per_address, shared_connections)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _GuardedServer  # same layout; only __call__ differs
        server.counter = self.counter  # type: ignore[attr-defined]
        return server


async def _no_banner(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = SERVER_NAME


def drop_server_banner(app: web.Application) -> None:
    """`Server: teecube` instead of aiohttp's `Python/x aiohttp/y` on every response."""
    app.on_response_prepare.append(_no_banner)


def mark_worker(app: web.Application, index: int) -> None:
    """`X-Teecube-Worker: <index>` on every response of a `--workers` worker (which of the N
    processes answered: for operators and tests; the index only, no pid or host)."""
    value = str(index)

    async def _mark(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["X-Teecube-Worker"] = value

    app.on_response_prepare.append(_mark)
