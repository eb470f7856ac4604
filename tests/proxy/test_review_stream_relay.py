"""The streamed relay against a scripted upstream: malformed SSE, interleaved fields, early usage,
upstream errors in the stream, stalls, and output guardrails on streams (review)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest
from aiohttp import web
from sqlalchemy import text

from domains.policies import create_policy_version
from proxy.state import USAGE as USAGE_WRITER
from tests.proxy.conftest import AppThread, ProxyThread, Tenancy, database_url_for, proxy_config

CHAT = [{"role": "user", "content": "Hi"}]
CANARY = "zq-canary-5b2e"
POLICY = {
    "version": 1,
    "rules": [
        {"id": "pii.card", "scanner": "card", "input": "pseudonymize", "output": "block"},
        {"id": "acme.ticket", "scanner": "regex", "pattern": "TCK-[0-9]{6}", "label": "TICKET",
         "input": "mask", "output": "mask"},
    ],
}


def _chunk(delta: dict[str, Any] | None = None, finish: str | None = None, index: int = 0,
           **extra: Any) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [{"index": index, "delta": delta or {}, "finish_reason": finish}], **extra}


def sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


USAGE = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": [],
         "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}}
DONE = b"data: [DONE]\n\n"

# name -> steps: bytes to write, a float to sleep, "abort" to cut the connection
SCRIPTS: dict[str, list[Any]] = {
    "bad-choices": [sse(_chunk({"content": "Hello"})), sse({"id": "c1", "choices": "oops"}), DONE],
    "bad-choice": [sse(_chunk({"content": "Hello"})), sse({"id": "c1", "choices": [1, 2]}), DONE],
    "bad-index": [sse(_chunk({"content": "Hello"})),
                  sse({"id": "c1", "choices": [{"index": [0], "delta": {"content": "x"}}]}), DONE],
    "flat-error": [sse(_chunk({"content": "Hello"})),
                   sse({"object": "error", "message": f"boom {CANARY}", "type": "InternalServerError",
                        "code": 500}), DONE],
    "nested-error": [sse(_chunk({"content": "Hello"})),
                     sse({"error": {"message": f"boom {CANARY}", "code": 500}}), DONE],
    "bad-tool-index": [sse(_chunk({"content": "Hello"})),
                       sse(_chunk({"tool_calls": [{"index": [0], "function": {"arguments": "{}"}}]})), DONE],
    "bad-logprobs": [sse(_chunk({"content": "Hello"})),
                     sse(_chunk({"content": " x"}, logprobs={"content": 5})),
                     sse({"id": "c1", "choices": [{"index": 0, "text": "y", "logprobs": {"tokens": ["y"],
                                                   "token_logprobs": 7}}]}), DONE],
    "deep-json": [sse(_chunk({"content": "Hello"})), b"data: " + b"[" * 100_000 + b"\n\n", DONE],
    "content-tool-content": [
        sse(_chunk({"role": "assistant", "content": "Before the call, "})),
        sse(_chunk({"tool_calls": [{"index": 0, "id": "t1", "type": "function",
                                    "function": {"name": "f", "arguments": "{\"a\": 1}"}}]})),
        sse(_chunk({"content": "after the call."})),
        sse(_chunk({}, "stop")), sse(USAGE), DONE],
    "early-usage": [sse(_chunk({"content": "one "})), sse(USAGE), sse(_chunk({"content": "two three"})),
                    sse(_chunk({}, "stop")), DONE],
    "stall": [sse(_chunk({"content": "Hello"})), 5.0, sse(_chunk({}, "stop")), DONE],
    "no-done": [sse(_chunk({"content": "Hello"})), sse(_chunk({"content": " world"}, "stop"))],
    "after-done": [sse(_chunk({"content": "Hello"}, "stop")), DONE, sse(_chunk({"content": "LEAK"})), DONE],
    "crlf": [b'data: ' + json.dumps(_chunk({"content": "Hel"})).encode() + b"\r\n\r\n",
             b": keep-alive\r\n\r\nevent: message\r\n",
             b'data: ' + json.dumps(_chunk({"content": "lo"})).encode()[:10],
             json.dumps(_chunk({"content": "lo"})).encode()[10:] + b"\r\n\r\n", DONE],
    "card-split": [sse(_chunk({"content": "Your card is 4111 11"})), sse(_chunk({"content": "11 1111 11"})),
                   sse(_chunk({"content": "11, thanks."})), sse(_chunk({}, "stop")), sse(USAGE), DONE],
    "null-index": [sse({"id": "c1", "choices": [{"index": None, "delta": {"content": "Hel"}}]}),
                   sse({"id": "c1", "choices": [{"delta": {"content": "lo"}, "finish_reason": "stop"}]}),
                   DONE],
    "n2": [sse(_chunk({"content": "zero TCK-1"}, index=0)), sse(_chunk({"content": "one TCK-65"}, index=1)),
           sse(_chunk({"content": "23456 z"}, index=0)), sse(_chunk({"content": "4321 o"}, index=1)),
           sse(_chunk({}, "stop", index=1)), sse(_chunk({"content": "!"}, index=0)), DONE],
    "n2-card": [sse(_chunk({"content": "Your card is 4111 11"}, index=0)),
                sse(_chunk({"content": "one TCK-65"}, index=1)),
                sse(_chunk({"content": "11 1111 1111, thanks."}, index=0)),
                sse(_chunk({"content": "4321 o"}, index=1)), sse(_chunk({"content": " LATE"}, index=0)),
                sse(_chunk({}, "stop", index=1)), sse(_chunk({}, "stop", index=0)), sse(USAGE), DONE],
    "n2-cards-slow": [sse(_chunk({"content": "a 4111 1111 1111 1111 b"}, index=0)),
                      sse(_chunk({"content": "c 4111 1111 1111 1111 d"}, index=1))]
                     + [0.2, sse(_chunk({"content": " more"}, index=1))] * 50 + [DONE],
    "slow-tail": [sse(_chunk({"content": "Hello"}))] + [0.2, sse(_chunk({"content": " more"}))] * 50 + [DONE],
    "fields-masked": [
        sse(_chunk({"role": "assistant", "reasoning_content": "Think TCK-1"})),
        sse(_chunk({"reasoning_content": "11111 more"})),
        sse(_chunk({"content": "Say TCK-22"})),
        sse(_chunk({"content": "2222 then"})),
        sse(_chunk({"tool_calls": [{"index": 0, "id": "t1", "type": "function",
                                    "function": {"name": "lookup", "arguments": "{\"t\": \"TCK-3"}}]})),
        sse(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": "33333\"}"}}]})),
        sse(_chunk({"tool_calls": [{"index": 1, "id": "t2", "type": "function",
                                    "function": {"name": "other", "arguments": "{\"u\": \"TCK-44"}}]})),
        sse(_chunk({"tool_calls": [{"index": 1, "function": {"arguments": "4444\"}"}}]}, "tool_calls")),
        sse(USAGE), DONE],
    "ticket-split": [sse(_chunk({"content": "See TCK-12"})), sse(_chunk({"content": "3456 now"}, "stop")),
                     sse(USAGE), DONE],
}


class Scripted(AppThread):
    def __init__(self) -> None:
        super().__init__(self._app, handler_cancellation=True)
        self.closed_early: list[str] = []

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        name = body["model"]
        if not body.get("stream"):
            return web.json_response(_whole(name))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        try:
            for step in SCRIPTS[name]:
                if isinstance(step, float):
                    await asyncio.sleep(step)
                elif step == "abort":
                    assert request.transport is not None
                    request.transport.abort()
                    return resp
                else:
                    await resp.write(step)
        except (ConnectionResetError, asyncio.CancelledError):
            self.closed_early.append(name)
            raise
        return resp


TENANCY: list[Tenancy] = []


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Iterator[tuple[ProxyThread, dict[str, str], Scripted]]:
    upstream = Scripted().start()
    urls = database_url_for("sqlite", tmp_path_factory, "review_stream")
    t = Tenancy(next(urls))
    t.domain("plain")
    t.domain("guarded")
    with t.factory.begin() as s:
        create_policy_version(s, "guarded", POLICY, t.actor, activate=True)
    for name in SCRIPTS:
        t.deployment(f"dep-{name}", upstream.base_url, served=name, kind="openai", credential_ref=None)
        t.grant("plain", name, f"dep-{name}")
        t.grant("guarded", name, f"dep-{name}")
    keys = {"plain": t.key("plain", "k"), "guarded": t.key("guarded", "k")}
    TENANCY[:] = [t]
    proxy = ProxyThread(proxy_config(t.url, upstream_read_timeout=1.0)).start()
    yield proxy, keys, upstream
    proxy.stop()
    upstream.stop()
    urls.close()


def events(setup: Any, model: str, domain: str = "guarded", **extra: Any) -> list[Any]:
    proxy, keys, _ = setup
    with httpx.Client(timeout=20) as http, http.stream(
        "POST", f"{proxy.base_url}/v1/chat/completions",
        json={"model": model, "messages": CHAT, "stream": True, **extra},
        headers={"Authorization": f"Bearer {keys[domain]}"},
    ) as resp:
        assert resp.status_code == 200
        data = [line[len("data: "):] for line in resp.iter_lines() if line.startswith("data: ")]
    return [d if d == "[DONE]" else json.loads(d) for d in data]


def text_of(evs: list[Any], field: str = "content") -> str:
    return "".join(c["delta"].get(field) or "" for e in evs if isinstance(e, dict)
                   for c in e.get("choices") or [])


MALFORMED = ["bad-choices", "bad-choice", "bad-index", "bad-tool-index", "flat-error", "nested-error",
             "stall"]


@pytest.mark.parametrize("domain", ["plain", "guarded"])
@pytest.mark.parametrize("model", MALFORMED)
def test_a_broken_stream_ends_with_an_error_event_then_done(setup, model, domain, log_capture) -> None:
    """Before, a chunk whose `choices` was not a list of objects with integer indices raised inside
    the relay after the 200 had started, and the error middleware wrote an HTTP 500 response into
    the chunked body (the client saw a protocol error, no terminal event); vLLM's flat
    `{"object": "error"}` event was dropped and the stream ended as if complete."""
    evs = events(setup, model, domain)
    assert evs[-1] == "[DONE]"
    assert evs[-2]["error"]["code"] == "upstream_error"
    assert text_of(evs[:-2]) == "Hello"
    assert CANARY not in json.dumps(evs) and not any(CANARY in line for line in log_capture.lines)


@pytest.mark.parametrize("domain", ["plain", "guarded"])
def test_unparseable_events_are_skipped(setup, domain) -> None:
    evs = events(setup, "deep-json", domain)  # nesting deeper than the JSON parser's recursion
    assert evs[-1] == "[DONE]" and "error" not in json.dumps(evs)
    assert text_of(evs) == "Hello"


def test_logprobs_of_another_shape_are_ignored(setup) -> None:
    evs = events(setup, "bad-logprobs", "guarded")
    assert evs[-1] == "[DONE]" and "error" not in json.dumps(evs) and text_of(evs) == "Hello x"


@pytest.mark.parametrize("domain", ["plain", "guarded"])
@pytest.mark.parametrize(("model", "text"), [("no-done", "Hello world"), ("after-done", "Hello"),
                                             ("crlf", "Hello"), ("null-index", "Hello")])
def test_framing_variants(setup, model, text, domain) -> None:
    evs = events(setup, model, domain)
    assert evs[-1] == "[DONE]" and evs.count("[DONE]") == 1
    assert text_of(evs) == text and "error" not in json.dumps(evs)
    assert all(type(c["index"]) is int for e in evs[:-1] for c in e["choices"])


@pytest.mark.parametrize("domain", ["plain", "guarded"])
def test_content_after_a_tool_call_reaches_the_tenant(setup, domain) -> None:
    """Before, the output guard dropped content that came again after a tool call."""
    evs = events(setup, "content-tool-content", domain)
    assert text_of(evs) == "Before the call, after the call."
    calls = [call for e in evs if isinstance(e, dict) for c in e["choices"]
             for call in c["delta"].get("tool_calls") or []]
    assert "".join(c["function"].get("arguments") or "" for c in calls) == '{"a": 1}'


@pytest.mark.parametrize("domain", ["plain", "guarded"])
def test_an_early_usage_chunk_goes_out_last_and_drops_no_text(setup, domain) -> None:
    """Before, a usage chunk that came before the last chunks released (finished) every guarded
    field, and the text after it was dropped; the usage chunk now follows the text."""
    evs = events(setup, "early-usage", domain, stream_options={"include_usage": True})
    assert text_of(evs) == "one two three"
    assert evs[-1] == "[DONE]" and evs[-2]["choices"] == [] and evs[-2]["usage"]["completion_tokens"] == 5
    assert sum(1 for e in evs if isinstance(e, dict) and e.get("usage")) == 1



def test_the_hold_back_is_per_choice(setup) -> None:
    """n=2, deltas interleaved: a value split across chunks in each choice is masked in each, and
    the other choice's text is not held for it."""
    evs = events(setup, "n2")
    texts = ["".join(c["delta"].get("content") or "" for e in evs if isinstance(e, dict)
                     for c in e["choices"] if c["index"] == i) for i in (0, 1)]
    assert texts == ["zero [TICKET] z!", "one [TICKET] o"]
    assert "TCK" not in json.dumps(evs)


