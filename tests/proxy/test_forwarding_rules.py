"""What the proxy puts on the wire to an upstream, and what it reserves, against a recording
OpenAI-shaped upstream: the per-domain `cache_salt`, reservations for every request shape,
the forwarded `max_tokens` default, continuous usage for streams (and its stripping), aborted
streams charged what they generated, the busy 503 relayed with Retry-After, `/v1/embeddings`."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import pytest
from aiohttp import web
from sqlalchemy import bindparam, text

from domains.tenants import update_domain
from proxy.limits import BucketSpec
from proxy.prefix_cache import domain_salt
from proxy.state import LIMITER, USAGE
from proxy.tokens import (
    DEFAULT_COMPLETION_TOKENS,
    LEGACY_COMPLETION_DEFAULT_TOKENS,
    likely_text_tokens,
    text_tokens,
)
from tests.proxy.conftest import PEPPER, AppThread, ProxyThread, Tenancy, database_url_for, proxy_config

CHAT = [{"role": "user", "content": "Hi"}]


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class RecordingUpstream(AppThread):
    """Answers chat, completions, embeddings and /detokenize; remembers every body it was sent.

    Model `busy`: 503 with Retry-After 7. Model `hang`: streams 5 chunks (continuous usage when
    asked), then waits until the client goes away."""

    def __init__(self) -> None:
        super().__init__(self._app, handler_cancellation=True)
        self.bodies: list[dict[str, Any]] = []

    def _app(self) -> web.Application:
        app = web.Application()
        for path in ("/v1/chat/completions", "/v1/completions", "/v1/embeddings"):
            app.router.add_post(path, self._handle)
        app.router.add_post("/detokenize", self._detokenize)  # as the engine and vLLM serve it
        return app

    async def _detokenize(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"prompt": " ".join(f"t{i}" for i in body["tokens"])})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.bodies.append(body)
        if body["model"] == "busy":
            return web.json_response({"error": {"message": "queue full"}}, status=503,
                                     headers={"Retry-After": "7"})
        if request.path == "/v1/embeddings":
            return web.json_response({"object": "list", "data": [{"index": 0, "embedding": [0.1]}],
                                      "model": body["model"], "usage": _usage(11, 0)})
        if not body.get("stream"):
            message = {"role": "assistant", "content": "ok"}
            return web.json_response({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                      "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                                      "usage": _usage(5, 1)})
        continuous = (body.get("stream_options") or {}).get("continuous_usage_stats")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i in range(5):
            chunk: dict[str, Any] = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
                                     "choices": [{"index": 0, "delta": {"content": f"w{i} "},
                                                  "finish_reason": None}]}
            if continuous:
                chunk["usage"] = _usage(5, i + 1)
            await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        if body["model"] == "hang":
            await asyncio.sleep(60)
        await resp.write(b'data: {"id":"x","object":"chat.completion.chunk","created":0,"model":"m",'
                         b'"choices":[],"usage":' + json.dumps(_usage(5, 5)).encode() + b"}\n\n")
        await resp.write(b"data: [DONE]\n\n")
        return resp


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Iterator[tuple[ProxyThread, Tenancy, RecordingUpstream]]:
    upstream = RecordingUpstream().start()
    urls = database_url_for("sqlite", tmp_path_factory, "forwarding")
    t = Tenancy(next(urls))
    base = f"http://127.0.0.1:{upstream.port}"
    for kind in ("teecube", "openai", "ollama"):
        t.deployment(f"dep-{kind}", base, served="m", kind=kind, credential_ref=None)
    t.deployment("dep-busy", base, served="busy", kind="teecube", credential_ref=None)
    t.deployment("dep-hang", base, served="hang", kind="teecube", credential_ref=None)
    for domain in ("a", "b", "shared"):
        t.domain(domain, shared_prefix_cache=domain == "shared", max_n=8)
        for kind in ("teecube", "openai", "ollama"):
            t.grant(domain, kind, f"dep-{kind}")
    t.grant("a", "busy", "dep-busy")
    t.grant("a", "hang", "dep-hang")
    t.domain("budget", tokens_per_minute=100_000, max_n=8)
    t.grant("budget", "m", "dep-teecube")
    for label, domain in (("a1", "a"), ("a2", "a"), ("b1", "b"), ("s1", "shared"), ("budget", "budget")):
        t.key(domain, label)
    proxy = ProxyThread(proxy_config(t.url, prefix_cache_isolation=True)).start()
    yield proxy, t, upstream
    proxy.stop()
    upstream.stop()
    urls.close()


def _post(proxy: ProxyThread, key: str, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    with httpx.Client(base_url=proxy.base_url, timeout=30) as http:
        return http.post(path, json=body, headers={"Authorization": f"Bearer {key}", **headers})


def _sent(upstream: RecordingUpstream, proxy: ProxyThread, key: str, model: str,
          **extra: Any) -> dict[str, Any]:
    before = len(upstream.bodies)
    body = {"model": model, "messages": CHAT, "max_tokens": 2, **extra}
    r = _post(proxy, key, "/v1/chat/completions", body)
    assert r.status_code == 200, r.text
    assert len(upstream.bodies) == before + 1
    return upstream.bodies[-1]


def _domain_id(t: Tenancy, name: str) -> int:
    with t.factory() as s:
        return s.execute(text("SELECT id FROM domains WHERE name = :n"), {"n": name}).scalar_one()


def test_cache_salt_is_per_domain_and_replaces_the_tenants(setup) -> None:
    proxy, t, upstream = setup
    a1 = _sent(upstream, proxy, t.keys["a1"], "teecube")["cache_salt"]
    a2 = _sent(upstream, proxy, t.keys["a2"], "teecube", cache_salt="guess")["cache_salt"]
    b1 = _sent(upstream, proxy, t.keys["b1"], "teecube", cache_salt=a1)["cache_salt"]
    assert a1 == a2 == domain_salt(PEPPER, _domain_id(t, "a"))  # one domain's keys share
    assert b1 != a1 and b1 == domain_salt(PEPPER, _domain_id(t, "b"))  # another domain cannot
    assert len(a1) == 64 and a1 != domain_salt(b"other secret", _domain_id(t, "a"))
    assert _sent(upstream, proxy, t.keys["a1"], "openai")["cache_salt"] == a1  # vLLM kind too
    # The operator's opt-in: no salt, and the tenant's is dropped too; Ollama never gets one.
    assert "cache_salt" not in _sent(upstream, proxy, t.keys["s1"], "teecube", cache_salt="mine")
    assert "cache_salt" not in _sent(upstream, proxy, t.keys["a1"], "ollama", cache_salt="mine")


def test_streams_and_completions_are_salted_too(setup) -> None:
    proxy, t, upstream = setup
    salt = domain_salt(PEPPER, _domain_id(t, "b"))
    r = _post(proxy, t.keys["b1"], "/v1/completions", {"model": "teecube", "prompt": "x", "max_tokens": 2})
    assert r.status_code == 200 and upstream.bodies[-1]["cache_salt"] == salt
    r = _post(proxy, t.keys["b1"], "/v1/chat/completions",
              {"model": "teecube", "messages": CHAT, "max_tokens": 2, "stream": True})
    assert r.status_code == 200 and upstream.bodies[-1]["cache_salt"] == salt


def test_turning_shared_prefix_cache_on_and_off_applies(setup) -> None:
    proxy, t, upstream = setup
    with t.factory.begin() as s:
        update_domain(s, "b", "test", shared_prefix_cache=True)
    time.sleep(0.6)  # the directory cache
    assert "cache_salt" not in _sent(upstream, proxy, t.keys["b1"], "teecube")
    with t.factory.begin() as s:
        update_domain(s, "b", "test", shared_prefix_cache=False)
    time.sleep(0.6)
    salt = domain_salt(PEPPER, _domain_id(t, "b"))
    assert _sent(upstream, proxy, t.keys["b1"], "teecube")["cache_salt"] == salt


def _reserved(proxy: ProxyThread, t: Tenancy, path: str, body: dict[str, Any]) -> int:
    """Tokens the request reserved: the budget minus what the rate-limit header says is left
    right after admission (the settle comes later), over a freshly filled bucket."""
    spec = BucketSpec(f"tpm:domain:{_domain_id(t, 'budget')}", 100_000, "tokens")
    proxy.call(proxy.app[LIMITER].store.adjust([(spec, -10**9)]))  # refill
    r = _post(proxy, t.keys["budget"], path, body)
    assert r.status_code == 200, r.text
    return 100_000 - int(r.headers["x-ratelimit-remaining-tokens"])


def test_reservations_cover_every_sequence_the_request_can_generate(setup) -> None:
    proxy, t, _ = setup
    one = _reserved(proxy, t, "/v1/completions", {"model": "m", "prompt": "hello", "max_tokens": 10})
    assert one >= 10 + text_tokens("hello")
    many = _reserved(proxy, t, "/v1/completions", {"model": "m", "prompt": ["hello"] * 128, "max_tokens": 10})
    assert many >= 128 * 10 + 128 * text_tokens("hello")
    ids = _reserved(proxy, t, "/v1/completions", {"model": "m", "prompt": [[1, 2, 3]] * 50, "max_tokens": 10})
    assert ids >= 50 * (10 + 3)
    n = _reserved(proxy, t, "/v1/completions", {"model": "m", "prompt": "hello", "max_tokens": 10, "n": 4})
    best_of = _reserved(proxy, t, "/v1/completions",
                        {"model": "m", "prompt": "hello", "max_tokens": 10, "n": 2, "best_of": 6})
    chat_n = _reserved(proxy, t, "/v1/chat/completions",
                       {"model": "m", "messages": CHAT, "max_tokens": 10, "n": 5})
    assert n >= 40 and best_of >= 60 and chat_n >= 50
    both = _reserved(proxy, t, "/v1/chat/completions",
                     {"model": "m", "messages": CHAT, "max_tokens": 5, "max_completion_tokens": 30})
    assert both >= 30
    emb = _reserved(proxy, t, "/v1/embeddings", {"model": "m", "input": ["\U0001f600" * 100] * 3})
    assert emb >= 3 * 100 * 4


def test_a_request_without_max_tokens_is_bounded_by_what_was_reserved(setup) -> None:
    proxy, t, upstream = setup
    reserved = _reserved(proxy, t, "/v1/chat/completions", {"model": "m", "messages": CHAT, "n": 2})
    assert upstream.bodies[-1]["max_tokens"] == DEFAULT_COMPLETION_TOKENS
    assert reserved >= 2 * DEFAULT_COMPLETION_TOKENS


def test_a_legacy_completion_without_max_tokens_generates_openais_16(setup) -> None:
    """OpenAI's (and vLLM's) /v1/completions default is 16 tokens, absent or null; forwarding the chat
    default (4096) instead had a tenant's one-word prompt run for minutes on a CPU."""
    proxy, t, upstream = setup
    for extra in ({}, {"max_tokens": None}):
        reserved = _reserved(proxy, t, "/v1/completions", {"model": "m", "prompt": "hello", "n": 2, **extra})
        assert upstream.bodies[-1]["max_tokens"] == LEGACY_COMPLETION_DEFAULT_TOKENS == 16
        assert 2 * 16 <= reserved < DEFAULT_COMPLETION_TOKENS
    r = _post(proxy, t.keys["a1"], "/v1/completions", {"model": "teecube", "prompt": "x", "max_tokens": 40})
    assert r.status_code == 200 and upstream.bodies[-1]["max_tokens"] == 40  # an explicit value is kept


