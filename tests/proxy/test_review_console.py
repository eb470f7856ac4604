"""A tenant's console session ends when its domain is disabled, as its key stops on the API at once
(before, `/console/my` kept showing the domain's models, limits and usage to a session opened
before the domain was disabled, until the session's 8 hours ran out)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from tests.console.review import sign_in
from tests.proxy.conftest import ProxyThread, Tenancy, database_url_for, proxy_config

TOKEN = "operator-token-console-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Iterator[tuple[ProxyThread, str]]:
    urls = database_url_for("sqlite", tmp_path_factory, "console_review")
    t = Tenancy(next(urls))
    t.domain("cd")
    key = t.key("cd", "k")
    proxy = ProxyThread(proxy_config(t.url, operator_token=TOKEN)).start()
    yield proxy, key
    proxy.stop()
    urls.close()


def test_a_tenant_session_ends_when_its_domain_is_disabled(setup) -> None:
    proxy, key = setup
    operator = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=proxy.base_url, follow_redirects=False) as http:
        cookie = sign_in(http, key)
        mine = http.get("/console/my", headers=cookie)
        assert mine.status_code == 200 and "Domain cd" in mine.text
        assert http.post("/admin/v1/domains/cd/disable", headers=operator).status_code == 200
        try:
            assert http.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 401
            r = http.get("/console/my", headers=cookie)
            assert r.status_code == 303 and r.headers["Location"] == "/console/login"
            assert "Domain cd" not in r.text
        finally:
            assert http.post("/admin/v1/domains/cd/enable", headers=operator).status_code == 200
        # the session was dropped, not only refused while the domain was off
        assert http.get("/console/my", headers=cookie).status_code == 303
        assert http.get("/console/my", headers=sign_in(http, key)).status_code == 200