def _usage_row(proxy: ProxyThread, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        proxy.call(proxy.app[USAGE_WRITER].flush())
        with TENANCY[0].factory() as s:
            row = s.execute(text("SELECT * FROM usage_records WHERE request_id = :r"),
                            {"r": request_id}).mappings().first()
        if row is not None:
            return dict(row)
        time.sleep(0.05)
    raise AssertionError("no usage record")


def test_a_tenant_that_goes_away_closes_the_upstream_request_and_is_recorded(setup) -> None:
    proxy, keys, upstream = setup
    request_id = f"review-stream-gone-{time.time_ns()}"
    with httpx.Client(timeout=20) as http, http.stream(
        "POST", f"{proxy.base_url}/v1/chat/completions",
        json={"model": "slow-tail", "messages": CHAT, "stream": True},
        headers={"Authorization": f"Bearer {keys['guarded']}", "x-request-id": request_id},
    ) as resp:
        for line in resp.iter_lines():
            if line.startswith("data: "):
                break
    row = _usage_row(proxy, request_id)
    assert row["status"] == "cancelled" and row["completion_tokens"] > 0
    deadline = time.monotonic() + 5
    while "slow-tail" not in upstream.closed_early and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "slow-tail" in upstream.closed_early  # well before its 10 s script ended


def test_a_broken_stream_is_recorded_as_an_error(setup) -> None:
    proxy, keys, _ = setup
    request_id = f"review-stream-broken-{time.time_ns()}"
    r = httpx.post(f"{proxy.base_url}/v1/chat/completions", timeout=20,
                   json={"model": "bad-choice", "messages": CHAT, "stream": True},
                   headers={"Authorization": f"Bearer {keys['guarded']}", "x-request-id": request_id})
    assert r.status_code == 200 and r.text.rstrip().endswith("data: [DONE]")
    row = _usage_row(proxy, request_id)
    assert row["status"] == "error" and row["status_code"] == 502



def _whole(name: str) -> dict[str, Any]:
    """The non-streamed answer a script stands for (its chunks joined per choice and field)."""
    choices: dict[int, dict[str, Any]] = {}
    for step in SCRIPTS[name]:
        if not isinstance(step, bytes) or step == DONE:
            continue
        for c in json.loads(step[len(b"data: "):])["choices"]:
            slot = choices.setdefault(c["index"], {"index": c["index"], "message": {"role": "assistant"},
                                                   "finish_reason": None})
            msg = slot["message"]
            for key, value in c["delta"].items():
                if key == "tool_calls":
                    calls = msg.setdefault("tool_calls", [])
                    for call in value:
                        while len(calls) <= call["index"]:
                            calls.append({"id": call.get("id"), "type": "function",
                                          "function": {"name": "", "arguments": ""}})
                        fn = calls[call["index"]]["function"]
                        fn["name"] += call["function"].get("name") or ""
                        fn["arguments"] += call["function"].get("arguments") or ""
                elif isinstance(value, str) and key != "role":
                    msg[key] = msg.get(key, "") + value
            slot["finish_reason"] = c.get("finish_reason") or slot["finish_reason"]
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": name,
            "choices": [choices[i] for i in sorted(choices)]}