def test_stream_options_must_hold_booleans(setup) -> None:
    """The proxy rewrites stream_options for its own accounting, so the engine never sees the tenant's:
    the proxy checks them itself."""
    proxy, t, upstream = setup
    before = len(upstream.bodies)
    for name in ("include_usage", "continuous_usage_stats"):
        r = _post(proxy, t.keys["a1"], "/v1/chat/completions",
                  {"model": "teecube", "messages": CHAT, "max_tokens": 2, "stream": True,
                   "stream_options": {name: "yes"}})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["param"] == f"stream_options.{name}"
    assert len(upstream.bodies) == before


def test_prompt_text_is_bounded_per_byte() -> None:
    assert text_tokens("\U0001f600" * 100) == 400  # 4 UTF-8 bytes each
    assert text_tokens("漢字" * 50) == 300
    assert text_tokens("1234567890") == 10
    assert text_tokens("!@#$%^&*()") == 10
    english = "The quick brown fox jumps over the lazy dog"
    assert text_tokens(english) == len(english)  # the bound: a byte a token
    assert len(english) // 4 <= likely_text_tokens(english) <= len(english) // 2
    assert likely_text_tokens("\U0001f600" * 100) == 400 and likely_text_tokens("12345") == 5


def test_streams_ask_for_continuous_usage_and_the_tenant_sees_it_only_when_asked(setup) -> None:
    proxy, t, upstream = setup
    client = proxy.client(t.keys["a1"])
    chunks = list(client.chat.completions.create(model="teecube", messages=CHAT, max_tokens=5, stream=True))
    options = upstream.bodies[-1]["stream_options"]
    assert options == {"include_usage": True, "continuous_usage_stats": True}
    assert all(c.usage is None for c in chunks)
    chunks = list(client.chat.completions.create(model="teecube", messages=CHAT, max_tokens=5, stream=True,
                                                 stream_options={"include_usage": True}))
    assert [c.usage is not None for c in chunks] == [False] * 5 + [True]
    chunks = list(client.chat.completions.create(
        model="teecube", messages=CHAT, max_tokens=5, stream=True,
        stream_options={"include_usage": True}, extra_body={"stream_options": {
            "include_usage": True, "continuous_usage_stats": True}}))
    assert all(c.usage is not None for c in chunks)
    list(client.chat.completions.create(model="ollama", messages=CHAT, max_tokens=5, stream=True))
    assert upstream.bodies[-1]["stream_options"] == {"include_usage": True}


