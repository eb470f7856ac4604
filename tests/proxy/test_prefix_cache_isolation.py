"""The engine's prefix cache is per domain through the proxy: a prompt one domain sent is not
served from cache to another domain (the review confirmed a victim's prompt by timing: 736 cached
tokens against 16), while a domain's own keys still share it. Measured with the engine's own
counter (`vllm:prefix_cache_hits`, cached tokens), not timings. The engine takes `cache_salt`
(vLLM's field); one that refused it would fail here, never skip."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from tests.proxy.conftest import ProxyThread, Tenancy, database_url_for, proxy_config


def _hits(engine) -> float:
    status, body = engine.get("/metrics")
    assert status == 200
    for line in body.splitlines():
        if line.startswith("vllm:prefix_cache_hits"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no vllm:prefix_cache_hits metric")


@pytest.fixture(scope="module")
def setup(engine, tmp_path_factory) -> Iterator[tuple[ProxyThread, Tenancy]]:
    assert engine.accepts_cache_salt(), "the engine refused cache_salt: prefix-cache isolation is off"
    urls = database_url_for("sqlite", tmp_path_factory, "prefix")
    t = Tenancy(next(urls))
    t.deployment("smol", f"unix:{engine.socket}")
    for domain in ("victim", "attacker", "open-a", "open-b"):
        t.domain(domain, shared_prefix_cache=domain.startswith("open"))
        t.grant(domain, "chat", "smol")
    for label, domain in (("victim-1", "victim"), ("victim-2", "victim"), ("attacker", "attacker"),
                          ("open-a", "open-a"), ("open-b", "open-b")):
        t.key(domain, label)
    proxy = ProxyThread(proxy_config(t.url, prefix_cache_isolation=True)).start()
    yield proxy, t
    proxy.stop()
    urls.close()


def _secret_prompt() -> str:
    words = ["ledger", "orchid", "vector", "harbor", "quartz", "meadow", "signal", "cobalt", "ember"]
    rng = random.Random()
    return "Confidential memo: " + " ".join(rng.choice(words) for _ in range(300))


def _send(proxy: ProxyThread, t: Tenancy, label: str, prompt: str, engine) -> float:
    before = _hits(engine)
    proxy.client(t.keys[label]).completions.create(model="chat", prompt=prompt, max_tokens=1)
    return _hits(engine) - before


@pytest.mark.slow
def test_another_domain_gets_no_cache_hit_on_a_victims_prompt(setup, engine) -> None:
    proxy, t = setup
    prompt = _secret_prompt()
    _send(proxy, t, "victim-1", prompt, engine)
    assert _send(proxy, t, "attacker", prompt, engine) == 0  # nothing cached for another domain
    assert _send(proxy, t, "victim-2", prompt, engine) >= 200  # the victim's own keys still share


@pytest.mark.slow
def test_domains_that_opted_in_share_the_cache(setup, engine) -> None:
    proxy, t = setup
    prompt = _secret_prompt()
    _send(proxy, t, "open-a", prompt, engine)
    assert _send(proxy, t, "open-b", prompt, engine) >= 200