def _joined(evs: list[Any]) -> list[dict[str, Any]]:
    """Streamed events joined as the SDKs do: per choice, each field concatenated."""
    out: dict[int, dict[str, Any]] = {}
    for e in evs:
        for c in e.get("choices") or [] if isinstance(e, dict) else []:
            msg = out.setdefault(c["index"], {"role": "assistant"})
            for key, value in c["delta"].items():
                if key == "tool_calls":
                    calls = msg.setdefault("tool_calls", {})
                    for call in value:
                        slot = calls.setdefault(call["index"], {"name": "", "arguments": ""})
                        slot["name"] += (call.get("function") or {}).get("name") or ""
                        slot["arguments"] += (call.get("function") or {}).get("arguments") or ""
                elif isinstance(value, str) and key != "role":
                    msg[key] = msg.get(key, "") + value
    for msg in out.values():
        if "tool_calls" in msg:
            msg["tool_calls"] = [msg["tool_calls"][k] for k in sorted(msg["tool_calls"])]
    return [out[i] for i in sorted(out)]


def _message_fields(msg: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in msg.items() if isinstance(v, str) and v and k != "role"}
    calls = [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
             for c in msg.get("tool_calls") or []]
    return fields | ({"tool_calls": calls} if calls else {})


@pytest.mark.parametrize("model", ["ticket-split", "n2", "fields-masked", "n2-card"])
def test_masked_stream_equals_the_masked_whole_answer(setup, model) -> None:
    proxy, keys, _ = setup
    evs = events(setup, model)
    r = httpx.post(f"{proxy.base_url}/v1/chat/completions", timeout=20,
                   json={"model": model, "messages": CHAT},
                   headers={"Authorization": f"Bearer {keys['guarded']}"})
    assert r.status_code == 200, r.text
    whole = [_message_fields(c["message"]) for c in r.json()["choices"]]
    streamed = [_message_fields(m | {"tool_calls": [{"function": c} for c in m.get("tool_calls", [])]})
                for m in _joined(evs)]
    assert streamed == whole
    assert "TCK-" not in json.dumps(evs) and "TCK-" not in r.text


