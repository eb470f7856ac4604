"""Usage for operators (`teecube admin usage`, `GET /admin/v1/usage`) and tenants (`GET /v1/usage`,
their own domain only), against a real proxy and database (SQLite; PostgreSQL when set)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from domains.cli import admin_main
from domains.usage import UsageRecordIn, record_usage, usage_totals
from tests.proxy.conftest import PEPPER, ProxyThread, Tenancy, database_url_for, proxy_config

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
TOKEN = "op-" + secrets.token_urlsafe(24)
DAY1 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
DAY2 = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)


# One world per backend for the module: the tests only read it (GET /v1/usage records no usage).
@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[Tenancy, ProxyThread, dict[str, str]]]:
    gen = database_url_for(request.param, tmp_path_factory, "usage")
    url = next(gen)
    t = Tenancy(url)
    keys: dict[str, str] = {}
    for dom in ("acme", "globex"):
        t.domain(dom, requests_per_minute=60)
        keys[dom] = t.key(dom, f"{dom}-key", rpm=30)
    t.deployment("d1", "http://127.0.0.1:9/v1")
    t.grant("acme", "chat", "d1", max_tokens_cap=256)
    with t.factory() as s:
        from domains.keys import list_keys
        key_ids = {k.name: k.key_id for k in list_keys(s)}
    ids = {"acme": 0, "globex": 0}
    with t.factory() as s:
        from domains.tenants import get_domain
        ids = {d: get_domain(s, d).id for d in ids}
    rows = [
        UsageRecordIn("r1", ids["acme"], "chat", "ok", 200, 5, key_ids["acme-key"], prompt_tokens=10,
                      completion_tokens=3, created_at=DAY1),
        UsageRecordIn("r2", ids["acme"], "chat", "error", 502, 5, key_ids["acme-key"], prompt_tokens=7,
                      created_at=DAY1 + timedelta(hours=1)),
        UsageRecordIn("r3", ids["acme"], "chat", "ok", 200, 5, key_ids["acme-key"], prompt_tokens=1,
                      completion_tokens=1, created_at=DAY2),
        UsageRecordIn("r4", ids["globex"], "secret-model", "ok", 200, 5, key_ids["globex-key"],
                      prompt_tokens=99, completion_tokens=99, created_at=DAY2),
    ]
    record_usage(t.factory, rows)
    proxy = ProxyThread(proxy_config(url, operator_token=TOKEN)).start()
    try:
        yield t, proxy, {**keys, **{f"{k}-id": v for k, v in key_ids.items()}, "url": url}
    finally:
        proxy.stop()
        for _ in gen:
            pass


def test_totals_per_day_domain_model_key(world: Any) -> None:
    t, _, ids = world
    with t.factory() as s:
        rows = usage_totals(s)
        assert [(r["day"], r["domain"], r["model"], r["requests"], r["errors"], r["prompt_tokens"],
                 r["completion_tokens"]) for r in rows] == [
            ("2026-12-01", "acme", "chat", 1, 0, 1, 1),
            ("2026-12-01", "globex", "secret-model", 1, 0, 99, 99),
            ("2026-11-30", "acme", "chat", 2, 1, 17, 3),
        ]
        assert rows[0]["key_id"] == ids["acme-key-id"]
        assert [r["day"] for r in usage_totals(s, domain="acme", since=DAY2 - timedelta(hours=1))] == [
            "2026-12-01"]
        assert usage_totals(s, until=DAY1) == []


def test_admin_cli_usage_json(world: Any, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    _, _, ids = world
    monkeypatch.setenv("TEECUBE_PEPPER", PEPPER.decode() if isinstance(PEPPER, bytes) else PEPPER)
    assert admin_main(["usage", "--domain", "globex", "--json", "--database-url", ids["url"]]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["domain"], r["model"], r["prompt_tokens"]) for r in rows] == [("globex", "secret-model", 99)]
    assert admin_main(["usage", "--database-url", ids["url"]]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:4] == ["DAY", "DOMAIN", "MODEL", "KEY_ID"]


def test_admin_api_usage(world: Any) -> None:
    _, proxy, _ = world
    http = httpx2.Client(base_url=proxy.base_url, trust_env=False, timeout=30)
    r = http.get("/admin/v1/usage", params={"domain": "acme"}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    assert {row["domain"] for row in r.json()["data"]} == {"acme"}
    assert http.get("/admin/v1/usage", headers={"Authorization": "Bearer wrong"}).status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    bad = http.get("/admin/v1/usage", params={"since": "yesterday"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "since"


def test_tenant_reads_its_own_domain_only(world: Any) -> None:
    _, proxy, ids = world
    http = httpx2.Client(base_url=proxy.base_url, trust_env=False, timeout=30)
    r = http.get("/v1/usage", headers={"Authorization": f"Bearer {ids['acme']}"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["domain"] == "acme"
    assert {row["domain"] for row in body["data"]} == {"acme"}
    assert "secret-model" not in r.text and "globex" not in r.text
    assert body["limits"]["domain"]["requests_per_minute"] == 60
    assert body["limits"]["models"] == [{"model": "chat", "enabled": True, "requests_per_minute": None,
                                         "tokens_per_minute": None, "max_tokens_cap": 256,
                                         "max_prompt_tokens": None}]
    assert body["limits"]["key"]["requests_per_minute"] == 30
    assert "http://127.0.0.1:9" not in r.text  # no deployment internals
    # a domain query parameter changes nothing: the credential decides
    acme = {"Authorization": f"Bearer {ids['acme']}"}
    other = http.get("/v1/usage", params={"domain": "globex"}, headers=acme)
    assert other.json()["data"] == body["data"]
    assert http.get("/v1/usage").status_code == 401
    assert http.get("/v1/usage", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401
