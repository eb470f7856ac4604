"""The operator's `shared_prefix_cache` opt-in: `teecube admin domain create/update
--[no-]shared-prefix-cache` and the admin API's domain bodies (off by default)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from domains.cli import admin_main
from tests.proxy.conftest import ProxyThread, Tenancy, database_url_for, proxy_config

TOKEN = "op-token-for-domain-flags-0123456789"


@pytest.fixture(scope="module")
def url(tmp_path_factory) -> Iterator[str]:
    urls = database_url_for("sqlite", tmp_path_factory, "flags")
    url = next(urls)
    Tenancy(url)
    yield url
    urls.close()


def _cli(url: str, capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert admin_main([*argv, "--database-url", url, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_flag_is_off_by_default_and_settable(url, capsys) -> None:
    def shared(*argv: str) -> bool:
        return _cli(url, capsys, "domain", *argv)["shared_prefix_cache"]

    assert shared("create", "iso") is False
    assert shared("create", "open", "--shared-prefix-cache") is True
    assert shared("update", "open", "--no-shared-prefix-cache") is False
    assert shared("update", "iso", "--shared-prefix-cache") is True
    assert shared("update", "iso", "--max-n", "3") is True  # not given: unchanged


def test_admin_api_flag(url) -> None:
    proxy = ProxyThread(proxy_config(url, operator_token=TOKEN)).start()
    try:
        with httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            r = http.post("/admin/v1/domains", json={"name": "api-iso"})
            assert r.status_code == 201 and r.json()["shared_prefix_cache"] is False
            r = http.post("/admin/v1/domains", json={"name": "api-open", "shared_prefix_cache": True})
            assert r.status_code == 201 and r.json()["shared_prefix_cache"] is True
            r = http.patch("/admin/v1/domains/api-open", json={"shared_prefix_cache": False})
            assert r.status_code == 200 and r.json()["shared_prefix_cache"] is False
            r = http.patch("/admin/v1/domains/api-open", json={"shared_prefix_cache": "yes"})
            assert r.status_code == 400 and r.json()["error"]["param"] == "shared_prefix_cache"
    finally:
        proxy.stop()
