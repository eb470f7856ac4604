"""No request shape lets a domain exceed its tokens/min budget, against the real engine (bundled
SmolLM2) with the in-process limiter and with Redis: multi-prompt completions, `n`, dense text
(emoji, CJK) and streams dropped mid-way. Asserted on the limiter's state (never below zero:
every reservation covered what the request really used) and on the usage rows (their total never
exceeds the budget plus what refilled meanwhile), never on timings."""

from __future__ import annotations

import json
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import text

from proxy.limits import BucketSpec
from proxy.state import LIMITER, USAGE
from proxy.tokens import chat_prompt_tokens, text_tokens
from tests.conftest import redis_url
from tests.proxy.conftest import ProxyThread, Tenancy, database_url_for, proxy_config

BUDGET = 500  # tokens a minute, per domain
SHAPES = ("multi_prompt", "n", "emoji", "cjk", "aborted_streams")
DENSE = {
    "emoji": "\U0001f600\U0001f680\U0001f9e0\U0001f468\u200d\U0001f469\u200d\U0001f467" * 10,
    "cjk": "漢字仮名交じり文한국어中文测试" * 10,
}


@pytest.fixture(scope="module", params=["memory", "redis"])
def setup(request, engine, tmp_path_factory) -> Iterator[tuple[ProxyThread, Tenancy]]:
    over: dict[str, Any] = {}
    if request.param == "redis":
        if redis_url() is None:
            pytest.skip("TEECUBE_TEST_REDIS_URL not set")
        over = {"redis_url": redis_url(), "redis_prefix": f"teecube:test:{secrets.token_hex(6)}:"}
    urls = database_url_for("sqlite", tmp_path_factory, f"budget-{request.param}")
    t = Tenancy(next(urls))
    t.deployment("smol", f"unix:{engine.socket}")
    for shape in SHAPES:
        t.domain(shape, tokens_per_minute=BUDGET, max_n=8)
        t.grant(shape, "chat", "smol")
        t.key(shape, shape)
    proxy = ProxyThread(proxy_config(t.url, **over)).start()
    yield proxy, t
    proxy.stop()
    urls.close()


def _domain_id(t: Tenancy, name: str) -> int:
    with t.factory() as s:
        return s.execute(text("SELECT id FROM domains WHERE name = :n"), {"n": name}).scalar_one()


def _level(proxy: ProxyThread, t: Tenancy, domain: str) -> float:
    """The domain's token bucket now (a zero-cost acquire reports it for either store)."""
    spec = BucketSpec(f"tpm:domain:{_domain_id(t, domain)}", BUDGET, "tokens")
    decision = proxy.call(proxy.app[LIMITER].store.acquire([(spec, 0)]))
    return decision.states[0].remaining


def _rows(proxy: ProxyThread, t: Tenancy, domain: str) -> list[dict[str, Any]]:
    proxy.call(proxy.app[USAGE].flush())
    with t.factory() as s:
        return [dict(r) for r in s.execute(text(
            "SELECT u.status, u.prompt_tokens, u.completion_tokens FROM usage_records u JOIN domains d "
            "ON d.id = u.domain_id WHERE d.name = :n"), {"n": domain}).mappings()]


def _post(proxy: ProxyThread, key: str, path: str, body: dict[str, Any]) -> int:
    with httpx.Client(base_url=proxy.base_url, timeout=120) as http:
        return http.post(path, json=body, headers={"Authorization": f"Bearer {key}"}).status_code


def _abort_stream(proxy: ProxyThread, key: str) -> int:
    """Start a long stream, read three content events, hang up. Returns the HTTP status."""
    body = json.dumps({"model": "chat", "messages": [{"role": "user", "content": "Count to a thousand."}],
                       "max_tokens": 300, "stream": True, "ignore_eos": True}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=120) as sock:
        sock.sendall(head + body)
        received = sock.recv(65536)
        status = int(received.split(b" ", 2)[1])
        while status == 200 and received.count(b'"content"') < 4:
            received += sock.recv(65536)
    return status


def _hammer(send: Callable[[], int], attempts: int, at_once: bool = False) -> tuple[int, int]:
    """at_once: every attempt in flight together, so the refill (BUDGET / 60 a second) cannot keep up
    however slowly the engine answers on a loaded machine (sent one after another, 10 slow answers of
    `n` could each be paid for by what refilled meanwhile, and nothing would be refused)."""
    if at_once:
        with ThreadPoolExecutor(attempts) as pool:
            statuses = list(pool.map(lambda _: send(), range(attempts)))
    else:
        statuses = [send() for _ in range(attempts)]
    assert set(statuses) <= {200, 429}, statuses
    return statuses.count(200), statuses.count(429)


REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "multi_prompt": ("/v1/completions", {"model": "chat", "prompt": ["Once upon a time"] * 16,
                                         "max_tokens": 8, "ignore_eos": True}),
    "n": ("/v1/chat/completions", {"model": "chat", "messages": [{"role": "user", "content": "Hi"}],
                                   "max_tokens": 6, "n": 8, "ignore_eos": True}),
    "emoji": ("/v1/completions", {"model": "chat", "prompt": DENSE["emoji"], "max_tokens": 2}),
    "cjk": ("/v1/completions", {"model": "chat", "prompt": DENSE["cjk"], "max_tokens": 2}),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.slow
def test_no_request_shape_exceeds_the_domain_budget(setup, shape) -> None:
    proxy, t = setup
    began = time.monotonic()
    if shape == "aborted_streams":
        admitted, refused = _hammer(lambda: _abort_stream(proxy, t.keys[shape]), 30)
    else:
        path, body = REQUESTS[shape]
        admitted, refused = _hammer(lambda: _post(proxy, t.keys[shape], path, body), 10, at_once=True)
    assert admitted >= 1 and refused >= 1  # the budget really bit
    deadline = time.monotonic() + 30
    rows = _rows(proxy, t, shape)
    while len([r for r in rows if r["status"] != "rate_limited"]) < admitted and time.monotonic() < deadline:
        time.sleep(0.3)
        rows = _rows(proxy, t, shape)
    served = [r for r in rows if r["status"] in ("ok", "cancelled")]
    assert len(served) == admitted
    charged = sum(r["prompt_tokens"] + r["completion_tokens"] for r in served)
    assert charged <= BUDGET + BUDGET / 60 * (time.monotonic() - began + 1)
    assert _level(proxy, t, shape) >= 0  # no settle ever had to charge beyond its reservation
    if shape == "aborted_streams":
        assert all(r["status"] == "cancelled" for r in served)
        assert all(r["prompt_tokens"] > 0 and r["completion_tokens"] >= 3 for r in served)


@pytest.mark.slow
def test_the_estimate_is_never_below_the_real_tokenizer(engine) -> None:
    samples = [*DENSE.values(), "1234567890" * 20, "!@#$%^&*()_+{}|:<>?" * 10, "x" * 500,
               "The quick brown fox jumps over the lazy dog. " * 10, "zxqv jkwp " * 30,
               "Ünïcödé façade naïve coöperate " * 10, "\u0000\u0001\t\n\r" * 20, "🇺🇳🏳️‍🌈" * 20]
    for sample in samples:
        status, body = engine.post("/tokenize", {"prompt": sample, "add_special_tokens": False})
        assert status == 200, body
        assert text_tokens(sample) >= json.loads(body)["count"], sample[:40]
    messages = [{"role": "user", "content": DENSE["emoji"]}, {"role": "assistant", "content": "ok"}]
    status, body = engine.post("/tokenize", {"messages": messages})
    assert chat_prompt_tokens({"messages": messages}) >= json.loads(body)["count"]


@pytest.mark.slow
@pytest.mark.parametrize("path, body", [
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}], "n": 2}),
    ("/v1/completions", {"prompt": ["Once", "Twice"]}),
])
def test_the_engine_streams_continuous_usage_when_asked(engine, path, body) -> None:
    request = {"model": "SmolLM2-135M-Instruct", **body, "max_tokens": 5, "ignore_eos": True, "stream": True,
               "stream_options": {"include_usage": True, "continuous_usage_stats": True}}
    status, text_ = engine.post(path, request)
    assert status == 200, text_
    events = [json.loads(line[6:]) for line in text_.splitlines() if line.startswith("data: {")]
    with_choices = [e for e in events if e["choices"]]
    assert with_choices and all(e["usage"] is not None for e in with_choices)
    counts = [e["usage"]["completion_tokens"] for e in with_choices]
    assert counts == sorted(counts) and counts[-1] == 10  # two sequences of five tokens
    assert events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] == counts[-1]
    status, text_ = engine.post(path, {**request, "stream_options": {"include_usage": True}})
    plain = [json.loads(line[6:]) for line in text_.splitlines() if line.startswith("data: {")]
    assert all(e.get("usage") is None for e in plain if e["choices"])  # only when asked
