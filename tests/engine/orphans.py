"""Does a child process die with its parent? A parent script is started, prints its child's pid,
and is killed; the child must be gone (or a zombie) within a deadline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def child_outlives_killed_parent(script: str, *args: str, deadline_s: float = 20.0) -> bool:
    """Run `script` (it prints one pid, then waits), SIGKILL it, and wait for that pid to exit.
    True if the child was still alive at the deadline (it is then killed here)."""
    parent = subprocess.Popen(
        [sys.executable, "-c", script, *args], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        child_pid = int(parent.stdout.readline())  # type: ignore[union-attr]
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if not running(child_pid):
            return False
        time.sleep(0.2)
    os.kill(child_pid, signal.SIGKILL)
    return True


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan may wait to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"
