"""Fixtures: one proxy, one fake upstream and one headless Chromium for the whole session.

Without Chromium the browser tests skip with the reason, except in CI (`CI` or
`TEECUBE_REQUIRE_BROWSER` set), where a missing browser is a failure: .ci/run installs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import fresh_postgres_database, postgres_url
from tests.console import harness


@dataclass
class Stand:
    base_url: str
    upstream_url: str
    config: Any
    served: harness.Served
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def console_state(self) -> Any:
        from proxy.console import CONSOLE

        assert self.served.app is not None
        return self.served.app[CONSOLE]


@pytest.fixture(scope="package")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """PostgreSQL when the test server is configured (as in CI), else a SQLite file."""
    if postgres_url() is not None:
        yield from fresh_postgres_database(f"teecube_test_console_{os.getpid()}")
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('console-db') / 'teecube.db'}"


@pytest.fixture(scope="package")
def stand(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Stand]:
    workdir = tmp_path_factory.mktemp("console")
    url = database_url
    upstream = harness.fake_upstream()
    upstream_url = f"http://127.0.0.1:{upstream.port}"
    keys = harness.seed(url, upstream_url)
    served, config = harness.proxy(workdir / "state", url)
    yield Stand(f"https://127.0.0.1:{served.port}", upstream_url, config, served, keys)
    served.stop()
    upstream.stop()


@pytest.fixture(scope="package")  # finished with the package: playwright's loop must not outlive it
def browser() -> Iterator[Any]:
    path = harness.chromium_path()
    if path is None:
        if os.environ.get("CI") or os.environ.get("TEECUBE_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required in CI (.ci/run installs the OS package `chromium`)")
        pytest.skip("no system Chromium (apt-get install chromium); browser tests skipped outside CI")
    if not (os.environ.get("CI") or os.environ.get("TEECUBE_REQUIRE_BROWSER")):
        pytest.importorskip("playwright", reason="playwright is in the dev extra: pip install -e '.[dev]'")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


class Console:
    """One browser context (its own cookies) with console-error capture."""

    def __init__(self, browser: Any, base_url: str) -> None:
        self.context = browser.new_context(base_url=base_url, ignore_https_errors=True,
                                           viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def goto(self, path: str) -> Any:
        return self.page.goto(path)

    def login(self, credential: str) -> None:
        self.goto("/console/login")
        self.page.fill("#credential", credential)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def console(browser: Any, stand: Stand) -> Iterator[Console]:
    c = Console(browser, stand.base_url)
    yield c
    c.close()


# The review modules' stand (tests/console/review.py): one proxy per module, its database named after it.
@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Any]:
    from tests.console.review import stand as review_stand

    yield from review_stand(tmp_path_factory, "console_" + request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture
def http(setup: Any) -> Iterator[Any]:
    from tests.console.review import client

    yield from client(setup)


@pytest.fixture
def operator(http: Any) -> tuple[dict[str, str], str]:
    from tests.console.review import operator_session

    return operator_session(http)
