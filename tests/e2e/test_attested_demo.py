"""End to end: `teecube serve --demo` as a person runs it, verified and used as a client would.

One demo process for the module (the model takes ~10 s to load); the last test restarts it on
the same port and state directory, which gives it a new TLS key, and shows that a client pinned
to the old, attested key refuses to talk to it before a prompt leaves the client.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from demo_process import DemoServer, free_port, teecube_cmd, wait_gone

from attestation.client import AttestedConnection, KeyMismatch, connect

# starts its own demo (engine + proxy); tests/ops covers the demo in `make test-fast`
pytestmark = pytest.mark.slow

MODEL = "smollm2"
PROMPT_MARKER = "zebra-quartz-7731"  # a prompt that must never reach the restarted server


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    tmp = tmp_path_factory.mktemp("demo")
    server = DemoServer(tmp / "state", f"sqlite:///{tmp}/db", free_port()).start()
    try:
        yield server
    finally:
        if server.proc is not None and server.proc.poll() is None:
            engine = server.engine_pid
            try:
                assert server.terminate() == 0, server.output[-3000:]
                assert wait_gone(engine), f"engine {engine} outlived teecube serve"
            finally:
                server.kill()


def _client(conn: AttestedConnection, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=conn.openai_base_url, api_key=key, http_client=conn.http_client(),
                         max_retries=0, timeout=60)


def _verify_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*teecube_cmd(), "verify", *args], capture_output=True, text=True, timeout=60)


def test_banner_gives_a_key_and_the_verify_command(demo: DemoServer) -> None:
    assert demo.key.startswith("sk-tc-")
    assert f"teecube verify {demo.url} --policy {demo.state_dir.resolve()}/demo-policy.toml" in demo.output
    assert f"--trust-simulated-root {demo.root.resolve()}" in demo.output
    assert demo.root.is_file()


def test_banner_names_the_console_where_the_demo_key_sees_its_sample_usage(demo: DemoServer) -> None:
    import re

    assert f"console:  {demo.url}/console/" in demo.output
    conn = connect(demo.url, trusted_simulated_root=demo.root)
    with conn.http_client(base_url=demo.url, timeout=30) as http:
        form = http.get("/console/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert form.status_code == 200 and csrf is not None
        signed_in = http.post("/console/login", data={"csrf": csrf.group(1), "credential": demo.key},
                              follow_redirects=True)
    assert signed_in.status_code == 200 and str(signed_in.url).endswith("/console/my")
    assert "Domain demo" in signed_in.text and "smollm2" in signed_in.text
    assert "Requests per day" in signed_in.text and "No requests in this period" not in signed_in.text
    token_file = demo.state_dir / "operator-token"
    assert f"operator token: in {token_file}" in demo.output
    assert token_file.stat().st_mode & 0o077 == 0
    with conn.http_client(base_url=demo.url, timeout=30) as http:
        csrf = re.search(r'name="csrf" value="([^"]+)"', http.get("/console/login").text)
        assert csrf is not None
        operator = http.post("/console/login", follow_redirects=True,
                             data={"csrf": csrf.group(1), "credential": token_file.read_text().strip()})
        engine = http.get("/console/engine")  # the real engine's /metrics, over its Unix socket
    assert str(operator.url).endswith("/console/domains") and "demo" in operator.text
    row = re.search(r"<tr><td>smollm2-135m</td>(.*?)</tr>", engine.text, re.S)
    assert engine.status_code == 200 and row is not None and "<meter" in row.group(1), engine.text[-2000:]


def test_verified_connection_answers_a_chat_request(demo: DemoServer) -> None:
    conn = connect(demo.url, trusted_simulated_root=demo.root)
    assert conn.appraisal.ok
    assert conn.appraisal.bundle is not None and conn.appraisal.bundle.simulated
    assert conn.openai_base_url == demo.url + "/v1"
    with _client(conn, demo.key) as api:
        try:
            r = api.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "Say hello."}], max_tokens=12
            )
        except openai.APIStatusError as e:
            pytest.fail(f"{e}\n--- teecube serve output ---\n{demo.output[-4000:]}")
    assert r.choices[0].message.content
    assert r.usage is not None and r.usage.completion_tokens > 0
    assert demo.metric("teecube_proxy_requests_total") >= 1


def test_bench_serve_through_the_attested_proxy(demo: DemoServer, capsys: pytest.CaptureFixture[str]) -> None:
    """`teecube bench serve --proxy-url` verifies TLS: by attestation and the pinned key, or not at all."""
    from engine.bench import serve as bench_serve

    load = f"--proxy-url {demo.url} --api-key {demo.key} --endpoint chat --num-prompts 2 --input-len 8"
    load += " --output-len 4 --max-concurrency 1 --no-warmup"
    attested = [*load.split(), "--proxy-attest", "--trusted-simulated-root", str(demo.root)]
    assert bench_serve.main(attested) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["target"] == "proxy" and report["model"] == MODEL and report["completed"] == 2
    assert report["median_ttft_ms"] > 0
    with pytest.raises(SystemExit, match="certificate is not trusted"):  # self-signed: not by default
        bench_serve.main(load.split())


def test_cli_verify_with_the_simulated_root_passes_and_prints_the_checks(demo: DemoServer) -> None:
    p = _verify_cli(demo.url, "--trust-simulated-root", str(demo.root))
    assert p.returncode == 0, p.stdout + p.stderr
    for line in (
        "✓ Fresh: the server answered your random nonce",
        "✓ The TLS key you are connected to is the one bound into the report",
        "✓ Report signed by this processor's endorsement key (VCEK)",
        "✓ Report is bound to your nonce and this server's TLS key",
        "✓ Debug disabled",
        "✓ TRUSTED: all",
    ):
        assert line in p.stdout, p.stdout
    assert "✗" not in p.stdout


def test_cli_verify_without_the_simulated_root_refuses(demo: DemoServer) -> None:
    p = _verify_cli(demo.url)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "SIMULATED attestation (no real TEE): refused unless you pass --trust-simulated-root" in p.stdout
    assert "✗ NOT TRUSTED" in p.stdout


@pytest.mark.slow
def test_restarted_server_with_a_new_key_gets_no_prompt_from_a_pinned_client(demo: DemoServer) -> None:
    conn = connect(demo.url, trusted_simulated_root=demo.root)
    old_spki = conn.spki_der
    api = _client(conn, demo.key)
    assert [m.id for m in api.models.list().data] == [MODEL]  # the pin admits the attested server

    engine = demo.engine_pid
    assert demo.terminate() == 0, demo.output[-3000:]
    assert wait_gone(engine), f"engine {engine} outlived teecube serve"

    demo.start()  # same port and state dir: a fresh TLS key inside the "TEE"
    # The SDK does not wrap it: the handshake's KeyMismatch reaches the caller as such.
    with pytest.raises(KeyMismatch, match="differs from the attested key"):
        api.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": PROMPT_MARKER}], max_tokens=4
        )
    api.close()

    # The new server saw no chat request: no proxy request counted, none relayed to the engine.
    assert demo.metric("teecube_proxy_requests_total") == 0
    assert "POST /v1/chat/completions" not in demo.output
    assert PROMPT_MARKER not in demo.output

    # Attesting again is the way back; the same counter then sees the request.
    fresh = connect(demo.url, trusted_simulated_root=demo.root)
    assert fresh.spki_der != old_spki
    with _client(fresh, demo.key) as api2:
        r = api2.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=4
        )
    assert r.choices[0].message.content is not None
    assert demo.metric("teecube_proxy_requests_total") == 1
    assert "POST /v1/chat/completions" in demo.output

    engine = demo.engine_pid
    assert demo.terminate() == 0, demo.output[-3000:]
    assert wait_gone(engine), f"engine {engine} outlived teecube serve"


def test_pinned_client_raises_key_mismatch_in_the_handshake(tmp_path: Path) -> None:
    """Without the SDK in between: the httpx2 client's handshake itself raises KeyMismatch."""
    import asyncio

    from aiohttp import web

    from attestation.providers.simulated import SimulatedSnp
    from attestation.tls import TlsIdentity

    provider = SimulatedSnp(tmp_path)
    a = TlsIdentity.generate(["127.0.0.1"], provider)
    b = TlsIdentity.generate(["127.0.0.1"], provider)
    hits: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response({})

    async def main() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=b.ssl_context())
        await site.start()
        try:
            conn = AttestedConnection(f"https://127.0.0.1:{port}", a.spki_der, appraisal=None,  # type: ignore[arg-type]
                                      hpke_public_key=a.hpke_key.public_bytes)
            client = conn.async_http_client()
            with pytest.raises(KeyMismatch):
                await client.post(f"{conn.openai_base_url}/chat/completions", json={"p": PROMPT_MARKER})
            await client.aclose()
            ok = AttestedConnection(f"https://127.0.0.1:{port}", b.spki_der, appraisal=None,  # type: ignore[arg-type]
                                    hpke_public_key=b.hpke_key.public_bytes)
            async with ok.async_http_client() as good:
                assert (await good.get(f"{ok.openai_base_url}/models")).status_code == 200
        finally:
            await runner.cleanup()

    asyncio.run(main())
    assert hits == ["/v1/models"]
