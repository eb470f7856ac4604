"""No malformed request gets a 5xx, from the proxy or through it from the real engine: hand-written
nasties (deep nesting, lone surrogates, non-string prompts, NaN, garbage and bomb compressed bodies,
wrong types in every field) and a hypothesis fuzz of the request schema, on the tenant routes and
the admin API. Every refusal is an OpenAI error object."""

from __future__ import annotations

import gzip
import json
import secrets
import zlib
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.proxy.conftest import ProxyThread, Tenancy, database_url_for, proxy_config

TOKEN = "operator-token-fuzz-" + secrets.token_hex(8)
CHAT = [{"role": "user", "content": "Hi"}]
ROUTES = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")


@pytest.fixture(scope="module")
def setup(engine, tmp_path_factory) -> Iterator[tuple[ProxyThread, str]]:
    urls = database_url_for("sqlite", tmp_path_factory, "fuzz")
    t = Tenancy(next(urls))
    t.domain("fz", max_tokens_cap=4, max_n=2, max_body_bytes=64 * 1024)
    t.deployment("smol", f"unix:{engine.socket}")
    t.grant("fz", "chat", "smol")
    key = t.key("fz", "k")
    proxy = ProxyThread(proxy_config(t.url, operator_token=TOKEN)).start()
    yield proxy, key
    proxy.stop()
    urls.close()


@pytest.fixture(scope="module")
def http(setup) -> Iterator[httpx.Client]:
    proxy, _ = setup
    # A fresh connection per request: the listener closes idle keep-alive connections after its
    # header timeout, and a POST racing that close is not retried by the client.
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=proxy.base_url, timeout=120, limits=no_reuse) as client:
        yield client


def _check(response: httpx.Response, what: Any) -> None:
    assert response.status_code < 500, (what, response.status_code, response.text[:300])
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}, response.text
        assert "Traceback" not in response.text


def _send(http: httpx.Client, key: str, path: str, content: bytes, **headers: str) -> httpx.Response:
    return http.post(path, content=content, headers={"Authorization": f"Bearer {key}",
                                                     "Content-Type": "application/json", **headers})


def _deep(depth: int) -> bytes:
    return b'{"model":"chat","messages":' + b"[" * depth + b"]" * depth + b"}"


NASTY_BODIES: list[bytes] = [
    _deep(1_000), _deep(100_000), b"[" * 200_000,
    b'{"model":"chat","messages":[{"role":"user","content":"\\ud800"}]}',
    b'{"model":"chat","messages":[{"role":"user","content":"ok \\udfff ok"}],"max_tokens":2}',
    b'{"model":"chat","prompt":"\\udc00","input":"\\ud83d"}',
    b'{"model":"chat","\\ud800":1,"messages":[{"role":"user","content":"x"}]}',
    b'{"model":"chat","messages":[{"role":"user","content":"x"}],"temperature":NaN}',
    b'{"model":"chat","prompt":"x","max_tokens":Infinity}',
    b'{"model":"chat","prompt":"x","max_tokens":1e999}',
    b'{"model":"chat","prompt":"x","max_tokens":2,"max_tokens":3}',
    b"\xff\xfe{}", b'{"model":"chat\xff"}', b"", b"null", b"5", b'"x"', b"[]", b"{", b"}",
    json.dumps({"model": "chat", "messages": CHAT, "max_tokens": 2, "x": "y" * 70_000}).encode(),
]


def _typed(route: str) -> list[dict[str, Any]]:
    """Wrong types in every field a request can carry."""
    base: dict[str, Any] = {"model": "chat", "max_tokens": 2}
    if route == "/v1/chat/completions":
        base["messages"] = CHAT
    elif route == "/v1/completions":
        base["prompt"] = "Hi"
    else:
        base = {"model": "chat", "input": "Hi"}
    wrong: list[Any] = [None, True, -1, 2**64, 1.5, "x", [1], {"a": 1}, [None]]
    fields = ["model", "messages", "prompt", "input", "max_tokens", "max_completion_tokens", "n", "best_of",
              "stream", "stream_options", "temperature", "top_p", "stop", "logprobs", "top_logprobs", "seed",
              "presence_penalty", "frequency_penalty", "logit_bias", "user", "tools", "tool_choice",
              "response_format", "echo", "suffix", "encoding_format", "dimensions", "cache_salt",
              "min_tokens", "ignore_eos", "top_k"]
    return [{**base, name: value} for name in fields for value in wrong]