def _rows(t: Tenancy, proxy: ProxyThread, request_ids: list[str]) -> list[dict[str, Any]]:
    proxy.call(proxy.app[USAGE].flush())
    query = text("SELECT * FROM usage_records WHERE request_id IN :ids").bindparams(
        bindparam("ids", expanding=True))
    with t.factory() as s:
        return [dict(r) for r in s.execute(query, {"ids": request_ids}).mappings()]


def test_an_aborted_stream_is_charged_what_it_generated(setup) -> None:
    proxy, t, _ = setup
    body = json.dumps({"model": "hang", "messages": CHAT, "max_tokens": 50, "stream": True}).encode()
    ids = []
    for i in range(3):
        request_id = f"abort-{i}-{time.time_ns()}"
        ids.append(request_id)
        head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t.keys['a1']}\r\n"
                f"x-request-id: {request_id}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
            sock.sendall(head + body)
            sock.settimeout(30)
            received = b""
            while received.count(b"data:") < 5:
                received += sock.recv(4096)
    deadline = time.monotonic() + 20
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(rows) < 3:
        rows = _rows(t, proxy, ids)
        time.sleep(0.2)
    assert len(rows) == 3
    for row in rows:
        assert row["status"] == "cancelled"
        assert (row["prompt_tokens"], row["completion_tokens"]) == (5, 5)  # the last usage seen


