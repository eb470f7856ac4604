"""The tenant listener under hostile connections, driven with raw sockets: idle and slow-header
connections are closed, connections over the per-address cap are refused while other clients are
served, unparsable requests get a fixed 4xx and never put their bytes (a canary, an API key) in
any log even at DEBUG, a flood of them writes a bounded log, no `Server:` version banner;
`/metrics` is not on the tenant port and needs the operator token on its own listener; the auth
throttles never lock out a valid credential; `/attestation` is rate limited per address."""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator

import httpx2 as httpx
import pytest
from aiohttp import web

from tests.proxy.conftest import ProxyThread, Tenancy, database_url_for, proxy_config

TOKEN = "operator-token-hardening-" + secrets.token_hex(8)
CANARY = "CANARY" + secrets.token_hex(6).upper()


async def _attestation(request: web.Request) -> web.Response:
    return web.json_response({"evidence": "simulated"})


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Iterator[tuple[ProxyThread, Tenancy]]:
    urls = database_url_for("sqlite", tmp_path_factory, "hardening")
    t = Tenancy(next(urls))
    t.domain("d")
    t.deployment("dead", "unix:/nonexistent/teecube-hardening.sock", credential_ref=None)
    t.grant("d", "chat", "dead")
    t.key("d", "k")
    config = proxy_config(t.url, operator_token=TOKEN, header_timeout=1.0, body_timeout=1.0,
                          max_connections_per_address=8, auth_failure_limit=5, attestation_per_minute=3)
    proxy = ProxyThread(config, extra_routes=[web.get("/attestation", _attestation)]).start()
    yield proxy, t
    proxy.stop()
    urls.close()


def _connect(proxy: ProxyThread, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=10, source_address=(source, 0))
    return sock


def _exchange(proxy: ProxyThread, raw: bytes, source: str = "127.0.0.1") -> bytes:
    """Send raw bytes, return everything the server sent before it closed (or 10 s passed)."""
    with _connect(proxy, source) as sock:
        try:
            sock.sendall(raw)
        except OSError:
            pass
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return received


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.") else 0


def _get(proxy: ProxyThread, path: str, key: str | None = None, source: str = "127.0.0.1") -> bytes:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    raw = f"GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n".encode()
    return _exchange(proxy, raw, source)


@pytest.mark.slow  # waits out the listener's header and idle timeouts (about 2 s)
def test_idle_and_slow_header_connections_are_closed(setup) -> None:
    proxy, _ = setup
    for opening in (b"", b"GET /health HTTP/1.1\r\nHost: x\r\n"):
        started = time.monotonic()
        with _connect(proxy) as sock:
            sock.sendall(opening)
            assert sock.recv(1024) == b""  # closed by the server, not by our 10 s timeout
        assert time.monotonic() - started < 8
    assert _status(_get(proxy, "/health")) == 200


def test_a_body_that_does_not_arrive_is_408(setup) -> None:
    proxy, t = setup
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t.keys['k']}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\"").encode()
    with _connect(proxy) as sock:
        sock.sendall(head)
        response = sock.recv(65536)
    assert _status(response) == 408 and b"request_timeout" in response


def test_connections_over_the_cap_are_refused_and_others_still_served(setup) -> None:
    proxy, t = setup
    held = [_connect(proxy) for _ in range(8)]
    try:
        time.sleep(0.2)
        refused = _get(proxy, "/health")
        assert _status(refused) == 429 and b"too_many_connections" in refused
        assert _status(_get(proxy, "/v1/models", t.keys["k"], source="127.0.0.2")) == 200
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while _status(_get(proxy, "/health")) != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def _malformed(key: str) -> list[bytes]:
    c, k = CANARY.encode(), key.encode()
    auth = b"Authorization: Bearer " + k + b"\r\n"
    post = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + auth
    return [
        post + b"Transfer-Encoding: chunked\r\n\r\nzz" + c + b"\r\n" + c + b"\r\n0\r\n\r\n",  # bad chunk size
        post + b"Transfer-Encoding: chunked\r\n\r\n5\r\n" + c + b"\r\n0\r\n\r\n",  # chunk longer than said
        post + b"X-Note: " + c + b"\x01\x02\r\nContent-Length: 2\r\n\r\n{}",  # control bytes in a header
        post + b"X-Note: " + c + b"\x00\r\n\r\n",
        b"G\x01T /" + c + b" HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n",  # bad method
        b"GET /" + c + b"\xff\xfe HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n",  # bad bytes in the target
        k + b" " + c + b"\r\n\r\n",  # not HTTP at all
        b"\x16\x03\x01\x02\x00" + c + k,  # TLS to a plain port
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + c * 3000 + b"\r\n" + auth + b"\r\n",  # header too long
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe" + c + b"\r\n\r\n",
        post + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + c,  # both framings
        post + b"Content-Length: -1\r\n\r\n" + c,
        post + b"Content-Length: 9999999999999999999999\r\n\r\n" + c,
        post + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(c) + c,  # junk gzip
        post + b"Content-Encoding: br\r\nContent-Length: %d\r\n\r\n" % len(c) + c,
        post + b"Content-Encoding: deflate\r\nContent-Length: %d\r\n\r\n" % len(c) + c,
        b"GET /v1/models HTTP/9.9\r\nHost: x\r\n" + auth + b"X: " + c + b"\r\n\r\n",
        b"GET /v1/models HTTP/1.1\r\n" + c + b"\r\n" + auth + b"\r\n",  # a header line without a colon
    ]


