"""End to end on loopback: a real aiohttp HTTPS server with a TlsIdentity serving /attestation,
`teecube verify` against it, and the pinned client (with the real openai SDK)."""

from __future__ import annotations

import asyncio
import http.client
import json
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import openai
import pytest
from aiohttp import web

from attestation import client, tls
from attestation import policy as policy_mod
from attestation.cli import verify_main
from attestation.server import attestation_routes
from attestation.snp.validate import SnpPolicy

REPO = Path(__file__).resolve().parents[2]
COMPLETION = {
    "id": "chatcmpl-test",
    "object": "chat.completion",
    "created": 0,
    "model": "demo",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


class Server:
    """An aiohttp app on 127.0.0.1 in a background thread; `prompts` counts chat requests received."""

    def __init__(self, identity: tls.TlsIdentity, provider, *, port: int = 0, served=None) -> None:
        self.identity, self.provider, self.port = identity, provider, port
        self.served = served or identity  # the identity whose evidence /attestation serves
        self.prompts = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def _chat(self, request: web.Request) -> web.Response:
        self.prompts += 1
        await request.read()
        return web.json_response(COMPLETION)

    async def _start(self) -> None:
        app = web.Application()
        app.add_routes(attestation_routes(self.provider, None, self.served))
        app.add_routes([web.post("/v1/chat/completions", self._chat)])
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self.identity.ssl_context())
        await site.start()
        self.port = self._runner.addresses[0][1]

    def __enter__(self) -> Server:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=20)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=20)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def root_file(sim, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("root") / "simulated-root.pem"
    path.write_bytes(sim.root_pem)
    return path


@pytest.fixture(scope="module")
def server(sim):
    with Server(tls.TlsIdentity.generate(["127.0.0.1", "localhost"], sim), sim) as s:
        yield s


def _get(url_port: int, path: str) -> tuple[int, dict]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", url_port, context=ctx, timeout=10)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    return resp.status, body


@pytest.mark.parametrize("query", ["", "?nonce=", "?nonce=abc", "?nonce=" + "zz" * 32, "?nonce=" + "00" * 33])
def test_bad_nonce_is_an_openai_style_error(server, query) -> None:
    status, body = _get(server.port, "/attestation" + query)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["code"] == "invalid_nonce" and body["error"]["param"] == "nonce"


def test_attestation_bundle_shape(server) -> None:
    status, body = _get(server.port, "/attestation?nonce=" + "ab" * 32)
    assert status == 200 and body["nonce"] == "ab" * 32
    assert body["simulated"] is True and body["cpu"]["kind"] == "simulated"
    assert body["tls"]["cert_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert body["gpu"] is None and body["gpu_reason"]


def test_teecube_verify_accepts_with_the_simulated_root_trusted(server, root_file) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "teecube.cli", "verify", server.url, "--trust-simulated-root", str(root_file)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "✓ Fresh: the server answered your random nonce" in out
    assert "✓ The TLS key you are connected to is the one bound into the report" in out
    assert "✓ Signed by the SIMULATED test root (not AMD)" in out
    assert "✓ Report is bound to your nonce and this server's TLS key" in out
    assert "✓ Debug disabled" in out
    assert "✓ TRUSTED" in out


def test_teecube_verify_refuses_simulated_without_the_root(server, capsys) -> None:
    assert verify_main([server.url]) == 1
    out = capsys.readouterr().out
    assert "✗ SIMULATED attestation (no real TEE): refused" in out and "✗ NOT TRUSTED" in out


def test_generated_policy_accepts_and_wrong_policy_rejects(server, root_file, tmp_path, capsys) -> None:
    bundle, _ = client.fetch(server.url, bytes(32))
    good = tmp_path / "good.toml"
    policy_mod.dump(policy_mod.policy_from_evidence(bundle.cpu), good)
    assert verify_main([server.url, "--policy", str(good), "--trust-simulated-root", str(root_file)]) == 0
    wrong = tmp_path / "wrong.toml"
    policy_mod.dump(policy_mod.Policy(simulated=SnpPolicy(measurements=["00" * 48])), wrong)
    capsys.readouterr()
    rc = verify_main([server.url, "--policy", str(wrong), "--trust-simulated-root", str(root_file), "--json"])
    assert rc == 1
    out = json.loads(capsys.readouterr().out)
    failed = [c["name"] for v in out["verdicts"] for c in v["checks"] if not c["ok"]]
    assert failed == ["measurement"]


def test_certificate_extension_carries_evidence_bound_to_the_key(server, sim) -> None:
    _, cert_der = client.fetch(server.url, bytes(32))
    bundle = tls.bundle_from_cert(cert_der)
    assert bundle.nonce == server.identity.start_nonce
    ap = client.appraise(
        bundle,
        policy=client.default_policy(),
        served_spki=client.spki_of_cert(cert_der),
        trusted_simulated_root=sim.root_pem,
    )
    assert ap.ok, ap.to_dict()


def test_openai_sdk_through_the_pinned_client(server, root_file) -> None:
    # This test server has no encryption middleware: plain HTTPS over the pinned key.
    conn = client.connect(server.url, trusted_simulated_root=root_file, encrypt=False)
    api = openai.OpenAI(base_url=conn.openai_base_url, api_key="k", http_client=conn.http_client())
    reply = api.chat.completions.create(model="demo", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "hello"


def test_encrypting_client_refuses_an_unsealed_success(server, root_file) -> None:
    from attestation.hpke_wire import WireError

    conn = client.connect(server.url, trusted_simulated_root=root_file)
    api = openai.OpenAI(base_url=conn.openai_base_url, api_key="k", http_client=conn.http_client(),
                        max_retries=0)
    with pytest.raises(WireError, match="not sealed"):
        api.chat.completions.create(model="demo", messages=[{"role": "user", "content": "hi"}])


def test_async_pinned_client(server, root_file) -> None:
    conn = client.connect(server.url, trusted_simulated_root=root_file, encrypt=False)

    async def go() -> int:
        async with conn.async_http_client() as http:
            r = await http.post(conn.openai_base_url + "/chat/completions", json={"model": "demo"})
            return r.status_code

    assert asyncio.run(go()) == 200


def test_connect_refuses_a_server_whose_key_is_not_the_bound_one(sim) -> None:
    real, impostor = (tls.TlsIdentity.generate(["127.0.0.1"], sim) for _ in range(2))
    # serves the real identity's evidence over the impostor's TLS key
    with Server(impostor, sim, served=real) as s:
        with pytest.raises(client.KeyMismatch):
            client.connect(s.url, trusted_simulated_root=sim.root_pem)
        assert s.prompts == 0


def test_pinned_client_refuses_when_the_key_is_swapped_after_verification(sim) -> None:
    with Server(tls.TlsIdentity.generate(["127.0.0.1"], sim), sim) as first:
        conn = client.connect(first.url, trusted_simulated_root=sim.root_pem, encrypt=False)
        port = first.port
        with conn.http_client() as http:
            assert http.post(conn.openai_base_url + "/chat/completions", json={}).status_code == 200
    with Server(tls.TlsIdentity.generate(["127.0.0.1"], sim), sim, port=port) as second:
        with conn.http_client() as http, pytest.raises(client.KeyMismatch):
            http.post(conn.openai_base_url + "/chat/completions", json={"messages": "secret"})
        api = openai.OpenAI(
            base_url=conn.openai_base_url, api_key="k", http_client=conn.http_client(), max_retries=0
        )
        with pytest.raises(client.KeyMismatch):  # the SDK passes it through unwrapped
            api.chat.completions.create(model="demo", messages=[{"role": "user", "content": "secret"}])
        assert second.prompts == 0  # nothing left the client
        # a fresh attestation of the new server works
        assert (
            client.connect(second.url, trusted_simulated_root=sim.root_pem).spki_der
            == second.identity.spki_der
        )
