"""`GET /v1/models/{model}` finds an alias that holds a `/` (`org/model`: the admin API allows it, and
model names like `meta-llama/Llama-3.1-8B` are common) whether the client sends the slash as is
(curl, older SDKs) or encoded; before, the raw slash missed the route (a bare "Not found.")
though `/v1/models` listed the alias and completions used it. Another domain's alias stays a 404."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx
import pytest

from tests.proxy.conftest import ProxyThread, Tenancy, database_url_for, proxy_config


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Iterator[tuple[ProxyThread, Tenancy]]:
    urls = database_url_for("sqlite", tmp_path_factory, "models_review")
    t = Tenancy(next(urls))
    t.domain("ma")
    t.domain("mb")
    t.deployment("dep", "http://127.0.0.1:9", kind="openai", credential_ref=None)
    t.grant("ma", "org/m-1", "dep")
    t.grant("mb", "org/only-b", "dep")
    t.key("ma", "a")
    t.key("mb", "b")
    proxy = ProxyThread(proxy_config(t.url)).start()
    yield proxy, t
    proxy.stop()
    urls.close()


def _get(proxy: ProxyThread, key: str, path: str) -> httpx.Response:
    return httpx.get(f"{proxy.base_url}{path}", headers={"Authorization": f"Bearer {key}"})


@pytest.mark.parametrize("path", ["/v1/models/org/m-1", "/v1/models/org%2Fm-1"])
def test_an_alias_with_a_slash_is_found(setup, path) -> None:
    proxy, t = setup
    r = _get(proxy, t.keys["a"], path)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": "org/m-1", "object": "model", "created": 0, "owned_by": "ma"}
    assert "org/m-1" in [m["id"] for m in _get(proxy, t.keys["a"], "/v1/models").json()["data"]]


@pytest.mark.parametrize("path", ["/v1/models/org/only-b", "/v1/models/org/m-1/", "/v1/models/org/nothing"])
def test_other_aliases_are_the_model_not_found_404(setup, path) -> None:
    proxy, t = setup
    r = _get(proxy, t.keys["a"], path)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "model_not_found" and "only-b" not in _get(
        proxy, t.keys["a"], "/v1/models").text


def test_the_route_still_needs_a_key(setup) -> None:
    proxy, _ = setup
    r = httpx.get(f"{proxy.base_url}/v1/models/org/m-1")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert _get(proxy, "sk-tc-wrong", "/v1/models/org/m-1").status_code == 401