def _usage_stream(setup: Any, model: str, request_id: str, **extra: Any) -> list[dict[str, Any]]:
    """A guarded stream with include_usage under request_id: its events, checked to end with [DONE]."""
    proxy, keys, _ = setup
    with httpx.Client(timeout=20) as http, http.stream(
        "POST", f"{proxy.base_url}/v1/chat/completions",
        json={"model": model, "messages": CHAT, "stream": True,
              "stream_options": {"include_usage": True}, **extra},
        headers={"Authorization": f"Bearer {keys['guarded']}", "x-request-id": request_id},
    ) as resp:
        data = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    return [json.loads(d) for d in data[:-1]]


def test_a_blocked_choice_ends_alone_and_the_others_go_on(setup) -> None:
    """n=2: a card in choice 0 ends that choice with content_filter (its later chunks dropped); choice
    1 streams to its own finish, masked, and the upstream's usage chunk still comes, as the whole
    answer keeps the other choice. Before, the first block ended the whole stream."""
    proxy = setup[0]
    request_id = f"review-stream-n2-block-{time.time_ns()}"
    evs = _usage_stream(setup, "n2-card", request_id, n=2)
    finishes = {c["index"]: c["finish_reason"] for e in evs for c in e["choices"] if c["finish_reason"]}
    assert finishes == {0: "content_filter", 1: "stop"}
    texts = ["".join(c["delta"].get("content") or "" for e in evs for c in e["choices"] if c["index"] == i)
             for i in (0, 1)]
    assert texts == ["Your card is ", "one [TICKET] o"]
    assert "4111" not in json.dumps(evs) and "LATE" not in json.dumps(evs)
    assert evs[-1]["usage"]["prompt_tokens"] == 3  # the upstream's own usage chunk
    assert _usage_row(proxy, request_id)["status"] == "blocked"