MESSAGES: list[Any] = [
    "Hi", [1], [None], [[]], [{"role": 5, "content": "x"}], [{"role": "user", "content": 5}],
    [{"role": "user"}], [{"content": "x"}], [{"role": "user", "content": [5]}],
    [{"role": "user", "content": [{"type": "text", "text": 5}]}],
    [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]}],
    [{"role": "user", "content": {"text": "x"}}], [{"role": "user", "content": None}],
    [{"role": "tool", "content": "x"}], [{"role": "user", "content": "x", "name": 5}],
    [{"role": "assistant", "content": None, "tool_calls": "x"}],
]
PROMPTS: list[Any] = [5, 1.5, True, None, {}, [], [1.5], [[]], [[1, "a"]], [-1], [2**40], [["a"]], ["a", 1],
                      [None], [[1], "a"], ""]


@pytest.mark.parametrize("route", ROUTES)
def test_nasty_bodies_are_4xx(setup, http, route) -> None:
    _, key = setup
    for body in NASTY_BODIES:
        _check(_send(http, key, route, body), body[:80])


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.slow
def test_wrong_types_in_every_field_are_4xx(setup, http, route) -> None:
    _, key = setup
    cases = _typed(route)
    cases += [{"model": "chat", "messages": m, "max_tokens": 2} for m in MESSAGES]
    cases += [{"model": "chat", "prompt": p, "max_tokens": 2} for p in PROMPTS]
    cases += [{"model": "chat", "input": p} for p in PROMPTS]
    for body in cases:
        _check(_send(http, key, route, json.dumps(body).encode()), body)


def _bomb(size: int) -> bytes:
    return gzip.compress(b"{" + b" " * size + b"}", compresslevel=9)


GZIP_BOMB = _bomb(4 * 1024 * 1024)  # 4 MiB of JSON in ~4 KiB (the domain's cap is 64 KiB)
DEFLATE_BOMB = zlib.compress(b" " * 4 * 1024 * 1024)


