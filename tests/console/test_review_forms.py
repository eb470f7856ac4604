"""Console review: a form the console cannot read was a 500, or went through past its cap.

A form body that is not UTF-8, or names a charset Python does not know, was a 500
(UnicodeDecodeError / LookupError out of `request.post()`) on every console POST, sign-in and
sign-out included; a form past MAX_FORM_BYTES (256 KiB, declared and unused) went through up to
the app's 1 MiB cap. Now a 400 / 413 page. And 404, 405 and 413 answers under /console had none
of the console's headers (CSP, no-store, framing denied): every /console answer has them now.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2 as httpx
import pytest

from proxy.console.web import MAX_FORM_BYTES, SECURITY_HEADERS
from tests.conftest import postgres_url
from tests.proxy.conftest import ProxyThread, Tenancy, database_url_for, proxy_config

TOKEN = "operator-token-review-forms-" + secrets.token_hex(8)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Setup:
    proxy: ProxyThread
    tenant_key: str
    postgres: bool


def stand(tmp_path_factory: pytest.TempPathFactory, tag: str) -> Iterator[Setup]:
    """The proxy on plain HTTP over PostgreSQL (SQLite without the test server): acme with a key,
    globex. Shared by the tests/console/test_review_*.py files (each its own)."""
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


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    yield from stand(tmp_path_factory, "console_forms")


@pytest.fixture
def http(setup: Setup) -> Iterator[httpx.Client]:
    yield from client(setup)


@pytest.fixture
def operator(http: httpx.Client) -> tuple[dict[str, str], str]:
    return operator_session(http)


@pytest.mark.parametrize("body, content_type", [
    (b"name=caf\xe9", "application/x-www-form-urlencoded"),  # Latin-1 bytes, not UTF-8
    (b"name=x", "application/x-www-form-urlencoded; charset=no-such-charset"),
])
def test_a_form_that_is_not_utf8_is_a_400_page(http, operator, body, content_type) -> None:
    cookie, csrf = operator
    r = http.post("/console/domains", content=f"csrf={csrf}&".encode() + body,
                  headers={**cookie, "Content-Type": content_type})
    assert r.status_code == 400 and "must be UTF-8" in r.text and "<h1>Request refused</h1>" in r.text
    secured(r)
    assert "caf" not in http.get("/console/domains", headers=cookie).text  # nothing was created


def testsign_in_and_sign_out_with_unreadable_forms(http) -> None:
    login_cookie = http.get("/console/login").cookies["teecube_console_login"]
    r = http.post("/console/login", content=b"credential=\xff\xfe",
                  headers={**FORM, "Cookie": f"teecube_console_login={login_cookie}"})
    assert r.status_code == 400 and "must be UTF-8" in r.text and 'name="credential"' in r.text
    secured(r)
    cookie = sign_in(http, TOKEN)
    r = http.post("/console/logout", content=b"csrf=\xff", headers={**cookie, **FORM})
    assert r.status_code == 400
    assert http.get("/console/domains", headers=cookie).status_code == 200  # still signed in


def test_a_form_past_the_cap_is_a_413_page(http, operator) -> None:
    cookie, csrf = operator
    big = f"csrf={csrf}&name=".encode() + b"a" * MAX_FORM_BYTES
    r = http.post("/console/domains", content=big, headers={**cookie, **FORM})
    assert r.status_code == 413 and "too large" in r.text
    secured(r)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap holds on what arrives
        yield f"csrf={csrf}&name=".encode()
        for _ in range(MAX_FORM_BYTES // 4096 + 1):
            yield b"a" * 4096

    r = http.post("/console/domains", content=chunks(), headers={**cookie, **FORM})
    assert r.status_code == 413
    r = http.post("/console/domains", content=b"b" * (2 * 1024 * 1024), headers={**cookie, **FORM})
    assert r.status_code == 413 and "too large" in r.text  # past the app's own cap too
    secured(r)


def test_error_answers_under_console_carry_its_headers(http, operator) -> None:
    cookie, _ = operator
    for r in (http.get("/console/no-such-page", headers=cookie),
              http.get("/console/domains/acme/disable", headers=cookie),  # a POST route: 405
              http.get("/console/static/../web.py")):
        assert r.status_code in (404, 405)
        secured(r)