def test_a_stream_whose_every_choice_is_blocked_closes_the_upstream(setup) -> None:
    _, _, upstream = setup
    evs = events(setup, "n2-cards-slow", n=2)
    assert evs[-1] == "[DONE]"
    finishes = [c["finish_reason"] for e in evs[:-1] for c in e["choices"] if c["finish_reason"]]
    assert finishes == ["content_filter", "content_filter"] and "4111" not in json.dumps(evs)
    deadline = time.monotonic() + 5
    while "n2-cards-slow" not in upstream.closed_early and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "n2-cards-slow" in upstream.closed_early  # well before its 10 s script ended


def test_a_blocked_stream_reports_the_usage_it_is_charged(setup) -> None:
    """The usage chunk of a stream the proxy ended (a card, blocked) before the upstream sent its
    usage said prompt_tokens 0; it now says what the usage record charges."""
    proxy = setup[0]
    request_id = f"review-stream-blocked-{time.time_ns()}"
    evs = _usage_stream(setup, "card-split", request_id)
    assert evs[-2]["choices"][0]["finish_reason"] == "content_filter" and "4111" not in json.dumps(evs)
    usage = evs[-1]["usage"]
    row = _usage_row(proxy, request_id)
    assert row["status"] == "blocked"
    assert usage["prompt_tokens"] == row["prompt_tokens"] > 0
    assert usage["completion_tokens"] == row["completion_tokens"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
