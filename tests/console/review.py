"""The console review tests' stand (tests/console/test_review_*.py): the proxy on plain HTTP over
PostgreSQL (SQLite without the test server), acme with a key, globex; and the helpers they share. The
`setup`, `http` and `operator` fixtures (tests/console/conftest.py) give each module its own."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2 as httpx
import pytest

from proxy.console.web import SECURITY_HEADERS
from tests.conftest import postgres_url
from tests.proxy.conftest import ProxyThread, Tenancy, database_url_for, proxy_config

TOKEN = "operator-token-review-" + secrets.token_hex(8)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Setup:
    proxy: ProxyThread
    tenant_key: str
    postgres: bool


def stand(tmp_path_factory: pytest.TempPathFactory, tag: str) -> Iterator[Setup]:
    """The proxy for one test module (`tag` names its database)."""
    backend = "postgres" if postgres_url() else "sqlite"
    urls = database_url_for(backend, tmp_path_factory, tag)
    t = Tenancy(next(urls))
    for name in ("acme", "globex"):
        t.domain(name)
    key = t.key("acme", "k")
    proxy = ProxyThread(proxy_config(t.url, operator_token=TOKEN)).start()
    yield Setup(proxy, key, backend == "postgres")
    proxy.stop()
    urls.close()


def sign_in(http: httpx.Client, credential: str) -> dict[str, str]:
    """The console's cookies are Secure; this test listener is plain HTTP, so they go by hand."""
    page = http.get("/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    r = http.post("/console/login", data={"csrf": csrf.group(1), "credential": credential},
                  headers={"Cookie": f"teecube_console_login={page.cookies['teecube_console_login']}"})
    assert r.status_code == 303, r.text[:300]
    return {"Cookie": f"teecube_console={r.cookies['teecube_console']}"}


def csrf_of(http: httpx.Client, cookie: dict[str, str], path: str = "/console/domains") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', http.get(path, headers=cookie).text)
    assert found is not None
    return found.group(1)


def flashes(text: str) -> list[str]:
    return re.findall(r'class="flash (?:ok|error)"[^>]*>([^<]*)', text)


def secured(r: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get(name) == value, (r.status_code, name)


def client(setup: Setup) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=setup.proxy.base_url, follow_redirects=False, timeout=60) as http:
        yield http


def operator_session(http: httpx.Client) -> tuple[dict[str, str], str]:
    """The operator's cookie header and CSRF token."""
    cookie = sign_in(http, TOKEN)
    return cookie, csrf_of(http, cookie)