def test_malformed_requests_get_a_fixed_4xx_and_never_reach_a_log(setup, log_capture) -> None:
    proxy, t = setup
    key = t.keys["k"]
    start = len(log_capture.lines)
    for raw in _malformed(key):
        response = _exchange(proxy, raw)
        status = _status(response)
        assert response == b"" or 400 <= status < 500, (raw[:60], response[:200])
        assert CANARY.encode() not in response and key.encode() not in response
        assert b"aiohttp" not in response and b"Python/" not in response
    logged = "\n".join(log_capture.lines[start:])
    assert "malformed HTTP request" in logged  # the parser's rejections were logged, as type names
    assert CANARY not in logged and key not in logged


def test_a_flood_of_bad_connections_writes_a_bounded_log(setup, log_capture) -> None:
    proxy, _ = setup
    start = len(log_capture.lines)
    began = time.monotonic()
    for i in range(300):
        _exchange(proxy, b"BROKEN\x01 " + str(i).encode() + b"\r\n\r\n")
    elapsed = time.monotonic() - began
    ours = ("aiohttp", "teecube.proxy.listener")
    lines = [line for line in log_capture.lines[start:] if line.startswith(ours)]
    assert len(lines) <= 100 + 20 * elapsed + 5  # the burst, then 20 lines a second at most


def test_no_version_banner(setup) -> None:
    proxy, _ = setup
    for response in (_get(proxy, "/health"), _get(proxy, "/nothing"), _exchange(proxy, b"BAD\x01\r\n\r\n")):
        head = response.split(b"\r\n\r\n", 1)[0].lower()
        assert b"\r\nserver: teecube\r\n" in head + b"\r\n"
        assert b"aiohttp" not in head and b"python" not in head


def test_metrics_are_not_on_the_tenant_port_and_need_the_operator_token(setup) -> None:
    proxy, t = setup
    assert _status(_get(proxy, "/metrics", t.keys["k"])) == 404
    assert _status(_get(proxy, "/metrics", TOKEN)) == 404
    with httpx.Client(timeout=10) as http:
        for headers in ({}, {"Authorization": f"Bearer {t.keys['k']}"}, {"Authorization": "Bearer x"}):
            r = http.get(proxy.metrics_url, headers=headers)
            assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_operator_token"
            assert "teecube_proxy" not in r.text
        r = http.get(proxy.metrics_url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200 and "teecube_proxy_requests" in r.text


@pytest.mark.parametrize("path", ["/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/embeddings",
                                  "/admin/v1/domains", "/admin/v1/deployments"])
def test_an_invalid_utf8_or_repeated_authorization_is_401_not_500(setup, path) -> None:
    proxy, t = setup
    method = "GET" if path in ("/v1/models", "/admin/v1/domains") else "POST"
    for auth in (b"Authorization: Bearer \xff\xfe\xc3\x28sk-tc-x\r\n",
                 b"Authorization: Bearer " + t.keys["k"].encode() + b"\r\nAuthorization: Bearer "
                 + TOKEN.encode() + b"\r\n",
                 b"Authorization: Bearer \xed\xa0\x80\r\n"):
        raw = (method.encode() + b" " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + auth
               + b"Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        response = _exchange(proxy, raw, source="127.0.0.3")
        assert _status(response) in (401, 429), response[:300]
        assert b'"error"' in response


def test_failed_keys_are_throttled_but_a_valid_key_from_the_same_address_still_works(setup) -> None:
    proxy, t = setup
    source = "127.0.0.4"
    statuses = [_status(_get(proxy, "/v1/models", "sk-tc-wrong", source)) for _ in range(8)]
    assert statuses[:4] == [401] * 4 and statuses[-1] == 429
    assert b"Retry-After" in _get(proxy, "/v1/models", "sk-tc-wrong", source)
    assert _status(_get(proxy, "/v1/models", t.keys["k"], source)) == 200  # never locked out


def test_wrong_operator_tokens_are_throttled_the_right_one_still_works(setup) -> None:
    proxy, _ = setup
    source = "127.0.0.5"
    wrong = "wrong-token-wrong-token"
    statuses = [_status(_get(proxy, "/admin/v1/domains", wrong, source)) for _ in range(8)]
    assert statuses[:4] == [401] * 4 and statuses[-1] == 429
    assert _status(_get(proxy, "/admin/v1/domains", TOKEN, source)) == 200


def test_attestation_is_rate_limited_per_address(setup) -> None:
    proxy, _ = setup
    statuses = [_status(_get(proxy, "/attestation", source="127.0.0.6")) for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert _status(_get(proxy, "/attestation", source="127.0.0.7")) == 200
