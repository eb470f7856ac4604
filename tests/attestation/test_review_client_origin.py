"""Review: the clients an `AttestedConnection` makes send only to the attested origin over https.

Before, `conn.http_client()` was a plain httpx2 client with the pinned TLS context: a plain
http:// URL (same host or another) went out in clear text, the pin never consulted, and with
`follow_redirects` a redirect from the server's path to another host was followed."""

from __future__ import annotations

import asyncio
import http.server
import threading

import httpx2
import openai
import pytest
from aiohttp import web

from attestation import client, tls
from attestation.encrypted_client import OriginRefused, origin_of
from attestation.hpke_wire import WireError
from attestation.server import attestation_routes


class PlainSink:
    """A plain-HTTP server that records every request it receives."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                sink.received.append(self.rfile.read(n))
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> PlainSink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class RedirectingServer:
    """The attested server (simulated TEE), whose /v1/chat/completions redirects to `target`."""

    def __init__(self, sim, target: str) -> None:  # type: ignore[no-untyped-def]
        self.identity = tls.TlsIdentity.generate(["127.0.0.1"], sim)
        self.sim, self.target, self.port = sim, target, 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def _redirect(self, request: web.Request) -> web.Response:
        await request.read()
        raise web.HTTPTemporaryRedirect(self.target)

    async def _start(self) -> None:
        app = web.Application()
        app.add_routes(attestation_routes(self.sim, None, self.identity))
        app.add_routes([web.post("/v1/chat/completions", self._redirect)])
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.identity.ssl_context())
        await site.start()
        self.port = self._runner.addresses[0][1]

    def __enter__(self) -> RedirectingServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=20)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=20)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def sink():
    with PlainSink() as s:
        yield s


@pytest.fixture(scope="module")
def server(sim, sink):
    with RedirectingServer(sim, f"http://127.0.0.1:{sink.port}/v1/chat/completions") as s:
        yield s


@pytest.mark.parametrize("encrypt", [False, True])
def test_plain_http_is_refused_before_sending(sim, server, sink, encrypt) -> None:
    conn = client.connect(server.url, trusted_simulated_root=sim.root_pem, encrypt=encrypt)
    with conn.http_client() as http:
        for url in (f"http://127.0.0.1:{sink.port}/v1/chat/completions",  # another port, plain
                    f"http://127.0.0.1:{server.port}/v1/chat/completions",  # the same port, plain
                    f"https://localhost:{server.port}/v1/chat/completions"):  # another host name
            with pytest.raises(OriginRefused):
                http.post(url, json={"messages": "secret"})
    assert sink.received == []


@pytest.mark.parametrize("encrypt", [False, True])
def test_a_redirect_to_another_origin_is_not_followed(sim, server, sink, encrypt) -> None:
    # encrypted: the unsealed 307 itself is refused (WireError); plain: the hop is (OriginRefused)
    refused = (OriginRefused, WireError) if encrypt else OriginRefused
    conn = client.connect(server.url, trusted_simulated_root=sim.root_pem, encrypt=encrypt)
    with conn.http_client(follow_redirects=True) as http, pytest.raises(refused):
        http.post(conn.openai_base_url + "/chat/completions", json={"messages": "secret"})
    api = openai.OpenAI(base_url=conn.openai_base_url, api_key="k", max_retries=0,
                        http_client=conn.http_client(follow_redirects=True))
    with pytest.raises(refused):
        api.chat.completions.create(model="demo", messages=[{"role": "user", "content": "secret"}])
    assert sink.received == []


def test_the_openai_sdk_with_an_http_base_url_is_refused(sim, server, sink) -> None:
    conn = client.connect(server.url, trusted_simulated_root=sim.root_pem, encrypt=False)
    api = openai.OpenAI(base_url=f"http://127.0.0.1:{sink.port}/v1", api_key="k", max_retries=0,
                        http_client=conn.http_client())
    with pytest.raises(OriginRefused):
        api.chat.completions.create(model="demo", messages=[{"role": "user", "content": "secret"}])
    assert sink.received == []


def test_async_client_is_guarded_too(sim, server, sink) -> None:
    conn = client.connect(server.url, trusted_simulated_root=sim.root_pem, encrypt=False)

    async def go() -> None:
        async with conn.async_http_client() as http:
            await http.post(f"http://127.0.0.1:{sink.port}/v1/chat/completions", json={"m": "secret"})

    with pytest.raises(OriginRefused):
        asyncio.run(go())
    assert sink.received == []


def test_the_attested_origin_itself_still_works(sim, server) -> None:
    conn = client.connect(server.url, trusted_simulated_root=sim.root_pem, encrypt=False)
    with conn.http_client() as http:  # redirects not followed: the 307 itself comes back
        assert http.post(conn.openai_base_url + "/chat/completions", json={}).status_code == 307
    assert origin_of(f"https://127.0.0.1:{server.port}/v1") == ("https", "127.0.0.1", server.port)
    assert origin_of("https://Example.COM") == ("https", "example.com", 443)
    with pytest.raises(OriginRefused):
        origin_of("http://example.com")
    assert isinstance(conn.http_client(), httpx2.Client)
