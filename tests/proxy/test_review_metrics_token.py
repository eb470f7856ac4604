"""The metrics listener's own credential (`--metrics-token-file`, `$TEECUBE_METRICS_TOKEN_FILE`).

Before, a Prometheus server scraping the proxy's `/metrics` held the operator token, which also
opens the admin API and the console. Now a live `teecube proxy` (a real process, SQLite) given a
metrics token answers `/metrics` with it, and refuses it everywhere else: the admin API, the
console's sign-in, the tenant API. Once a metrics token is set, the operator token no longer
opens `/metrics` (docs/proxy.md says why). The comparison is constant-time; a bad token file
stops start-up (`teecube proxy` and `teecube serve`, before the engine loads) with a line that
names the file and never the token; the flag wins over the environment."""

from __future__ import annotations

import argparse
import asyncio
import hmac
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
from typing import Any

import httpx2 as httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer

from proxy import operator_listener
from proxy.cli import add_proxy_arguments, config_from_args
from proxy.metrics import ProxyMetrics
from proxy.operator_listener import create_metrics_app
from teecube.serve import engine_environment
from tests.proxy.conftest import PEPPER, Tenancy

REPO = Path(__file__).resolve().parents[2]
OPERATOR = "operator-token-metrics-review-" + secrets.token_hex(8)
METRICS = "metrics-token-review-" + secrets.token_hex(8)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _secret_file(path: Path, text: str) -> Path:
    path.touch(mode=0o600)
    path.write_text(text + "\n")
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TEECUBE_OPERATOR_TOKEN", "TEECUBE_METRICS_TOKEN_FILE", "TEECUBE_REDIS_URL",
                        "TEECUBE_PEPPER_FILE")}
    return env | {"TEECUBE_PEPPER": PEPPER.decode()} | extra


@dataclass
class Live:
    proc: subprocess.Popen[bytes]
    url: str
    metrics_url: str
    key: str
    log: Path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    work = tmp_path_factory.mktemp("metrics_token")
    db_url = f"sqlite:///{work / 'teecube.db'}"
    t = Tenancy(db_url)
    t.domain("mt")
    t.deployment("dead", "unix:/nonexistent/teecube-metrics-token.sock", credential_ref=None)
    t.grant("mt", "chat", "dead")
    key = t.key("mt", "k")
    port, metrics_port = _free_port(), _free_port()
    log = work / "proxy.log"
    cmd = [sys.executable, "-m", "teecube.cli", "proxy", "--no-tls", "--tee", "simulated",
           "--database-url", db_url, "--port", str(port), "--metrics-port", str(metrics_port),
           "--state-dir", str(work), "--guard-scan-workers", "0",
           "--operator-token-file", str(_secret_file(work / "operator-token", OPERATOR)),
           "--metrics-token-file", str(_secret_file(work / "metrics-token", METRICS))]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=_env(), stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    handle = Live(proc, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics", key, log)
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            if (httpx.get(handle.url + "/health", timeout=2).status_code == 200
                    and httpx.get(handle.metrics_url, timeout=2).status_code == 401):
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.2)
    yield handle
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_metrics_token_opens_metrics(live: Live) -> None:
    r = httpx.get(live.metrics_url, headers=_bearer(METRICS), timeout=10)
    assert r.status_code == 200 and "teecube_proxy_requests" in r.text


