"""The commands `teecube serve --demo` prints work as pasted into a fresh shell: another
directory, an environment with nothing but a system PATH (PYTHONPATH is kept only when the
tests themselves run from a source tree without an install)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from demo_process import DemoServer

from teecube.engine_flags import DEFAULT_MAX_QUEUE_SIZE

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def _printed(demo: DemoServer, marker: str) -> str:
    """The command on the banner line containing `marker`, with its `\\` continuation lines."""
    lines = demo.output.splitlines()
    i = next(i for i, line in enumerate(lines) if marker in line)
    parts = [lines[i].strip()]
    while parts[-1].endswith("\\"):
        i += 1
        parts[-1] = parts[-1][:-1]
        parts.append(lines[i].strip())
    return " ".join(parts)


def _fresh_shell(command: str, cwd: Path, path: str = SYSTEM_PATH) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path, "HOME": str(cwd), "LANG": "C.UTF-8"}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.slow  # starts the live demo
def test_printed_verify_saves_the_cert_and_printed_clients_use_it(demo: DemoServer, tmp_path: Path) -> None:
    verify = _printed(demo, " verify https://")
    assert verify.startswith("/") and "--policy /" in verify and "--trust-simulated-root /" in verify
    p = _fresh_shell(verify, tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "✓ TRUSTED" in p.stdout
    cert = demo.state_dir.resolve() / "demo-cert.pem"
    assert cert.read_text().startswith("-----BEGIN CERTIFICATE-----")

    curl = _printed(demo, "curl --cacert")
    p = _fresh_shell(curl, tmp_path)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["choices"][0]["message"]["content"] is not None

    # the openai one-liner, run where the openai SDK is installed (this venv)
    sdk = _printed(demo, "SSL_CERT_FILE=")
    p = _fresh_shell(sdk, tmp_path, path=f"{Path(sys.executable).parent}:{SYSTEM_PATH}")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip()

    pin = _printed(demo, "from attestation.client import connect")
    p = _fresh_shell(pin, tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "True"


@pytest.mark.slow  # starts the live demo
def test_serve_starts_the_engine_with_a_bounded_queue(demo: DemoServer) -> None:
    argv = Path(f"/proc/{demo.engine_pid}/cmdline").read_bytes().split(b"\0")
    assert b"--max-queue-size" in argv
    assert argv[argv.index(b"--max-queue-size") + 1] == str(DEFAULT_MAX_QUEUE_SIZE).encode()


@pytest.mark.slow  # starts the live demo
def test_banner_reports_start_up_time(demo: DemoServer) -> None:
    assert "start-up took" in demo.output
    assert "engine: ready in" in demo.output
