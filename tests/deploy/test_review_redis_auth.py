"""Redis requires a password in both deployments (docker-compose.yml, deploy/k8s/redis.yaml).

Each file's own start command and health check run here against a real redis-server (on a free
port): without the password a client gets NOAUTH, with it PONG; the password is never on the
server's command line; a placeholder-short or unsafe password stops Redis before it listens;
the health check fails with a wrong password, not only with none.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from deploy_helpers import DEPLOY, REPO, free_port
from redis.backoff import NoBackoff
from redis.retry import Retry
from test_deploy_k8s import _containers, _one

from proxy.limits.bucket import BucketSpec
from proxy.limits.redis_store import LimiterUnavailable, RedisBucketStore

pytestmark = pytest.mark.skipif(not shutil.which("redis-server") or not shutil.which("redis-cli"),
                                reason="needs redis-server and redis-cli")

PASSWORD = "0123456789abcdef0123456789abcdef"


def _client(port: int, password: str | None = None) -> redis.Redis:
    """No retries: redis-py backs off and retries a refused AUTH, which only slows these checks."""
    return redis.Redis(port=port, password=password, socket_timeout=2, retry=Retry(NoBackoff(), 0))


def _compose_redis() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["redis"]


def _scripts() -> dict[str, tuple[str, str]]:
    """Per deployment: (start script, health-check script) as the shell runs them."""
    svc = _compose_redis()
    sh, dash_c, start = svc["command"]
    kind, check = svc["healthcheck"]["test"]
    assert (sh, dash_c, kind) == ("sh", "-c", "CMD-SHELL")
    compose = (start.replace("$$", "$"), check.replace("$$", "$"))  # compose's escape for a literal $
    (c,) = _containers(_one("Deployment", "teecube-redis"))
    k_sh, k_dash_c, k_start = c["command"]
    p_sh, p_dash_c, p_check = c["readinessProbe"]["exec"]["command"]
    assert (k_sh, k_dash_c, p_sh, p_dash_c) == ("sh", "-c", "sh", "-c")
    return {"compose": compose, "k8s": (k_start, p_check)}


def _on_port(script: str, port: int, tmp: Path) -> str:
    """The script with redis-server on a free loopback port, its working files under tmp."""
    assert "redis-server - " in script and "redis-cli ping" not in script
    return script.replace("redis-server - ", f"redis-server - --port {port} --bind 127.0.0.1 --dir {tmp} ")


def _start(script: str, password: str, tmp: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "REDIS_PASSWORD": password}
    proc = subprocess.Popen(["sh", "-c", _on_port(script, port, tmp)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, port


def _wait_listening(proc: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            time.sleep(0.05)
            continue
        with pytest.raises(redis.AuthenticationError):  # listening, and asking for the password
            _client(port).ping()
        return
    pytest.fail("redis-server did not start")


async def _limiter_round_trip(port: int) -> None:
    spec = BucketSpec("rpm:key:redis-auth", 10, "requests")
    good = RedisBucketStore(f"redis://:{PASSWORD}@127.0.0.1:{port}/0", prefix="test:auth:")
    assert (await good.acquire([(spec, 1)])).allowed
    bad = RedisBucketStore(f"redis://:wrong-password-0123456789@127.0.0.1:{port}/0", prefix="test:auth:")
    with pytest.raises(LimiterUnavailable) as caught:
        await bad.acquire([(spec, 1)])
    assert "password" not in str(caught.value) and "0123456789" not in str(caught.value)


@pytest.mark.parametrize("deployment", ["compose", "k8s"])
def test_redis_requires_the_password_and_never_shows_it(deployment: str, tmp_path: Path) -> None:
    start, check = _scripts()[deployment]
    proc, port = _start(start, PASSWORD, tmp_path)
    try:
        _wait_listening(proc, port)
        with pytest.raises(redis.AuthenticationError):
            _client(port).set("k", "v")
        with pytest.raises(redis.AuthenticationError):
            _client(port, "wrong-password-0123456789").ping()
        assert _client(port, PASSWORD).ping() is True
        assert redis.Redis.from_url(f"redis://:{PASSWORD}@127.0.0.1:{port}/0").ping() is True
        # The proxy's limiter works with the URL that carries the password, and a wrong one is a
        # LimiterUnavailable naming only the error's type (no URL, no password).
        asyncio.run(_limiter_round_trip(port))
        # sh exec'd the server (so it gets the stop signal), whose command line holds no password.
        exe = os.path.basename(os.readlink(f"/proc/{proc.pid}/exe"))
        assert exe.startswith("redis-")  # redis-server (Debian links it to redis-check-rdb)
        assert PASSWORD not in Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
        # The health check: passes with the password, fails with a wrong one or none.
        probe = check.replace("redis-cli ping", f"redis-cli -p {port} ping")
        assert "redis-cli -p" in probe
        for password, ok in ((PASSWORD, True), ("wrong-password-0123456789", False), ("", False)):
            env = {**os.environ, "REDIS_PASSWORD": password}
            env.pop("REDISCLI_AUTH", None)
            rc = subprocess.run(["sh", "-c", probe], env=env, capture_output=True, timeout=10).returncode
            assert (rc == 0) == ok, (password, rc)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


@pytest.mark.parametrize("password", ["", "CHANGE-ME", "short-password", "has space 0123456789",
                                      "quote'0123456789abc", "dollar$0123456789abc"])
@pytest.mark.parametrize("deployment", ["compose", "k8s"])
def test_redis_refuses_a_missing_short_or_unsafe_password(
    deployment: str, password: str, tmp_path: Path
) -> None:
    start, _ = _scripts()[deployment]
    proc, port = _start(start, password, tmp_path)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode != 0
    assert "REDIS_PASSWORD" in err and (not password or password not in err)
    with pytest.raises(ConnectionRefusedError):  # nothing listens
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_env_templates_hold_placeholders_that_redis_refuses() -> None:
    """The committed templates cannot start Redis as they are (compose and k8s alike)."""
    lines = (DEPLOY / "redis.env.example").read_text().splitlines()
    values = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    secret = _one("Secret", "teecube-redis")["stringData"]
    for value in (values["REDIS_PASSWORD"], secret["REDIS_PASSWORD"]):
        assert len(value) < 16
