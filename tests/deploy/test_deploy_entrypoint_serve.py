"""The images' command, run here without a container: `deploy/docker/entrypoint.sh serve ...`.

Against the real PostgreSQL (a database of its own, created and dropped here) and Redis, with
a temporary state directory and the bundled model on the CPU. The entrypoint must wait for
the database, migrate it and exec `teecube serve` (so SIGTERM reaches the appliance). The
operator then registers the engine with `teecube admin` against the same database, and a
client sends a chat completion with the `openai` SDK over **TLS**, after attesting the
server with `attestation.client.connect` (simulated TEE, its root trusted explicitly), as a
client of the CPU image would. SIGTERM must then stop it cleanly, engine included.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import psycopg
import pytest
import redis
from deploy_helpers import (
    ENTRYPOINT,
    HEALTHCHECK,
    alive,
    children,
    cmdline,
    env_with_venv,
    free_port,
    run_teecube,
    teecube_bin,
    wait_gone,
)
from sqlalchemy.engine import make_url

from attestation.client import connect
from domains import db as domains_db

START_TIMEOUT = 180.0  # model load on a shared 2-core machine: a limit, not a measurement
SERVED = "SmolLM2-135M-Instruct"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_DEFAULT = "redis://127.0.0.1:6379/15"


def _reachable_or_skip(what: str, configured: bool, check) -> None:
    """CI sets TEECUBE_TEST_* and runs the services: there, unreachable is a failure."""
    try:
        check()
    except Exception as exc:
        if configured:
            raise
        pytest.skip(f"{what} not reachable ({exc}); CI runs it")


@pytest.fixture(scope="module")
def postgres_db() -> Iterator[str]:
    """A fresh database teecube_test_deploy_<pid> on the test server; dropped afterwards."""
    configured = os.environ.get("TEECUBE_TEST_DATABASE_URL")
    base = make_url(configured or PG_DEFAULT)
    admin_dsn = base.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    name = f"teecube_test_deploy_{os.getpid()}"
    _reachable_or_skip("PostgreSQL", bool(configured),
                       lambda: psycopg.connect(admin_dsn, connect_timeout=3).close())
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def redis_url() -> str:
    url = os.environ.get("TEECUBE_TEST_REDIS_URL") or REDIS_DEFAULT
    _reachable_or_skip("Redis", bool(os.environ.get("TEECUBE_TEST_REDIS_URL")),
                       lambda: redis.Redis.from_url(url, socket_timeout=3).ping())
    return url


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Poll with the images' own health check script until it reports healthy."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"entrypoint exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        probe = subprocess.run([sys.executable, str(HEALTHCHECK), url], capture_output=True, text=True,
                               timeout=10)
        if probe.returncode == 0:
            assert probe.stdout.startswith("healthy"), probe.stdout
            return
        time.sleep(0.5)
    pytest.fail(f"not healthy within {START_TIMEOUT}s:\n{log.read_text()[-4000:]}")


def _wait_migrated(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"entrypoint exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        if domains_db.current(url) == domains_db.head():
            return
        time.sleep(0.3)
    pytest.fail(f"not migrated within {START_TIMEOUT}s:\n{log.read_text()[-4000:]}")


def _admin(args: list[str], env: dict[str, str]) -> dict:
    result = run_teecube(["admin", *args, "--json", "--actor", "test:deploy"], env)
    assert result.returncode == 0, f"teecube admin {args}: {result.stderr}"
    return json.loads(result.stdout)


@pytest.mark.slow
def test_entrypoint_serves_a_chat_completion_then_stops_cleanly(
    postgres_db: str, redis_url: str, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    pepper = tmp_path / "pepper"
    pepper.write_text(secrets.token_hex(32) + "\n")
    env = env_with_venv(
        TEECUBE_DATABASE_URL=postgres_db,
        TEECUBE_PEPPER_FILE=str(pepper),
        TEECUBE_OPERATOR_TOKEN=secrets.token_urlsafe(24),
        TEECUBE_REDIS_URL=redis_url,
        TEECUBE_TEE="simulated",
        TEECUBE_BIN=teecube_bin(),
        HF_HUB_OFFLINE="1",
    )
    # Before the entrypoint runs, the new database has no schema at all.
    assert domains_db.current(postgres_db) is None

    port = free_port()
    url = f"https://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(ENTRYPOINT), "serve", "--model", "bundled", "--device", "cpu", "--host", "127.0.0.1",
             "--port", str(port), "--state-dir", str(state), "--max-model-len", "1024"],
            env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        # The entrypoint migrates before it starts the appliance. As soon as the schema is
        # there the operator registers the engine `teecube serve` is starting (its private
        # socket; its per-start bearer through the env reference) and issues a key, against the
        # same database, while the model loads.
        _wait_migrated(proc, postgres_db, log)
        assert "entrypoint: migrating the database" in log.read_text()
        socket_path = (state / "run" / "engine.sock").resolve()
        _admin(["domain", "create", "acme"], env)
        _admin(["deployment", "add", "smol", "--kind", "teecube", "--url", f"unix:{socket_path}",
                "--served-model-name", SERVED, "--credential-ref", "env:TEECUBE_ENGINE_API_KEY"], env)
        _admin(["grant", "--domain", "acme", "--alias", "smollm2", "--deployment", "smol"], env)
        key = _admin(["key", "create", "--domain", "acme", "--name", "deploy-test"], env)
        secret = key["secret"]
        assert isinstance(secret, str) and secret.startswith("sk-"), key

        _wait_healthy(proc, f"{url}/health", log)
        # The entrypoint exec'd the appliance: the PID we started *is* `teecube serve` (so the
        # container runtime's SIGTERM reaches it), and that started exactly one engine.
        argv = cmdline(proc.pid)
        assert "serve" in argv and not any(a.endswith("entrypoint.sh") for a in argv), argv
        engines = [c for c in children(proc.pid) if "engine" in cmdline(c)]
        assert len(engines) == 1, [cmdline(c) for c in children(proc.pid)]

        # A client: attest first (simulated TEE, its local root trusted explicitly), then talk
        # only to the attested TLS key.
        conn = connect(url, trusted_simulated_root=state / "attestation" / "simulated-root.pem")
        client = openai.OpenAI(base_url=conn.openai_base_url, api_key=secret,
                               http_client=conn.http_client(), max_retries=0, timeout=60)
        reply = client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": "Say hello."}],
            max_tokens=8, temperature=0,
        )
        assert reply.choices[0].message.content
        assert reply.usage is not None and 0 < reply.usage.completion_tokens <= 8
        assert reply.model == "smollm2"

        # The key works only with its own domain's models: a refused model is an OpenAI error.
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="not-granted", messages=[{"role": "user", "content": "x"}])
    finally:
        if proc.poll() is None:
            engine_pids = [c for c in children(proc.pid) if "engine" in cmdline(c)]
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
            assert code == 0, f"exit {code} after SIGTERM:\n{log.read_text()[-4000:]}"
            for pid in engine_pids:
                assert wait_gone(pid), f"engine {pid} outlived teecube serve"
    assert not alive(proc.pid)
    assert "Traceback" not in log.read_text(), log.read_text()[-4000:]
