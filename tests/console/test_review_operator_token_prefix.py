"""An operator token may start with "sk-" (any string of 16+ characters is accepted at start-up): the
console's sign-in tried such a credential only as a tenant key and refused the operator. It now falls
through to the operator check when no key matches; a tenant key still signs in as its tenant."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from tests.conftest import postgres_url
from tests.console.review import sign_in
from tests.proxy.conftest import ProxyThread, Tenancy, database_url_for, proxy_config

TOKEN = "sk-operator-" + secrets.token_hex(12)


@pytest.fixture(scope="module")
def stand(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProxyThread, str]]:
    urls = database_url_for("postgres" if postgres_url() else "sqlite", tmp_path_factory, "console_sk")
    t = Tenancy(next(urls))
    t.domain("acme")
    key = t.key("acme", "k")
    proxy = ProxyThread(proxy_config(t.url, operator_token=TOKEN)).start()
    yield proxy, key
    proxy.stop()
    urls.close()


def test_an_operator_token_starting_with_sk_signs_in_as_operator(stand) -> None:
    proxy, key = stand
    with httpx.Client(base_url=proxy.base_url, follow_redirects=False, timeout=60) as http:
        operator = sign_in(http, TOKEN)
        assert http.get("/console/domains", headers=operator).status_code == 200
        tenant = sign_in(http, key)
        assert http.get("/console/my", headers=tenant).status_code == 200
        assert http.get("/console/domains", headers=tenant).status_code == 403
