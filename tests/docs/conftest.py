"""A live `teecube serve --demo` (with the admin API on) for the docs' commands."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))

from demo_process import DemoServer, free_port, wait_gone


@pytest.fixture(scope="session")
def live_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    tmp = tmp_path_factory.mktemp("docs-demo")
    token = "op-" + secrets.token_urlsafe(24)
    server = DemoServer(tmp / "state", f"sqlite:///{tmp}/db", free_port(),
                        extra_env={"TEECUBE_OPERATOR_TOKEN": token}).start()
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
