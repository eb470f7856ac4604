"""One `teecube serve --demo` process shared by the ops tests (the model load is the cost)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))

from demo_process import DemoServer, free_port, wait_gone


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    tmp = tmp_path_factory.mktemp("ops-demo")
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
