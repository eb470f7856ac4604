"""`teecube proxy --workers 2`, live: a real proxy (supervisor + two workers) on a real SQLite
database in front of the fake upstream (`proxy.bench_fake`). Both workers serve, limits hold
across them, a key revoked through the admin API is refused by every worker, /metrics sums
both, a killed worker is replaced, SIGTERM leaves no process and loses no usage record, and
workers exit when the supervisor is killed."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from domains import db
from domains.deployments import add_deployment
from domains.grants import grant_model
from domains.keys import create_key
from domains.tenants import create_domain
from tests.conftest import redis_url

CANARY = "workers-canary-" + secrets.token_hex(8)
CACHE_TTL = 0.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _eventually(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    """Whether predicate() holds within timeout seconds (polled every 0.1 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    if not _eventually(predicate, timeout):
        raise AssertionError(f"timed out waiting for {what}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie of ours counts as gone
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


@dataclass
class Proxy:
    proc: subprocess.Popen[bytes]
    url: str
    metrics_url: str
    log_path: Path
    db_url: str
    token: str
    keys: dict[str, str]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> dict[int, int]:
        """Worker index -> its latest pid, from the supervisor's log."""
        return {int(i): int(p) for i, p in re.findall(r"proxy worker (\d+) ready \(pid (\d+)\)", self.log())}

    def chat(self, key: str, stream: bool = False) -> requests.Response:
        body = {
            "model": "m",
            "messages": [{"role": "user", "content": f"say hi {CANARY}"}],
            "max_tokens": 4,
            "stream": stream,
        }
        # a new connection each time, so the kernel may hand each one to either worker
        return requests.post(
            f"{self.url}/v1/chat/completions",
            json=body,
            timeout=30,
            headers={"Authorization": f"Bearer {key}", "Connection": "close"},
        )


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = open(tmp_path_factory.mktemp("upstream") / "fake.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy.bench_fake", "--port", str(port), "--chunks", "4"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    _wait(lambda: _get_ok(url + "/health"), 30, "the fake upstream")
    yield url
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


def _get_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def start_proxy(
    workdir: Path, upstream: str, workers: int = 2, tls: bool = False, extra: tuple[str, ...] = ()
) -> Proxy:
    pepper = secrets.token_hex(32)
    db_url = f"sqlite:///{workdir / 'teecube.db'}"
    db.upgrade(db_url)
    factory = db.session_factory(db_url)
    keys = {}
    with factory.begin() as s:
        create_domain(s, "acme", "test")
        add_deployment(s, "fake", "openai", upstream, "fake-model", "test")
        grant_model(s, "acme", "m", "fake", "test")
        keys["main"] = create_key(s, "acme", "test", name="main", pepper=pepper.encode())[1]
        keys["limited"] = create_key(s, "acme", "test", name="limited", rpm=4, pepper=pepper.encode())[1]
    factory.kw["bind"].dispose()
    token = secrets.token_urlsafe(24)
    (workdir / "token").write_text(token)
    port, metrics_port = _free_port(), _free_port()
    log_path = workdir / "proxy.log"
    env = os.environ | {"TEECUBE_PEPPER": pepper}
    env.pop("TEECUBE_REDIS_URL", None)
    env.pop("TEECUBE_OPERATOR_TOKEN", None)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "teecube.cli",
                "proxy",
                *([] if tls else ["--no-tls"]),
                "--tee",
                "simulated",
                "--database-url",
                db_url,
                "--port",
                str(port),
                "--metrics-port",
                str(metrics_port),
                "--state-dir",
                str(workdir),
                "--operator-token-file",
                str(workdir / "token"),
                "--cache-ttl",
                str(CACHE_TTL),
                "--workers",
                str(workers),
                "--guard-scan-workers",
                "0",
                *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    proxy = Proxy(
        proc,
        f"{'https' if tls else 'http'}://127.0.0.1:{port}",
        f"http://127.0.0.1:{metrics_port}/metrics",
        log_path,
        db_url,
        token,
        keys,
    )

    def ready() -> bool:
        assert proc.poll() is None, proxy.log()[-3000:]
        return len(proxy.worker_pids()) == workers and (tls or _get_ok(proxy.url + "/health"))

    _wait(ready, 90, "the proxy's workers")
    return proxy


def stop(proxy: Proxy) -> None:
    if proxy.proc.poll() is None:
        proxy.proc.send_signal(signal.SIGTERM)
        try:
            proxy.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proxy.proc.kill()
            proxy.proc.wait()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory, upstream: str) -> Iterator[Proxy]:
    handle = start_proxy(tmp_path_factory.mktemp("workers"), upstream)
    yield handle
    stop(handle)


def _workers_seen(responses: list[requests.Response]) -> set[str]:
    return {r.headers.get("X-Teecube-Worker", "?") for r in responses}


def _until_both(send, tries: int = 200) -> list[requests.Response]:  # type: ignore[no-untyped-def]
    """Send until both workers have answered (the kernel picks the worker per connection)."""
    out: list[requests.Response] = []
    while len(out) < tries and _workers_seen(out) != {"0", "1"}:
        out.append(send())
    assert _workers_seen(out) == {"0", "1"}, f"only {_workers_seen(out)} answered {len(out)} connections"
    return out


def test_both_workers_serve(proxy: Proxy) -> None:
    answers = _until_both(lambda: proxy.chat(proxy.keys["main"]))
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers if r.status_code != 200]
    streams = _until_both(lambda: proxy.chat(proxy.keys["main"], stream=True))
    assert all(r.status_code == 200 and r.text.rstrip().endswith("data: [DONE]") for r in streams)


def _limited_statuses(proxy: Proxy) -> tuple[list[int], set[str]]:
    """12 requests with the key allowed 4 a minute: each status, and the workers that answered."""
    answers = [proxy.chat(proxy.keys["limited"]) for _ in range(12)]
    return [r.status_code for r in answers], _workers_seen(answers)


def test_rate_limit_is_global(proxy: Proxy) -> None:
    # through the supervisor's shared budget (no Redis); in-process limits per worker would let 8 through
    statuses, workers = _limited_statuses(proxy)
    assert 4 <= statuses.count(200) <= 5, statuses  # 5: a refill on a very slow run
    assert statuses.count(200) + statuses.count(429) == 12, statuses
    assert workers == {"0", "1"}


@pytest.mark.skipif(redis_url() is None, reason="TEECUBE_TEST_REDIS_URL not set")
def test_rate_limit_is_global_with_redis(tmp_path: Path, upstream: str) -> None:
    proxy = start_proxy(tmp_path, upstream, extra=("--redis-url", str(redis_url())))
    try:
        statuses, workers = _limited_statuses(proxy)
    finally:
        stop(proxy)
    assert 4 <= statuses.count(200) <= 5, statuses
    assert statuses.count(200) + statuses.count(429) == 12, statuses
    assert workers == {"0", "1"}


def test_revoked_key_refused_by_every_worker(proxy: Proxy) -> None:
    admin = {"Authorization": f"Bearer {proxy.token}", "Connection": "close"}
    made = requests.post(
        f"{proxy.url}/admin/v1/domains/acme/keys", json={"name": "short-lived"}, headers=admin, timeout=30
    )
    assert made.status_code in (200, 201), made.text
    secret = made.json()["secret"]
    listed = requests.get(f"{proxy.url}/admin/v1/keys?domain=acme", headers=admin, timeout=30).json()["data"]
    key_id = next(k["key_id"] for k in listed if k["name"] == "short-lived")
    assert all(r.status_code == 200 for r in _until_both(lambda: proxy.chat(secret)))
    revoked = requests.post(f"{proxy.url}/admin/v1/keys/{key_id}/revoke", headers=admin, timeout=30)
    assert revoked.status_code == 200, revoked.text
    time.sleep(CACHE_TTL + 0.2)  # the documented bound: --cache-ttl
    after = _until_both(lambda: proxy.chat(secret))
    assert all(r.status_code == 401 for r in after), [
        (r.status_code, r.headers.get("X-Teecube-Worker")) for r in after
    ]


def _cookie(response: requests.Response, name: str) -> str:
    # The console's cookies are Secure: requests' jar keeps them off plain http, so by hand.
    found = re.search(rf"{name}=([^;]+)", response.headers.get("Set-Cookie", ""))
    assert found, response.headers
    return found.group(1)


def test_console_session_holds_on_every_worker(proxy: Proxy) -> None:
    """Console sessions live in worker 0; the other workers relay /console there."""
    close = {"Connection": "close"}
    form = requests.get(f"{proxy.url}/console/login", headers=close, timeout=30)
    assert form.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    signed = requests.post(
        f"{proxy.url}/console/login",
        data={"csrf": csrf, "credential": proxy.token},
        headers={**close, "Cookie": f"teecube_console_login={_cookie(form, 'teecube_console_login')}"},
        allow_redirects=False,
        timeout=30,
    )
    assert signed.status_code in (302, 303) and signed.headers["Location"].endswith("/console/domains")
    session = {**close, "Cookie": f"teecube_console={_cookie(signed, 'teecube_console')}"}
    pages = _until_both(lambda: requests.get(f"{proxy.url}/console/domains", headers=session, timeout=30))
    assert all(p.status_code == 200 and "acme" in p.text for p in pages), [p.status_code for p in pages]
    css = requests.get(f"{proxy.url}/console/static/console.css", headers=close, timeout=30)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")


def _metrics(proxy: Proxy) -> str:
    auth = {"Authorization": f"Bearer {proxy.token}"}
    return requests.get(proxy.metrics_url, headers=auth, timeout=10).text


def _requests_total(text: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("teecube_proxy_requests_total{"))  # fmt: skip


def test_metrics_sum_both_workers(proxy: Proxy) -> None:
    before = _requests_total(_metrics(proxy))
    answers = _until_both(lambda: proxy.chat(proxy.keys["main"]))
    text = _metrics(proxy)
    assert "teecube_proxy_workers_reporting 2.0" in text
    assert _requests_total(text) - before == len(answers)  # whichever worker served them
    assert CANARY not in text


def test_auth_failures_are_throttled_across_workers(proxy: Proxy) -> None:
    """Wrong keys from one address count against one budget (30 a minute) in the supervisor's store:
    per-worker windows would let all 45 through as 401 (each worker sees ~22)."""
    answers = [proxy.chat(f"sk-not-a-key-{i}") for i in range(45)]
    statuses = [r.status_code for r in answers]
    assert set(statuses) <= {401, 429} and 429 in statuses, statuses
    assert statuses.count(401) <= 34, statuses  # 30, plus what the bucket refills meanwhile
    assert _workers_seen(answers) == {"0", "1"}
    assert all(r.status_code == 200 for r in _until_both(lambda: proxy.chat(proxy.keys["main"])))


def _health_on(conn: socket.socket) -> bytes:
    """GET /health on an open keep-alive connection: the whole answer (headers and body)."""
    conn.sendall(b"GET /health HTTP/1.1\r\nHost: teecube\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _hold_connections(url: str, count: int) -> tuple[list[socket.socket], int, set[str]]:
    """Opens `count` connections one after another, each asking /health and kept open when answered:
    (the held ones, how many were refused, the workers that answered)."""
    host, port = url.split("//")[1].split(":")
    held, refused, workers = [], 0, set()
    for _ in range(count):
        conn = socket.create_connection((host, int(port)), timeout=10)
        answer = _health_on(conn)
        if b"too_many_connections" in answer:
            assert answer.startswith(b"HTTP/1.1 429"), answer[:200]
            refused += 1
            conn.close()
        else:
            assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
            workers.add(re.search(rb"X-Teecube-Worker: (\d+)", answer).group(1).decode())  # type: ignore[union-attr]
            held.append(conn)
    return held, refused, workers


def test_connection_cap_spans_workers(tmp_path: Path, upstream: str) -> None:
    """--max-connections-per-address 4 under two workers: 4 connections from one address in all (each
    worker capping alone admitted up to 8 of these 16), wherever the kernel sends them; closing them
    frees the places on every worker."""
    proxy = start_proxy(tmp_path, upstream, extra=("--max-connections-per-address", "4"))
    try:
        held, refused, workers = _hold_connections(proxy.url, 16)
        assert (len(held), refused) == (4, 12), (len(held), refused, workers)
        for conn in held:
            conn.close()

        def four_again() -> bool:  # the closes reach the workers a moment later
            again, _, seen = _hold_connections(proxy.url, 4)
            workers.update(seen)
            for conn in again:
                conn.close()
            return len(again) == 4 and workers == {"0", "1"}

        # places free on every worker; rounds go on until both workers have answered (the kernel's pick)
        assert _eventually(four_again, 30), workers
        assert proxy.proc.poll() is None
    finally:
        stop(proxy)


def test_killed_worker_is_replaced(proxy: Proxy) -> None:
    before = proxy.worker_pids()
    os.kill(before[0], signal.SIGKILL)
    _wait(lambda: proxy.worker_pids()[0] != before[0], 60, "a new worker 0")
    assert proxy.proc.poll() is None
    assert "exited with status -9; restarting it" in proxy.log()
    assert all(r.status_code == 200 for r in _until_both(lambda: proxy.chat(proxy.keys["main"])))


def test_prompt_never_in_logs(proxy: Proxy) -> None:
    proxy.chat(proxy.keys["main"])
    assert CANARY not in proxy.log()


def test_sigterm_stops_every_process_and_flushes_usage(tmp_path: Path, upstream: str) -> None:
    proxy = start_proxy(tmp_path, upstream)
    pids = list(proxy.worker_pids().values())
    answers = _until_both(lambda: proxy.chat(proxy.keys["main"]))
    proxy.proc.send_signal(signal.SIGTERM)
    assert proxy.proc.wait(timeout=60) == 0, proxy.log()[-3000:]
    assert not any(_alive(p) for p in pids)
    from sqlalchemy import create_engine, text

    engine = create_engine(proxy.db_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM usage_records")).scalar_one()
    engine.dispose()
    assert rows == len(answers)
    assert CANARY not in proxy.log()


def test_workers_exit_with_a_killed_supervisor(tmp_path: Path, upstream: str) -> None:
    proxy = start_proxy(tmp_path, upstream)
    pids = list(proxy.worker_pids().values())
    proxy.proc.kill()
    proxy.proc.wait()
    assert pids  # the workers the supervisor reported
    assert _eventually(lambda: not any(_alive(p) for p in pids), 30), "orphaned workers still running"


def test_attested_tls_one_identity_across_workers(tmp_path: Path, upstream: str) -> None:
    """Every worker serves the supervisor's one TEE key and certificate, and its evidence binds it."""
    import http.client
    import ssl

    from cryptography import x509

    from attestation.evidence import Bundle
    from attestation.tls import spki_der_of

    proxy = start_proxy(tmp_path, upstream, tls=True)
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # the test compares certificates itself
        port = int(proxy.url.rsplit(":", 1)[1])
        certs, bundles, seen = set(), [], set()
        for _ in range(200):
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
            conn.request("GET", "/attestation?nonce=" + secrets.token_hex(32))
            resp = conn.getresponse()
            assert resp.status == 200
            bundles.append(Bundle.loads(resp.read()))
            certs.add(conn.sock.getpeercert(binary_form=True))
            seen.add(resp.getheader("X-Teecube-Worker"))
            conn.close()
            if seen == {"0", "1"}:
                break
        assert seen == {"0", "1"} and len(certs) == 1
        spki = spki_der_of(x509.load_der_x509_certificate(certs.pop()))
        assert all(b.tls_spki_der == spki for b in bundles)
        assert len({b.hpke_public_key for b in bundles}) == 1
    finally:
        stop(proxy)


def test_a_crash_loop_stops_the_proxy(tmp_path: Path, upstream: str) -> None:
    """Workers that keep dying are a bug to see: after MAX_RESTARTS exits within the window the
    supervisor stops everything and exits non-zero."""
    from proxy.supervisor import MAX_RESTARTS

    proxy = start_proxy(tmp_path, upstream)
    killed: set[int] = set()
    deadline = time.monotonic() + 240
    while proxy.proc.poll() is None and time.monotonic() < deadline:
        for pid in proxy.worker_pids().values():
            if pid not in killed:
                killed.add(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    assert proxy.proc.wait(timeout=60) == 1, proxy.log()[-3000:]
    assert len(killed) > MAX_RESTARTS
    assert "exited 6 times in 60 s" in proxy.log()
    assert not any(_alive(p) for p in proxy.worker_pids().values())


def test_health_waits_for_every_worker(tmp_path: Path) -> None:
    """/health answers 503 `starting` until the supervisor has every worker up: worker 1 is held back
    here, and worker 0 (already serving) must not report the proxy ready for both."""
    import asyncio

    import aiohttp

    from proxy.config import ProxyConfig
    from proxy.supervisor import Supervisor

    db_url = f"sqlite:///{tmp_path / 'teecube.db'}"
    db.upgrade(db_url)
    port = _free_port()
    config = ProxyConfig(database_url=db_url, pepper=secrets.token_bytes(32), workers=2, host="127.0.0.1",
                         port=port, guard_scan_workers=0, metrics_port=None, state_dir=str(tmp_path))

    async def main() -> None:
        sup = Supervisor(config, None, shutdown_timeout=5.0)
        release = asyncio.Event()
        start_one = sup._start

        async def held_start(index: int) -> None:
            if index == 1:
                await release.wait()
            await start_one(index)

        sup._start = held_start  # type: ignore[method-assign]
        starting = asyncio.create_task(sup.start())
        timeout = aiohttp.ClientTimeout(total=1.0)

        async def statuses(n: int) -> list[tuple[int, str]]:
            """n /health answers, each on a new connection (one to worker 1's backlog waits: skipped)."""
            got: list[tuple[int, str]] = []
            for _ in range(n):
                async with aiohttp.ClientSession(timeout=timeout) as http:
                    with contextlib.suppress(TimeoutError, aiohttp.ClientError):
                        async with http.get(f"http://127.0.0.1:{port}/health") as resp:
                            got.append((resp.status, (await resp.json())["status"]))
            return got

        try:
            deadline = time.monotonic() + 60
            early: list[tuple[int, str]] = []
            while not early and time.monotonic() < deadline:
                early = await statuses(4)
            assert early and set(early) == {(503, "starting")}, early
            release.set()
            await asyncio.wait_for(starting, 60)
            later = await statuses(8)
            assert later and set(later) == {(200, "ok")}, later
        finally:
            release.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(starting, 60)
            await sup.shutdown()

    asyncio.run(main())
