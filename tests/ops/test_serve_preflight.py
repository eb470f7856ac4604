"""A second `teecube serve` while one runs: refused before it loads anything, and the first one
keeps answering (two real processes)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx2
import pytest
from demo_process import DemoServer, free_port, teecube_cmd


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEECUBE_PEPPER")}
    return subprocess.run([*teecube_cmd(), "serve", "--demo", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def _answers(demo: DemoServer) -> None:
    r = httpx2.post(f"{demo.url}/v1/chat/completions", verify=False, trust_env=False, timeout=60,
                    headers={"Authorization": f"Bearer {demo.key}"},
                    json={"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}],
                          "max_tokens": 4})
    assert r.status_code == 200, r.text


@pytest.mark.slow
def test_second_serve_on_the_same_state_dir_is_refused_by_the_lock(demo: DemoServer, tmp_path: Path) -> None:
    sock = demo.state_dir / "run" / "engine.sock"
    before = sock.stat().st_ino
    p = _serve("--state-dir", str(demo.state_dir), "--database-url", demo.database_url,
               "--port", str(free_port()))
    assert p.returncode == 1
    assert "another teecube serve (pid" in p.stderr and str(demo.state_dir) in p.stderr
    assert "engine: loading" not in p.stderr  # refused before anything loaded
    assert "Traceback" not in p.stderr
    assert sock.stat().st_ino == before  # the running engine's socket was not replaced
    _answers(demo)


@pytest.mark.slow
def test_second_serve_on_the_same_port_is_refused_before_loading(demo: DemoServer, tmp_path: Path) -> None:
    started = time.monotonic()
    p = _serve("--state-dir", str(tmp_path / "state"), "--database-url", f"sqlite:///{tmp_path}/db",
               "--port", str(demo.port))
    assert p.returncode == 1
    assert f"port {demo.port} on 127.0.0.1 is already in use" in p.stderr
    assert "engine: loading" not in p.stderr
    assert not (tmp_path / "db").exists()  # nothing touched, not even a database
    assert time.monotonic() - started < 60  # no model load (that alone takes longer here)
    _answers(demo)


@pytest.mark.slow
def test_missing_tee_is_refused_before_loading(tmp_path: Path) -> None:
    p = _serve("--tee", "sev-snp", "--state-dir", str(tmp_path / "state"),
               "--database-url", f"sqlite:///{tmp_path}/db", "--port", str(free_port()))
    assert p.returncode == 1
    assert "TEE check failed" in p.stderr and "engine: loading" not in p.stderr


@pytest.mark.slow
def test_unknown_flag_is_refused_before_loading(tmp_path: Path) -> None:
    p = _serve("--max-num-seqz", "4", "--state-dir", str(tmp_path / "state"), "--port", str(free_port()))
    assert p.returncode == 2
    assert "not a teecube serve or engine flag" in p.stderr
    assert "engine: loading" not in p.stderr


@pytest.mark.slow
def test_flags_the_engine_owns_through_serve_are_refused(tmp_path: Path) -> None:
    p = _serve("--uds", "/tmp/x.sock", "--state-dir", str(tmp_path / "state"), "--port", str(free_port()))
    assert p.returncode == 2 and "set by teecube serve itself" in p.stderr
