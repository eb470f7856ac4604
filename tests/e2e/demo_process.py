"""`teecube serve --demo` as a real subprocess: start it, read its banner, stop it with SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

KEY_RE = re.compile(r"API key \(shown once\): (sk-tc-[A-Za-z0-9_-]+)")
START_TIMEOUT = 180.0  # model load on a shared 2-core machine; a start-up limit, not an assertion


def teecube_cmd() -> list[str]:
    """The installed console script when there is one (what a person types), else the module."""
    script = Path(sys.executable).with_name("teecube")
    return [str(script)] if script.exists() else [sys.executable, "-m", "teecube.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class DemoServer:
    state_dir: Path
    database_url: str
    port: int
    proc: subprocess.Popen[str] | None = None
    key: str = ""
    engine_pid: int = 0
    lines: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. TEECUBE_OPERATOR_TOKEN
    metrics_port: int = field(default_factory=free_port)  # the operator listener (never the tenant port)
    _banner: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def root(self) -> Path:
        return self.state_dir / "attestation" / "simulated-root.pem"

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:  # drained to EOF so the pipe never blocks the server
            self.lines.append(line)
            m = KEY_RE.search(line)
            if m:
                self.key = m.group(1)
            if "Ctrl-C stops it." in line:
                self._banner.set()
        self._banner.set()

    def start(self) -> DemoServer:
        self.lines.clear()
        self.key = ""
        self._banner.clear()
        cmd = [*teecube_cmd(), "serve", "--demo", "--state-dir", str(self.state_dir),
               "--database-url", self.database_url, "--port", str(self.port),
               "--metrics-port", str(self.metrics_port)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.extra_env}
        env.pop("TEECUBE_PEPPER", None)
        env.pop("TEECUBE_PEPPER_FILE", None)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=env)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        if not self._banner.wait(START_TIMEOUT) or self.proc.poll() is not None or not self.key:
            self.kill()
            raise RuntimeError(f"teecube serve --demo did not come up:\n{self.output[-4000:]}")
        kids = children(self.proc.pid)
        if len(kids) != 1:
            raise RuntimeError(f"expected one engine child, found {kids}")
        self.engine_pid = kids[0]
        return self

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, as a service manager would; returns the exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """Last resort for a failed test: the server and its engine, by their own ids."""
        if self.proc is None:
            return
        for pid in (self.engine_pid, *children(self.proc.pid)):
            if pid and alive(pid):
                os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def metric(self, name: str) -> float:
        """Sum of a counter over all label sets on the proxy's operator /metrics listener (0 when
        never incremented); the demo's operator token, when it has one, is the credential."""
        token_file = self.state_dir / "operator-token"
        token = self.extra_env.get("TEECUBE_OPERATOR_TOKEN") or (
            token_file.read_text().strip() if token_file.exists() else None
        )
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = httpx2.get(f"http://127.0.0.1:{self.metrics_port}/metrics", headers=headers, trust_env=False,
                       timeout=10)
        r.raise_for_status()
        total = 0.0
        for line in r.text.splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                total += float(line.rsplit(" ", 1)[1])
        return total


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    """The engine is reaped by serve before it exits; allow init a moment to reap an orphan."""
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not alive(pid)