def test_the_engines_busy_503_is_relayed_with_retry_after(setup) -> None:
    proxy, t, _ = setup
    body = {"model": "busy", "messages": CHAT, "max_tokens": 2}
    r = _post(proxy, t.keys["a1"], "/v1/chat/completions", body)
    assert r.status_code == 503 and r.headers["Retry-After"] == "7"
    assert r.json()["error"]["code"] == "upstream_overloaded"
    with pytest.raises(openai.APIStatusError) as info:
        proxy.client(t.keys["a1"]).chat.completions.create(**body, stream=True)
    assert info.value.status_code == 503 and info.value.response.headers["Retry-After"] == "7"


def test_embeddings_are_scoped_limited_and_recorded(setup) -> None:
    proxy, t, upstream = setup
    client = proxy.client(t.keys["a1"])
    raw = client.embeddings.with_raw_response.create(model="teecube", input=["one", "two"])
    result = raw.parse()
    assert result.model == "teecube" and result.usage.prompt_tokens == 11
    sent = upstream.bodies[-1]
    assert sent["model"] == "m" and sent["input"] == ["one", "two"] and "cache_salt" in sent
    rows = _rows(t, proxy, [raw.headers["x-request-id"]])
    assert [(r["alias"], r["status"], r["prompt_tokens"]) for r in rows] == [("teecube", "ok", 11)]
    with pytest.raises(openai.NotFoundError):
        proxy.client(t.keys["b1"]).embeddings.create(model="busy", input="x")  # not b's alias
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="ollama", input="x")
    assert info.value.code == "unsupported_model"
    for bad in (5, [], [1.5], {"a": 1}, [["x"]], None):
        r = _post(proxy, t.keys["a1"], "/v1/embeddings", {"model": "teecube", "input": bad})
        assert r.status_code == 400 and r.json()["error"]["param"] == "input"