def _send_retrying(http: httpx.Client, key: str, route: str, content: bytes, encoding: str) -> httpx.Response:
    """The server answers a broken body and closes the connection; the client can see the close
    before it reads the answer (a race in the socket layer, not a missing answer): retry then."""
    for _ in range(5):
        try:
            return _send(http, key, route, content, **{"Content-Encoding": encoding})
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            continue
    raise AssertionError(f"no answer to a {encoding} body in five tries")


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.slow
def test_garbage_and_bomb_compressed_bodies_are_4xx(setup, http, route) -> None:
    _, key = setup
    valid = json.dumps({"model": "chat", "messages": CHAT, "max_tokens": 2}).encode()
    cases = [
        ("gzip", b"\x1f\x8b not gzip at all"), ("gzip", gzip.compress(valid)[:-20]),
        ("deflate", b"junk" * 10),
        ("br", b"\x00junk brotli"), ("zstd", b"junk"), ("gzip, deflate", gzip.compress(valid)),
        ("gzip", GZIP_BOMB), ("deflate", DEFLATE_BOMB),
    ]
    for encoding, content in cases:
        r = _send_retrying(http, key, route, content, encoding)
        _check(r, encoding)
        assert r.status_code >= 400
    assert _send_retrying(http, key, route, GZIP_BOMB, "gzip").status_code == 413  # capped after decoding
    r = _send(http, key, "/v1/chat/completions", gzip.compress(valid), **{"Content-Encoding": "gzip"})
    assert r.status_code == 200  # an honest compressed body still works


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(st.characters(codec="utf-8"), max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
TEXT = st.text(st.characters(exclude_categories=()), max_size=30)  # surrogates included
MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "system", "assistant", "developer", "tool", "bogus"]) | JSON,
     "content": TEXT | JSON | st.lists(st.fixed_dictionaries({"type": st.just("text"),
                                                               "text": TEXT | JSON}))},
    optional={"name": TEXT | JSON},
)
SMALL_INT = st.integers(-3, 6) | JSON
REQUEST = st.fixed_dictionaries(
    {"model": st.just("chat") | JSON},
    optional={
        "messages": st.lists(MESSAGE, max_size=3) | JSON,
        "prompt": TEXT | st.lists(TEXT, max_size=3) | st.lists(st.integers(-5, 60_000), max_size=5) | JSON,
        "max_tokens": SMALL_INT, "n": SMALL_INT, "best_of": SMALL_INT, "stream": st.booleans() | JSON,
        "stream_options": JSON | st.fixed_dictionaries(
            {}, optional={"include_usage": st.booleans() | JSON, "continuous_usage_stats": st.booleans()}),
        "temperature": st.floats(-1, 3) | JSON, "top_p": st.floats(-1, 2) | JSON, "stop": TEXT | JSON,
        "logprobs": st.booleans() | SMALL_INT, "seed": SMALL_INT, "user": TEXT, "extra": JSON,
    },
)
FUZZ = settings(max_examples=80, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.slow
@FUZZ
@given(body=REQUEST, route=st.sampled_from(["/v1/chat/completions", "/v1/completions"]))
def test_fuzzed_requests_never_get_a_5xx(setup, http, body, route) -> None:
    _, key = setup
    _check(_send(http, key, route, json.dumps(body).encode()), body)


ADMIN_WRITES = [
    ("POST", "/admin/v1/domains"), ("PATCH", "/admin/v1/domains/fz"), ("POST", "/admin/v1/deployments"),
    ("PATCH", "/admin/v1/deployments/smol"), ("PUT", "/admin/v1/domains/fz/models/fuzzed"),
    ("POST", "/admin/v1/domains/fz/keys"), ("POST", "/admin/v1/domains/fz/guardrail-policies"),
    ("POST", "/admin/v1/domains/fz/identity-providers"), ("DELETE", "/admin/v1/identity-providers"),
]
ADMIN_FIELDS = ["name", "kind", "url", "served_model_name", "credential_ref", "context_length", "deployment",
                "enabled", "requests_per_minute", "tokens_per_minute", "max_tokens_cap", "max_prompt_tokens",
                "max_body_bytes", "max_messages", "max_n", "guardrail_fail_mode", "shared_prefix_cache",
                "models", "expires_at", "config", "issuer", "jwks", "keys", "audience", "domain_claim"]
ADMIN_BODY = st.dictionaries(st.sampled_from(ADMIN_FIELDS) | st.text(max_size=6), JSON | TEXT, max_size=5)


@pytest.mark.slow
@FUZZ
@given(target=st.sampled_from(ADMIN_WRITES), body=ADMIN_BODY)
def test_fuzzed_admin_bodies_never_get_a_5xx(setup, http, target, body) -> None:
    method, path = target
    r = http.request(method, path, content=json.dumps(body).encode(),
                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    _check(r, (target, body))


@pytest.mark.parametrize("method, path", [*ADMIN_WRITES, ("GET", "/admin/v1/domains/%FF%FE"),
                                          ("GET", "/admin/v1/domains/%ED%A0%80"),
                                          ("GET", "/admin/v1/audit?limit=abc&before=%FF"),
                                          ("GET", "/admin/v1/keys?domain=%00")])
def test_nasty_admin_requests_are_4xx(http, method, path) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    for body in [*NASTY_BODIES, b"\x1f\x8bjunk"]:
        extra = {"Content-Encoding": "gzip"} if body.startswith(b"\x1f\x8b") else {}
        _check(http.request(method, path, content=body, headers=headers | extra), (method, path, body[:60]))
