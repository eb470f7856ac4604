"""Times UTC cannot hold (`9999-12-31T23:59:59-23:59` is past year 9999 in UTC, `0001-01-01T00:00:00
+23:59` before year 1) are the client's mistake: a 400 naming the field on `GET /v1/usage`, the admin
API (usage query, key expiry) and the console's forms, never a 500. `datetime.fromisoformat` accepts
them; converting them to UTC (which the database layer does) raised OverflowError."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from tests.proxy.conftest import ProxyThread, Tenancy, database_url_for, proxy_config

TOKEN = "operator-token-times-" + secrets.token_hex(8)
OUT_OF_RANGE = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "9999-12-31T23:00:00-01:00"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Iterator[tuple[ProxyThread, str]]:
    urls = database_url_for("sqlite", tmp_path_factory, "times")
    t = Tenancy(next(urls))
    t.domain("tm")
    key = t.key("tm", "k")
    proxy = ProxyThread(proxy_config(t.url, operator_token=TOKEN)).start()
    yield proxy, key
    proxy.stop()
    urls.close()


def _error(r: httpx.Response, param: str) -> None:
    assert r.status_code == 400, (r.status_code, r.text)
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param and error["type"] == "invalid_request_error"


@pytest.mark.parametrize("when", OUT_OF_RANGE)
@pytest.mark.parametrize("name", ["since", "until"])
def test_tenant_usage_refuses_times_utc_cannot_hold(setup, when, name) -> None:
    proxy, key = setup
    auth = {"Authorization": f"Bearer {key}"}
    _error(httpx.get(f"{proxy.base_url}/v1/usage", params={name: when}, headers=auth), name)
    ok = httpx.get(f"{proxy.base_url}/v1/usage", params={name: "9999-12-31T23:59:59+00:00"}, headers=auth)
    assert ok.status_code == 200


@pytest.mark.parametrize("when", OUT_OF_RANGE)
def test_admin_api_refuses_times_utc_cannot_hold(setup, when) -> None:
    proxy, _ = setup
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for name in ("since", "until"):
        _error(httpx.get(f"{proxy.base_url}/admin/v1/usage", params={name: when}, headers=auth), name)
    r = httpx.post(f"{proxy.base_url}/admin/v1/domains/tm/keys", json={"name": "late", "expires_at": when},
                   headers=auth)
    _error(r, "expires_at")
    keys = httpx.get(f"{proxy.base_url}/admin/v1/keys", params={"domain": "tm"}, headers=auth).json()["data"]
    assert all(k["name"] != "late" for k in keys)  # nothing was created


def test_console_key_form_refuses_a_time_utc_cannot_hold(setup) -> None:
    proxy, _ = setup
    with httpx.Client(base_url=proxy.base_url, follow_redirects=False) as http:
        page = http.get("/console/login")
        login_cookie = page.cookies["teecube_console_login"]
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        # The console's cookies are Secure; this test listener is plain HTTP, so they are sent by hand.
        r = http.post("/console/login", data={"csrf": csrf.group(1), "credential": TOKEN},
                      headers={"Cookie": f"teecube_console_login={login_cookie}"})
        assert r.status_code == 303
        session = r.cookies["teecube_console"]
        cookie = {"Cookie": f"teecube_console={session}"}
        domain_page = http.get("/console/domains/tm", headers=cookie)
        form_csrf = re.search(r'name="csrf" value="([^"]+)"', domain_page.text)
        assert form_csrf is not None
        r = http.post("/console/domains/tm/keys", headers=cookie,
                      data={"csrf": form_csrf.group(1), "name": "late", "expires_at": OUT_OF_RANGE[0]})
        assert r.status_code == 303, r.text[:300]  # back to the page, with the refusal as a message
        shown = http.get(r.headers["Location"], headers=cookie)
        assert shown.status_code == 200
        assert "expires_at is outside the times UTC can hold" in shown.text
        keys = http.get("/admin/v1/keys", params={"domain": "tm"},
                        headers={"Authorization": f"Bearer {TOKEN}"}).json()["data"]
        assert all(k["name"] != "late" for k in keys)