@pytest.mark.parametrize(
    "token",
    [None, "Basic x", "wrong-" + secrets.token_hex(12), METRICS + "x", METRICS[:-1]],
    ids=["missing", "basic", "wrong", "longer", "shorter"],  # stable ids: pytest-xdist workers must agree
)
def test_a_wrong_or_missing_token_is_401_on_metrics(live: Live, token: str | None) -> None:
    headers = {} if token is None else {"Authorization": token if " " in token else f"Bearer {token}"}
    r = httpx.get(live.metrics_url, headers=headers, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_metrics_token"
    assert "teecube_proxy" not in r.text


def test_neither_the_operator_token_nor_a_tenant_key_opens_metrics(live: Live) -> None:
    """With a metrics token set, the admin credential is refused on the plain-HTTP metrics
    listener: no scraper needs it, and the listener is no oracle for it."""
    for token in (OPERATOR, live.key):
        r = httpx.get(live.metrics_url, headers=_bearer(token), timeout=10)
        assert r.status_code == 401 and "teecube_proxy" not in r.text


def test_metrics_are_still_not_on_the_tenant_port(live: Live) -> None:
    assert httpx.get(live.url + "/metrics", headers=_bearer(METRICS), timeout=10).status_code == 404


@pytest.mark.parametrize(("method", "path"), [("GET", "/admin/v1/domains"), ("GET", "/admin/v1/deployments"),
                                              ("GET", "/admin/v1/audit"), ("POST", "/admin/v1/domains"),
                                              ("POST", "/admin/v1/domains/mt/disable")])
def test_the_metrics_token_is_refused_by_the_admin_api(live: Live, method: str, path: str) -> None:
    body = {"name": "by-metrics-token"} if path == "/admin/v1/domains" and method == "POST" else None
    r = httpx.request(method, live.url + path, headers=_bearer(METRICS), json=body, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_operator_token"
    # the operator token still works there, and nothing was changed by the refused calls
    domains = httpx.get(live.url + "/admin/v1/domains", headers=_bearer(OPERATOR), timeout=10)
    assert domains.status_code == 200
    text = domains.text
    assert "by-metrics-token" not in text and '"mt"' in text


def _console_sign_in(http: httpx.Client, credential: str) -> httpx.Response:
    """The console's cookies are Secure; this listener is plain HTTP, so they go by hand."""
    page = http.get("/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    return http.post("/console/login", data={"csrf": csrf.group(1), "credential": credential},
                     headers={"Cookie": f"teecube_console_login={page.cookies['teecube_console_login']}"})


def test_the_metrics_token_does_not_sign_in_to_the_console(live: Live) -> None:
    with httpx.Client(base_url=live.url, follow_redirects=False, timeout=10) as http:
        refused = _console_sign_in(http, METRICS)
        assert refused.status_code == 401 and "teecube_console" not in refused.cookies
        operator = _console_sign_in(http, OPERATOR)  # the control: the operator token signs in
        assert operator.status_code == 303 and operator.cookies.get("teecube_console")


def test_the_metrics_token_is_no_tenant_credential(live: Live) -> None:
    for path in ("/v1/models", "/v1/models/chat"):
        r = httpx.get(live.url + path, headers=_bearer(METRICS), timeout=10)
        assert r.status_code == 401, (path, r.text)
    r = httpx.post(live.url + "/v1/chat/completions", headers=_bearer(METRICS), timeout=10,
                   json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 401
    ok = httpx.get(live.url + "/v1/models", headers=_bearer(live.key), timeout=10)  # the control
    assert ok.status_code == 200 and [m["id"] for m in ok.json()["data"]] == ["chat"]


def test_the_token_never_reaches_the_log(live: Live) -> None:
    assert METRICS not in live.log.read_text(errors="replace")


# --- the listener in process: constant-time comparison, which bearer opens it ----------------

def _metrics_statuses(app: Any, *tokens: str | None) -> tuple[int, ...]:
    """GET /metrics with each bearer in turn (None: no Authorization), in one event loop."""
    async def go() -> tuple[int, ...]:
        statuses = []
        async with TestClient(TestServer(app)) as client:
            for token in tokens:
                resp = await client.get("/metrics", headers={} if token is None else _bearer(token))
                statuses.append(resp.status)
        return tuple(statuses)

    return asyncio.run(go())


def test_the_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(operator_listener.hmac, "compare_digest", spy)
    app = create_metrics_app(ProxyMetrics(), OPERATOR, "127.0.0.1", metrics_token=METRICS)
    assert _metrics_statuses(app, "nope-" + secrets.token_hex(8), METRICS, None) == (401, 200, 401)
    # every request compared, and only to the metrics token
    assert [b for _, b in calls] == [METRICS.encode()] * 3
    assert calls[1][0] == METRICS.encode() and calls[2][0] == b""


def test_which_bearer_opens_metrics() -> None:
    both = create_metrics_app(ProxyMetrics(), OPERATOR, "127.0.0.1", metrics_token=METRICS)
    assert _metrics_statuses(both, METRICS, OPERATOR) == (200, 401)
    legacy = create_metrics_app(ProxyMetrics(), OPERATOR, "127.0.0.1")  # as before: the operator token
    assert _metrics_statuses(legacy, OPERATOR, METRICS) == (200, 401)
    only = create_metrics_app(ProxyMetrics(), None, "0.0.0.0", metrics_token=METRICS)
    assert _metrics_statuses(only, METRICS, None) == (200, 401)
    with pytest.raises(ValueError, match="non-loopback"):
        create_metrics_app(ProxyMetrics(), None, "0.0.0.0")


# --- configuration: the flag, the environment, bad files ----------------------------------

def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_proxy_arguments(parser)
    return parser.parse_args(["--database-url", "sqlite://", *argv])


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("TEECUBE_OPERATOR_TOKEN", "TEECUBE_METRICS_TOKEN_FILE", "TEECUBE_PEPPER_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TEECUBE_PEPPER", PEPPER.decode())
    return monkeypatch


def test_the_flag_wins_over_the_environment(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    by_flag = _secret_file(tmp_path / "flag", "flag-token-" + secrets.token_hex(8))
    by_env = _secret_file(tmp_path / "env", "env-token-" + secrets.token_hex(8))
    assert config_from_args(_args()).metrics_token is None
    clean_env.setenv("TEECUBE_METRICS_TOKEN_FILE", str(by_env))
    assert config_from_args(_args()).metrics_token == by_env.read_text().strip()
    config = config_from_args(_args("--metrics-token-file", str(by_flag)))
    assert config.metrics_token == by_flag.read_text().strip()
    clean_env.setenv("TEECUBE_METRICS_TOKEN_FILE", str(tmp_path / "missing"))  # ignored under the flag
    assert config_from_args(_args("--metrics-token-file", str(by_flag))).metrics_token == config.metrics_token


def _refusal(tmp_path: Path, path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The start-up refusal for this token file: it names the file."""
    with pytest.raises(SystemExit) as exc:
        config_from_args(_args("--metrics-token-file", str(path)))
    message = str(exc.value.code)
    assert str(path) in message
    return message


def test_bad_token_files_are_refused_by_name(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    assert "does not exist" in _refusal(tmp_path, tmp_path / "missing", clean_env)
    assert "cannot be read" in _refusal(tmp_path, tmp_path, clean_env)  # a directory
    short = "short-" + secrets.token_hex(2)
    message = _refusal(tmp_path, _secret_file(tmp_path / "short", short), clean_env)
    assert "at least 16 characters" in message and short not in message
    assert "at least 16" in _refusal(tmp_path, _secret_file(tmp_path / "empty", "   "), clean_env)
    two_lines = "first-line-" + secrets.token_hex(8) + "\nsecond-line"
    message = _refusal(tmp_path, _secret_file(tmp_path / "two", two_lines), clean_env)
    assert "printable ASCII" in message and "first-line" not in message
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe" * 20)
    assert "cannot be read" in _refusal(tmp_path, binary, clean_env)
    if os.geteuid() != 0:  # root reads a 0000 file anyway
        locked = _secret_file(tmp_path / "locked", "locked-token-" + secrets.token_hex(8))
        locked.chmod(0)
        assert "cannot be read" in _refusal(tmp_path, locked, clean_env)


def test_the_metrics_token_must_not_be_the_operator_token(tmp_path: Path,
                                                          clean_env: pytest.MonkeyPatch) -> None:
    same = _secret_file(tmp_path / "same", OPERATOR)
    clean_env.setenv("TEECUBE_OPERATOR_TOKEN", OPERATOR)
    message = _refusal(tmp_path, same, clean_env)
    assert "must differ from the operator token" in message and OPERATOR not in message


def _start_up(tmp_path: Path, command: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """`teecube proxy` or `teecube serve` (bundled model, CPU) with `flags`, run until it exits."""
    extra = ["--model", "bundled", "--device", "cpu"] if command == "serve" else []
    return subprocess.run(
        [sys.executable, "-m", "teecube.cli", command, "--no-tls", "--tee", "simulated", *extra,
         "--database-url", f"sqlite:///{tmp_path / 'db.sqlite'}", "--state-dir", str(tmp_path / "state"),
         "--port", str(_free_port()), *flags],
        env=_env(), cwd=REPO, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize("command", ["proxy", "serve"])
def test_a_bad_file_stops_start_up_with_one_line(tmp_path: Path, command: str) -> None:
    """`teecube proxy` and `teecube serve` (before it loads the engine) exit 1 with one line."""
    short = "tiny-" + secrets.token_hex(2)
    path = _secret_file(tmp_path / "metrics-token", short)
    r = _start_up(tmp_path, command, "--metrics-token-file", str(path))
    assert r.returncode == 1, r.stderr[-2000:]
    assert f"the metrics token in {path} must be at least 16 characters" in r.stderr
    assert "Traceback" not in r.stderr and short not in r.stderr + r.stdout
    assert "engine: loading" not in r.stderr


def test_serve_does_not_hand_the_engine_the_metrics_token_file() -> None:
    env = engine_environment({"TEECUBE_METRICS_TOKEN_FILE": "/run/secrets/metrics-token", "PATH": "/bin"})
    assert env == {"PATH": "/bin"}


@pytest.mark.parametrize("command", ["proxy", "serve"])
def test_a_missing_operator_token_file_stops_start_up_with_one_line(tmp_path: Path, command: str) -> None:
    """--operator-token-file reads through the same checks: a missing file was a FileNotFoundError
    traceback (for serve, after the engine had loaded)."""
    path = tmp_path / "no-such-operator-token"
    r = _start_up(tmp_path, command, "--operator-token-file", str(path))
    assert r.returncode == 1, r.stderr[-2000:]
    assert f"the operator token file {path} does not exist" in r.stderr
    assert "Traceback" not in r.stderr and "engine: loading" not in r.stderr
