"""An encrypted (HPKE-sealed) request's body has the same deadline as a plain one: a body that does
not arrive within `body_timeout` is a 408 and the connection is freed. The sealed body is read before
any credential is checked, and it was read with no deadline at all, so anyone could hold the
proxy's connections open forever by announcing an encrypted request and sending its body slowly
(the header timeout ends when the headers are in)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from functools import partial

import pytest

from attestation import hpke_wire
from attestation.hpke import KeyPair
from proxy.app import create_app
from proxy.encryption import Encryption
from proxy.listener import HardenedRunner
from tests.proxy.conftest import AppThread, Tenancy, database_url_for, proxy_config


@pytest.fixture(scope="module")
def proxy(tmp_path_factory) -> Iterator[AppThread]:
    urls = database_url_for("sqlite", tmp_path_factory, "sealed_body")
    t = Tenancy(next(urls))
    t.domain("sb")
    config = proxy_config(t.url, body_timeout=1.0, header_timeout=30.0)
    runner = partial(HardenedRunner, header_timeout=config.header_timeout,
                     max_connections_per_address=config.max_connections_per_address)
    app = AppThread(lambda: create_app(config, encryption=Encryption(KeyPair.generate())),
                    handler_cancellation=True, runner=runner).start()
    yield app
    app.stop()
    urls.close()


def _head(length: int) -> bytes:
    """The headers of an encrypted request (no credential: none is needed to send the body)."""
    return (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            f"{hpke_wire.H_ENCRYPTION}: {hpke_wire.SCHEME}\r\n{hpke_wire.H_KEY_ID}: k\r\n"
            f"{hpke_wire.H_TIME}: {int(time.time())}\r\nContent-Type: {hpke_wire.MEDIA_TYPE}\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def test_a_sealed_body_that_does_not_arrive_is_408(proxy) -> None:
    head = _head(1000)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=15) as sock:
        sock.sendall(head + b"\x00" * 10)  # 10 of the 1,000 bytes announced, then nothing
        response = sock.recv(65536)
    assert response, "no answer: the sealed body was waited for without a deadline"
    assert _status(response) == 408 and b"request_timeout" in response
    assert time.monotonic() - started < 10


def test_a_complete_but_bogus_sealed_body_is_still_a_4xx(proxy) -> None:
    body = b"\x00" * 100
    head = _head(len(body))
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=15) as sock:
        sock.sendall(head + body)
        response = sock.recv(65536)
    assert 400 <= _status(response) < 500 and b'"error"' in response
