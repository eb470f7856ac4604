"""Encrypted requests end to end: `teecube serve --demo`, the `openai` SDK through
`attestation.client.connect()`, and relays in between that log every byte they forward.

Two relays: one forwards TCP as is (it sees TLS records), one terminates TLS with its own
certificate, which the client trusts, and opens a new TLS connection to the server: it sees
every HTTP byte. Neither log may contain a byte of a prompt or a completion.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

import httpx2
import openai
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from demo_process import DemoServer, free_port

from attestation import hpke_wire
from attestation.client import AttestedConnection, connect
from attestation.hpke import KeyPair

# starts its own demo (engine + proxy); tests/ops covers the demo in `make test-fast`
pytestmark = pytest.mark.slow

MODEL = "smollm2"
MARKER = "okapi-vermilion-4417"  # a prompt word no relay may ever see
PROMPT = f"Repeat after me: {MARKER}. Then count from one to five."


class Relay:
    """Forwards 127.0.0.1:<port> to the demo server, logging every byte it forwards."""

    def __init__(self, upstream_port: int, tmp: Path, *, terminate_tls: bool) -> None:
        self.upstream_port, self.terminate_tls = upstream_port, terminate_tls
        self.port = free_port()
        self.log = bytearray()
        self.client_ctx: ssl.SSLContext | None = None
        self._server_ctx: ssl.SSLContext | None = None
        if terminate_tls:
            self._server_ctx, self.client_ctx = self._own_certificate(tmp)
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        threading.Thread(target=self._run, args=(started,), daemon=True).start()
        started.wait(10)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @staticmethod
    def _own_certificate(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay")])
        now = datetime.now(UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
                .not_valid_after(now + timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), False)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                .sign(key, hashes.SHA256()))
        pem = cert.public_bytes(serialization.Encoding.PEM)
        path = tmp / "relay.pem"
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        path.write_bytes(pem + key_pem)
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(path)
        client = ssl.create_default_context(cadata=pem.decode())  # the client trusts the relay
        return server, client

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port, ssl=self._server_ctx))
        started.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_ssl = None
        if self.terminate_tls:
            upstream_ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            upstream_ssl.check_hostname = False
            upstream_ssl.verify_mode = ssl.CERT_NONE
        up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port, ssl=upstream_ssl)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    self.log += data
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, ssl.SSLError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_w), pump(up_r, writer))

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    tmp = tmp_path_factory.mktemp("demo-enc")
    server = DemoServer(tmp / "state", f"sqlite:///{tmp}/db", free_port()).start()
    try:
        yield server
    finally:
        try:
            server.terminate()
        finally:
            server.kill()


@pytest.fixture(scope="module")
def relays(demo: DemoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Relay]]:
    tmp = tmp_path_factory.mktemp("relay")
    out = {"tcp": Relay(demo.port, tmp, terminate_tls=False),
           "tls": Relay(demo.port, tmp, terminate_tls=True)}
    yield out
    for r in out.values():
        r.close()


def _api(conn: AttestedConnection, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=conn.openai_base_url, api_key=key, http_client=conn.http_client(),
                         max_retries=0, timeout=120)


def _connect(demo: DemoServer, relay: Relay) -> AttestedConnection:
    if relay.terminate_tls:  # the TLS key reached is the relay's: trust rests on the HPKE key
        return connect(relay.url, trusted_simulated_root=demo.root, pin_tls=False, verify=relay.client_ctx)
    return connect(relay.url, trusted_simulated_root=demo.root)


def _assert_no_plaintext(log: bytes, completions: list[str]) -> None:
    assert MARKER.encode() not in log
    for needle in (b'"messages"', b'"role"', b'"choices"', b'"content"', b"chat.completion"):
        assert needle not in log, needle
    for text in completions:
        for piece in {text.strip(), *text.split()}:
            if len(piece) >= 8:
                assert piece.encode() not in log, piece


@pytest.mark.parametrize("kind", ["tls", "tcp"])
def test_sync_and_streamed_completions_cross_relays_as_ciphertext(demo, relays, kind):
    relay = relays[kind]
    relay.log.clear()
    conn = _connect(demo, relay)
    completions = []
    with _api(conn, demo.key) as api:
        reply = api.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": PROMPT}],
                                            max_tokens=24)
        completions.append(reply.choices[0].message.content or "")
        stream = api.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": PROMPT}],
                                             max_tokens=24, stream=True)
        completions.append("".join(c.choices[0].delta.content or "" for c in stream if c.choices))
    assert all(completions), completions
    assert len(relay.log) > 1000  # the relay did carry the traffic
    if kind == "tls":
        assert b"POST /v1/chat/completions" in relay.log  # it sees HTTP...
        assert hpke_wire.MEDIA_TYPE.encode() in relay.log  # ...and only sealed bodies
    _assert_no_plaintext(bytes(relay.log), completions)
    assert MARKER not in demo.output  # nor do the server's logs


def test_async_streaming_through_the_tls_terminating_relay(demo, relays):
    relay = relays["tls"]
    relay.log.clear()
    conn = _connect(demo, relay)

    async def go() -> str:
        async with conn.async_http_client() as http:
            api = openai.AsyncOpenAI(base_url=conn.openai_base_url, api_key=demo.key, http_client=http,
                                     max_retries=0, timeout=120)
            stream = await api.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": PROMPT}], max_tokens=24, stream=True)
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    text = asyncio.run(go())
    assert text
    _assert_no_plaintext(bytes(relay.log), [text])


def test_a_relay_cannot_alter_or_truncate_an_encrypted_answer(demo):
    conn = connect(demo.url, trusted_simulated_root=demo.root)
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4,
                       "stream": True}).encode()
    path = "/v1/chat/completions"
    headers, sealed, opener = hpke_wire.seal_request(conn.hpke_public_key, "POST", path, body)
    with httpx2.Client(verify=conn.ssl_context(), trust_env=False, timeout=120) as http:
        r = http.post(conn.openai_base_url + "/chat/completions", content=sealed,
                      headers={**headers, "Authorization": f"Bearer {demo.key}"})
    assert r.status_code == 200 and r.headers[hpke_wire.H_ENCRYPTION] == hpke_wire.SCHEME
    events = [e[len("data: "):] for e in r.text.split("\n\n") if e.startswith("data: ")]
    assert len(events) >= 3
    plain = [opener.open_event(200, e) for e in events]
    assert plain[-1] is None and all(p for p in plain[:-1])  # the last frame is the empty final one
    assert b"data: " in plain[0]  # the original SSE events, opened
    # a reordered, altered or truncated stream does not open
    for tampered in (events[1:], [events[0][:-4] + "AAAA", *events[1:]], events[:-1]):
        _, _, fresh = hpke_wire.seal_request(conn.hpke_public_key, "POST", "/v1/chat/completions", body)
        with pytest.raises(hpke_wire.WireError):
            fresh.keys.aead = opener.keys.aead
            fresh.keys.base_nonce = opener.keys.base_nonce
            for e in tampered:
                fresh.open_event(200, e)
            if not fresh.finished:
                raise hpke_wire.WireError("truncated")


def test_replayed_stale_and_foreign_requests_are_refused(demo):
    conn = connect(demo.url, trusted_simulated_root=demo.root)
    messages = [{"role": "user", "content": "hi"}]
    body = json.dumps({"model": MODEL, "messages": messages, "max_tokens": 2}).encode()
    auth = {"Authorization": f"Bearer {demo.key}"}
    with httpx2.Client(verify=conn.ssl_context(), trust_env=False, timeout=120) as http:
        headers, sealed, opener = hpke_wire.seal_request(conn.hpke_public_key, "POST", "/v1/chat/completions",
                                                          body)
        url = conn.openai_base_url + "/chat/completions"
        first = http.post(url, content=sealed, headers={**headers, **auth})
        assert first.status_code == 200
        assert json.loads(opener.open_body(200, first.content))["choices"]
        again = http.post(url, content=sealed, headers={**headers, **auth})
        assert (again.status_code, again.json()["error"]["code"]) == (409, "encryption_replayed")
        headers, sealed, _ = hpke_wire.seal_request(conn.hpke_public_key, "POST", "/v1/chat/completions",
                                                    body, now=time.time() - 3600)
        stale = http.post(url, content=sealed, headers={**headers, **auth})
        assert (stale.status_code, stale.json()["error"]["code"]) == (400, "encryption_stale")
        foreign_key = KeyPair.generate().public_bytes  # sealed to a key the server does not hold
        headers, sealed, _ = hpke_wire.seal_request(foreign_key, "POST", "/v1/chat/completions", body)
        foreign = http.post(url, content=sealed, headers={**headers, **auth})
        assert (foreign.status_code, foreign.json()["error"]["code"]) == (409, "encryption_key_unknown")
        # sealed for another path: the additional data differs
        headers, sealed, _ = hpke_wire.seal_request(conn.hpke_public_key, "POST", "/v1/completions", body)
        moved = http.post(url, content=sealed, headers={**headers, **auth})
        assert (moved.status_code, moved.json()["error"]["code"]) == (400, "encryption_invalid")


def test_domain_that_requires_encryption_refuses_plain_https(demo, tmp_path_factory):
    engine = sa.create_engine(demo.database_url)
    conn_plain = connect(demo.url, trusted_simulated_root=demo.root, encrypt=False)
    conn_sealed = connect(demo.url, trusted_simulated_root=demo.root)
    messages = [{"role": "user", "content": "hi"}]
    try:
        with _api(conn_plain, demo.key) as api:  # allowed while the flag is off
            assert api.chat.completions.create(model=MODEL, messages=messages, max_tokens=2).choices
        with engine.begin() as db:
            db.execute(sa.text("UPDATE domains SET require_encrypted_requests = true"))
        time.sleep(1.5)  # the proxy's directory cache (1 s)
        with _api(conn_plain, demo.key) as api, pytest.raises(openai.PermissionDeniedError) as err:
            api.chat.completions.create(model=MODEL, messages=messages, max_tokens=2)
        assert err.value.status_code == 403 and err.value.code == "encryption_required"
        with _api(conn_sealed, demo.key) as api:
            assert api.chat.completions.create(model=MODEL, messages=messages, max_tokens=2).choices
        with _api(conn_plain, "sk-tc-wrong") as api, pytest.raises(openai.AuthenticationError):
            api.chat.completions.create(model=MODEL, messages=messages, max_tokens=2)
    finally:
        with engine.begin() as db:
            db.execute(sa.text("UPDATE domains SET require_encrypted_requests = false"))
        engine.dispose()


def test_connect_without_pinning_insists_on_encryption(demo):
    with pytest.raises(ValueError, match="encrypt"):
        connect(demo.url, trusted_simulated_root=demo.root, pin_tls=False, encrypt=False)


def test_teecube_verify_names_the_release_the_demo_matched(demo):
    import subprocess

    from demo_process import teecube_cmd

    ok = subprocess.run([*teecube_cmd(), "verify", demo.url, "--trust-simulated-root", str(demo.root),
                         "--offline"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Release: is the measured software a published teecube release?" in ok.stdout
    assert "✓ Measurement is in the signed manifest of teecube demo (simulated)" in ok.stdout
    assert "matched release: demo (simulated)" in ok.stdout
    # trusting only the test ARK (not the demo release key in the same file) is not enough
    ark_only = demo.root.parent / "ark-only.pem"
    ark_only.write_text(demo.root.read_text().split("-----BEGIN PUBLIC KEY-----")[0])
    refused = subprocess.run([*teecube_cmd(), "verify", demo.url, "--trust-simulated-root", str(ark_only),
                              "--offline"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1
    assert "✗ Measurement is not in any release manifest signed by a trusted key" in refused.stdout


def test_errors_after_opening_are_sealed_too(demo):
    """A 404 for an unknown model is answered inside the HPKE context: the SDK sees the OpenAI error."""
    conn = connect(demo.url, trusted_simulated_root=demo.root)
    body = json.dumps({"model": "no-such-model", "messages": [{"role": "user", "content": MARKER}]}).encode()
    path = "/v1/chat/completions"
    headers, sealed, opener = hpke_wire.seal_request(conn.hpke_public_key, "POST", path, body)
    with httpx2.Client(verify=conn.ssl_context(), trust_env=False, timeout=60) as http:
        r = http.post(conn.openai_base_url + "/chat/completions", content=sealed,
                      headers={**headers, "Authorization": f"Bearer {demo.key}"})
    assert r.status_code == 404 and r.headers[hpke_wire.H_ENCRYPTION] == hpke_wire.SCHEME
    assert b"model_not_found" not in r.content  # sealed on the wire
    assert json.loads(opener.open_body(404, r.content))["error"]["code"] == "model_not_found"
    with _api(conn, demo.key) as api, pytest.raises(openai.NotFoundError) as err:
        api.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert err.value.code == "model_not_found"
    with _api(conn, demo.key) as api:  # GET carries no prompt and stays plain
        assert [m.id for m in api.models.list()] == [MODEL]
