"""`POST /v1/responses`: translated to a chat completion (every field the SDKs send, refusals named as
the Responses API names them), answered as a Response object or as Responses stream events that the
openai SDK's own models validate strictly, behind the same guardrails, limits and accounting as chat
(a scripted upstream shows what the model received and what the tenant got). The real engine through
the proxy: tests/proxy/test_proxy_e2e.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pydantic
import pytest
from aiohttp import web
from openai.types.responses import Response, ResponseStreamEvent
from sqlalchemy import text

from domains.policies import create_policy_version
from proxy.errors import ApiError
from proxy.responses_api import ResponsesStream, from_chat, renamed, to_chat
from proxy.state import USAGE as USAGE_WRITER
from tests.proxy.conftest import AppThread, ProxyThread, Tenancy, database_url_for, proxy_config

EVENT = pydantic.TypeAdapter(ResponseStreamEvent)
CANARY = "zq-canary-77d1"
EMAIL = "ann.lee@corp.io"
POLICY = {"version": 1, "rules": [
    {"id": "pii.email", "scanner": "email", "input": "pseudonymize", "output": "off"},
    {"id": "pii.card", "scanner": "card", "input": "pseudonymize", "output": "block"},
    {"id": "acme.ticket", "scanner": "regex", "pattern": "TCK-[0-9]{6}", "label": "TICKET",
     "input": "mask", "output": "mask"},
]}
TOOL = {"type": "function", "name": "lookup", "description": "d",
        "parameters": {"type": "object", "properties": {"t": {"type": "string"}}}}


# --- the request ----------------------------------------------------------------------------------

def test_a_string_input_with_instructions_and_sampling() -> None:
    chat, echo = to_chat({"model": "m", "input": "Hi", "instructions": "Be brief", "max_output_tokens": 9,
                          "temperature": 0.5, "top_p": 0.9, "store": True, "user": "u1",
                          "metadata": {"k": "v"}, "reasoning": {"effort": None}, "stream": True})
    assert chat == {"model": "m", "stream": True, "user": "u1", "max_tokens": 9, "temperature": 0.5,
                    "top_p": 0.9, "messages": [{"role": "system", "content": "Be brief"},
                                               {"role": "user", "content": "Hi"}]}
    assert (echo.instructions, echo.max_output_tokens, echo.metadata) == ("Be brief", 9, {"k": "v"})


def test_items_become_chat_turns_and_parallel_calls_one_assistant_turn() -> None:
    items = [
        {"role": "developer", "content": [{"type": "input_text", "text": "Rules. "}, {"type": "input_text",
                                                                                      "text": "More."}]},
        {"type": "message", "role": "user", "content": "Look up two"},
        {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": "{\"t\": \"a\"}"},
        {"type": "function_call", "call_id": "c2", "name": "lookup", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "A"},
        {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "B"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Both found.", "annotations": []}]},
    ]
    chat, _ = to_chat({"model": "m", "input": items, "tools": [TOOL], "tool_choice": {"type": "function",
                                                                                       "name": "lookup"},
                       "parallel_tool_calls": False})
    assert chat["messages"] == [  # parts stay parts: the server joins them as for a chat request
        {"role": "developer",
         "content": [{"type": "text", "text": "Rules. "}, {"type": "text", "text": "More."}]},
        {"role": "user", "content": "Look up two"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{\"t\": \"a\"}"}},
            {"id": "c2", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "A"},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "B"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Both found."}]},
    ]
    assert chat["tools"] == [{"type": "function", "function": {k: TOOL[k] for k in
                                                                ("name", "description", "parameters")}}]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    assert chat["parallel_tool_calls"] is False


def test_a_replayed_answer_with_text_and_a_call_is_one_assistant_turn() -> None:
    """What the Agents SDK sends back: the model's message item, then its call, then the call's output."""
    items = [{"role": "user", "content": "Weather?"},
             {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
              "content": [{"type": "output_text", "text": "Let me check.", "annotations": []}]},
             {"type": "function_call", "id": "fc_1", "status": "completed", "call_id": "c1", "name": "w",
              "arguments": "{}"},
             {"type": "function_call_output", "call_id": "c1", "output": "sunny"}]
    chat, _ = to_chat({"model": "m", "input": items})
    assert [m["role"] for m in chat["messages"]] == ["user", "assistant", "tool"]
    assert chat["messages"][1]["tool_calls"][0]["id"] == "c1"
    assert chat["messages"][1]["content"] == [{"type": "text", "text": "Let me check."}]


@pytest.mark.parametrize(("fmt", "response_format"), [
    ({"type": "text"}, None),
    ({"type": "json_object"}, {"type": "json_object"}),
    ({"type": "json_schema", "name": "x", "schema": {"type": "object"}, "strict": True},
     {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}, "strict": True}}),
])
def test_text_formats(fmt: dict[str, Any], response_format: Any) -> None:
    chat, echo = to_chat({"model": "m", "input": "x", "text": {"format": fmt}})
    assert chat.get("response_format") == response_format and echo.text_format == fmt


@pytest.mark.parametrize(("body", "param", "code"), [
    ({}, "input", "missing_required_parameter"),
    ({"input": []}, "input", "invalid_type"),
    ({"input": 5}, "input", "invalid_type"),
    ({"input": [5]}, "input[0]", "invalid_type"),
    ({"input": [{"role": "wizard", "content": "x"}]}, "input[0].role", "invalid_value"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "http://x"}]}]},
     "input[0].content[0]", "unsupported_content"),
    ({"input": [{"role": "user", "content": [{"type": "input_text"}]}]}, "input[0].content[0]",
     "invalid_type"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]", "unsupported_parameter"),
    ({"input": [{"type": "reasoning", "summary": []}]}, "input[0].type", "unsupported_parameter"),
    ({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input[0].call_id",
     "invalid_type"),
    ({"input": [{"type": "function_call_output", "call_id": "c", "output": 5}]}, "input[0].output",
     "invalid_type"),
    ({"previous_response_id": "resp_1"}, "previous_response_id", "unsupported_parameter"),
    ({"conversation": "conv_1"}, "conversation", "unsupported_parameter"),
    ({"background": True}, "background", "unsupported_parameter"),
    ({"include": ["message.output_text.logprobs"]}, "include", "unsupported_parameter"),
    ({"truncation": "auto"}, "truncation", "unsupported_parameter"),
    ({"tools": [{"type": "web_search"}]}, "tools[0].type", "unsupported_parameter"),
    ({"tools": [{"type": "function"}]}, "tools[0].name", "invalid_type"),
    ({"tools": {"a": 1}}, "tools", "invalid_type"),
    ({"tool_choice": {"type": "allowed_tools"}}, "tool_choice", "invalid_value"),
    ({"tool_choice": {"type": "function"}}, "tool_choice.name", "invalid_type"),
    ({"parallel_tool_calls": "no"}, "parallel_tool_calls", "invalid_type"),
    ({"text": {"format": {"type": "xml"}}}, "text.format.type", "invalid_value"),
    ({"text": {"format": {"type": "json_schema", "schema": {}}}}, "text.format.name", "invalid_type"),
    ({"text": "json"}, "text", "invalid_type"),
    ({"max_output_tokens": 0}, "max_output_tokens", "invalid_value"),
    ({"max_output_tokens": True}, "max_output_tokens", "invalid_value"),
    ({"temperature": "hot"}, "temperature", "invalid_type"),
    ({"metadata": {"k": 5}}, "metadata", "invalid_value"),
    ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", "invalid_value"),
    ({"instructions": 5}, "instructions", "invalid_type"),
    ({"messages": []}, "messages", "unknown_parameter"),
    ({"x" * 100: 1}, "(a long or unprintable name)", "unknown_parameter"),
    ({"top_logprobs": 2}, "top_logprobs", "unsupported_parameter"),
    ({"max_tokens": 5}, "max_tokens", "unknown_parameter"),  # a chat field is not renamed as one
    ({"store": "yes"}, "store", "invalid_type"),
    ({"reasoning": "high"}, "reasoning", "invalid_type"),
    ({"text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema", "invalid_type"),
    ({"text": {"format": {"type": "json_schema", "name": "x", "schema": []}}}, "text.format.schema",
     "invalid_type"),
])
def test_what_cannot_be_served_is_a_400_naming_the_field(body: dict[str, Any], param: str, code: str) -> None:
    with pytest.raises(ApiError) as err:
        to_chat({"model": "m", "input": "x", **body} if "input" not in body and body != {} else
                {"model": "m", **body})
    assert (err.value.status, err.value.param, err.value.code) == (400, param, code)


@pytest.mark.parametrize(("chat_param", "param"), [
    ("response_format.json_schema.schema", "text.format.schema"),
    ("tools[2].function.parameters", "tools[2].parameters"),
    ("tool_choice.function.name", "tool_choice.name"),
    ("max_tokens", "max_output_tokens"),
    ("messages[3].content", "input"),
    ("temperature", "temperature"),
])
def test_upstream_400s_name_fields_as_the_responses_api(chat_param: str, param: str) -> None:
    err = renamed(ApiError(400, f"{chat_param}: not valid", param=chat_param))
    assert err.param == param and err.message == f"{param}: not valid"
    err = renamed(ApiError(400, f"`{chat_param}` is too large.", param=chat_param))
    assert err.param == param and err.message == f"`{param}` is too large."


# --- the answer -----------------------------------------------------------------------------------

def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


USAGE = {"id": "c", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12,
                                             "prompt_tokens_details": {"cached_tokens": 4}}}
STREAMS = {
    "text": [_chunk({"role": "assistant", "content": ""}), _chunk({"content": "Hel"}),
             _chunk({"content": "lo"}), _chunk({}, "stop"), USAGE],
    "length": [_chunk({"content": "Hel"}), _chunk({"content": "lo"}, "length"), USAGE],
    "blocked": [_chunk({"content": "Your card"}), _chunk({}, "content_filter"), USAGE],
    "blocked-at-once": [_chunk({"role": "assistant"}), _chunk({}, "content_filter"), USAGE],
    "empty": [_chunk({"role": "assistant", "content": ""}), _chunk({}, "stop"), USAGE],
    "text-and-calls": [
        _chunk({"content": "Let me look."}),
        _chunk({"tool_calls": [{"index": 0, "id": "t1", "type": "function",
                                "function": {"name": "lookup", "arguments": "{\"t\": "}}]}),
        _chunk({"tool_calls": [{"index": 1, "id": "t2", "type": "function",
                                "function": {"name": "lookup", "arguments": "{}"}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "\"a\"}"}}]}),
        _chunk({}, "tool_calls"), USAGE],
    "error": [_chunk({"content": "Hel"}), {"error": {"message": "The model server failed mid-stream.",
                                                     "code": "upstream_error"}}],
    # Ollama numbers every parallel call 0 and tells them apart by id
    "same-index": [_chunk({"tool_calls": [{"index": 0, "id": "t1", "type": "function",
                                           "function": {"name": "f", "arguments": "{\"a\": 1}"}}]}),
                   _chunk({"tool_calls": [{"index": 0, "id": "t2", "type": "function",
                                           "function": {"name": "g", "arguments": "{}"}}]}),
                   _chunk({}, "tool_calls"), USAGE],
    "odd-calls": [_chunk({"tool_calls": 5}),
                  _chunk({"tool_calls": [{"index": [0], "id": "t1",
                                          "function": {"name": "f", "arguments": "{}"}}]}),
                  _chunk({"content": "ok"}, "stop"), USAGE],
}


def _events(name: str) -> list[Any]:
    stream = ResponsesStream(to_chat({"model": "m", "input": "x", "tools": [TOOL]})[1], "alias")
    raw = b"".join(stream.encode(c) for c in STREAMS[name]) + stream.finish()
    out = []
    for block in raw.decode().split("\n\n")[:-1]:
        event_line, data_line = block.split("\n")
        event = EVENT.validate_python(json.loads(data_line.removeprefix("data: ")))
        assert event_line == f"event: {event.type}"
        out.append(event)
    assert [e.sequence_number for e in out] == list(range(len(out)))
    return out


def _whole(name: str) -> dict[str, Any]:
    """The whole chat completion that the stream `name` adds up to."""
    message: dict[str, Any] = {"role": "assistant", "content": None}
    finish = None
    for chunk in STREAMS[name]:
        for choice in chunk.get("choices") or []:
            delta = choice["delta"]
            if delta.get("content"):
                message["content"] = (message["content"] or "") + delta["content"]
            for call in delta.get("tool_calls") or []:
                calls = message.setdefault("tool_calls", [])
                if call["index"] == len(calls):
                    calls.append({"id": call["id"], "type": "function",
                                  "function": {"name": call["function"]["name"], "arguments": ""}})
                calls[call["index"]]["function"]["arguments"] += call["function"]["arguments"]
            finish = choice["finish_reason"] or finish
    return {"id": "c", "object": "chat.completion", "created": 1, "model": "m", "usage": USAGE["usage"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}]}


def _comparable(response: Any) -> list[tuple[Any, ...]]:
    return [(o.type, getattr(o, "status", None), getattr(o, "name", None), getattr(o, "arguments", None),
             getattr(o, "call_id", None), [c.text for c in getattr(o, "content", None) or []])
            for o in response.output]


@pytest.mark.parametrize("name", ["text", "length", "blocked", "blocked-at-once", "empty", "text-and-calls"])
def test_the_stream_and_the_whole_answer_agree_and_validate(name: str) -> None:
    events = _events(name)
    final = events[-1].response
    echo = to_chat({"model": "m", "input": "x"})[1]
    whole = Response.model_validate(from_chat(_whole(name), echo, "alias"))
    assert [e.type for e in events[:2]] == ["response.created", "response.in_progress"]
    assert _comparable(final) == _comparable(whole)
    assert (final.status, final.incomplete_details, final.usage) == (whole.status, whole.incomplete_details,
                                                                     whole.usage)
    assert final.model == whole.model == "alias" and final.store is False
    assert final.usage.input_tokens == 7 and final.usage.input_tokens_details.cached_tokens == 4
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == final.output_text
    expected = {"text": ("response.completed", None), "length": ("response.incomplete", "max_output_tokens"),
                "blocked": ("response.incomplete", "content_filter"),
                "blocked-at-once": ("response.incomplete", "content_filter"),
                "empty": ("response.completed", None),
                "text-and-calls": ("response.completed", None)}[name]
    assert (events[-1].type, final.incomplete_details and final.incomplete_details.reason) == expected


def test_items_open_and_close_in_order_with_their_arguments() -> None:
    events = _events("text-and-calls")
    added = [(e.output_index, e.item.type) for e in events if e.type == "response.output_item.added"]
    done = [(e.output_index, e.item.type) for e in events if e.type == "response.output_item.done"]
    assert added == done == [(0, "message"), (1, "function_call"), (2, "function_call")]
    args = {e.output_index: e.arguments for e in events if e.type == "response.function_call_arguments.done"}
    assert args == {1: "{\"t\": \"a\"}", 2: "{}"}
    closing = [e.type for e in events if e.type.endswith(".done")]
    assert closing == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                       *["response.function_call_arguments.done", "response.output_item.done"] * 2]


def test_calls_numbered_alike_are_told_apart_by_id_and_odd_calls_do_not_crash() -> None:
    final = _events("same-index")[-1].response
    calls = [(o.name, o.arguments, o.call_id) for o in final.output]
    assert calls == [("f", "{\"a\": 1}", "t1"), ("g", "{}", "t2")]
    final = _events("odd-calls")[-1].response
    assert final.status == "completed" and final.output_text == "ok"


def test_finishing_twice_sends_nothing_more() -> None:
    stream = ResponsesStream(to_chat({"model": "m", "input": "x"})[1], "alias")
    stream.encode(_chunk({"content": "Hi"}, "stop"))
    assert b"response.completed" in stream.finish()
    assert stream.finish() == b"" and stream.encode(_chunk({"content": "late"})) == b""


def test_a_whole_answer_of_malformed_calls_cut_short_is_an_empty_message() -> None:
    payload = {"id": "c", "created": 1, "choices": [{"index": 0, "finish_reason": "length", "message": {
        "role": "assistant", "content": None, "tool_calls": [5, {"function": "x"}]}}]}
    response = Response.model_validate(from_chat(payload, to_chat({"model": "m", "input": "x"})[1], "a"))
    assert response.status == "incomplete" and [o.type for o in response.output] == ["message"]


def test_a_mid_stream_failure_is_a_failed_response() -> None:
    events = _events("error")
    kinds = [e.type for e in events]
    assert kinds[-1] == "response.failed" and kinds.count("error") == 1
    assert events[kinds.index("error")].code == "upstream_error"
    assert kinds.index("error") < kinds.index("response.output_item.done")  # then the open item closes
    assert events[-1].response.status == "failed" and events[-1].response.error.code == "server_error"
    assert events[-1].response.output_text == "Hel"


# --- through the proxy ----------------------------------------------------------------------------

def _sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


class Upstream(AppThread):
    """A chat completions server that answers with the text of the last message it got (what the
    model saw) or a script, and records every body."""

    def __init__(self) -> None:
        super().__init__(self._app)
        self.bodies: list[dict[str, Any]] = []

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.bodies.append(body)
        said = body["messages"][-1]["content"]
        pieces = {"echo": [said[: len(said) // 2], said[len(said) // 2:]],
                  "card": ["Your card is 4111 11", "11 1111 1111, thanks."],
                  "ticket": ["See TCK-12", "3456 now"]}[body["model"]]
        usage = {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
        if not body.get("stream"):
            return web.json_response({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                                      "usage": usage, "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": "".join(pieces)}}]})
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for piece in pieces:
            await resp.write(_sse(_chunk({"content": piece})))
        await resp.write(_sse(_chunk({}, "stop")))
        await resp.write(_sse({**USAGE, "usage": usage}))
        await resp.write(b"data: [DONE]\n\n")
        return resp


@pytest.fixture(scope="module")
def proxied(tmp_path_factory) -> Iterator[tuple[ProxyThread, str, Upstream, Tenancy]]:
    upstream = Upstream().start()
    urls = database_url_for("sqlite", tmp_path_factory, "responses_api")
    t = Tenancy(next(urls))
    t.domain("guarded")
    with t.factory.begin() as s:
        create_policy_version(s, "guarded", POLICY, t.actor, activate=True)
    for name in ("echo", "card", "ticket"):
        t.deployment(f"dep-{name}", upstream.base_url, served=name, kind="openai", credential_ref=None)
        t.grant("guarded", name, f"dep-{name}")
    key = t.key("guarded", "k")
    proxy = ProxyThread(proxy_config(t.url)).start()
    yield proxy, key, upstream, t
    proxy.stop()
    upstream.stop()
    urls.close()


def _post(proxied: Any, body: dict[str, Any]) -> httpx.Response:
    proxy, key, _, _ = proxied
    with httpx.Client(timeout=20) as http:
        return http.post(f"{proxy.base_url}/v1/responses", json=body,
                         headers={"Authorization": f"Bearer {key}"})


def _stream(proxied: Any, body: dict[str, Any]) -> list[Any]:
    r = _post(proxied, {**body, "stream": True})
    assert r.status_code == 200, r.text
    assert "[DONE]" not in r.text
    return [EVENT.validate_python(json.loads(line.removeprefix("data: ")))
            for line in r.text.splitlines() if line.startswith("data: ")]


def test_the_model_sees_placeholders_and_the_tenant_gets_its_text_back(proxied) -> None:
    _, _, upstream, _ = proxied
    body = {"model": "echo", "input": f"Write to {EMAIL} please", "instructions": "Be brief"}
    whole = _post(proxied, body)
    assert whole.status_code == 200, whole.text
    response = Response.model_validate(whole.json())
    sent = upstream.bodies[-1]
    assert EMAIL not in json.dumps(sent) and "<EMAIL_1>" in sent["messages"][-1]["content"]
    assert sent["messages"][0] == {"role": "system", "content": "Be brief"}
    assert response.output_text == f"Write to {EMAIL} please" and response.model == "echo"
    assert response.usage.input_tokens == 11 and response.usage.output_tokens == 3
    events = _stream(proxied, body)
    assert EMAIL not in json.dumps(upstream.bodies[-1])
    said = f"Write to {EMAIL} please"
    assert events[-1].type == "response.completed" and events[-1].response.output_text == said
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == said


def test_output_rules_mask_and_block_in_both_shapes(proxied) -> None:
    whole = Response.model_validate(_post(proxied, {"model": "ticket", "input": "x"}).json())
    events = _stream(proxied, {"model": "ticket", "input": "x"})
    assert whole.output_text == events[-1].response.output_text == "See [TICKET] now"
    assert "123456" not in json.dumps([e.model_dump() for e in events])
    blocked = Response.model_validate(_post(proxied, {"model": "card", "input": "x"}).json())
    events = _stream(proxied, {"model": "card", "input": "x"})
    for response in (blocked, events[-1].response):
        assert response.status == "incomplete" and response.incomplete_details.reason == "content_filter"
        assert "1111" not in response.output_text
    assert events[-1].type == "response.incomplete"
    assert "1111 1111" not in json.dumps([e.model_dump() for e in events])


def test_refusals_forward_nothing_and_are_recorded(proxied) -> None:
    proxy, _, upstream, t = proxied
    before = len(upstream.bodies)
    r = _post(proxied, {"model": "echo", "input": "x", "previous_response_id": f"resp_{CANARY}"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "previous_response_id"
    assert CANARY not in r.text
    r = _post(proxied, {"model": "echo", "input": "x", "max_output_tokens": 0})
    assert r.status_code == 400 and r.json()["error"]["param"] == "max_output_tokens"
    r = _post(proxied, {"model": "echo", "input": "x", "max_output_tokens": 2**40})  # the chat path's check
    assert r.status_code == 400 and r.json()["error"]["param"] == "max_output_tokens"
    assert r.json()["error"]["message"] == "`max_output_tokens` is too large."
    r = _post(proxied, {"model": "echo", "input": "x", "max_tokens": 5})
    assert r.status_code == 400 and r.json()["error"]["param"] == "max_tokens"
    r = _post(proxied, {"model": "nope", "input": "x"})
    assert r.status_code == 404
    assert len(upstream.bodies) == before
    r = _post(proxied, {"model": "echo", "input": "count me"})
    proxy.call(proxy.app[USAGE_WRITER].flush())
    with t.factory() as s:
        row = s.execute(text("SELECT status, prompt_tokens, completion_tokens FROM usage_records "
                             "WHERE request_id = :r"), {"r": r.headers["x-request-id"]}).one()
    assert tuple(row) == ("ok", 11, 3)  # the upstream's usage, as for chat


def test_a_stream_carries_the_request_id_and_rate_headers(proxied) -> None:
    r = _post(proxied, {"model": "echo", "input": "hello there", "stream": True})
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/responses/resp_1"), ("DELETE", "/v1/responses/resp_1"),
    ("POST", "/v1/responses/resp_1/cancel"), ("GET", "/v1/responses/resp_1/input_items")])
def test_nothing_stored_to_retrieve(proxied, method: str, path: str) -> None:
    proxy, key, _, _ = proxied
    with httpx.Client(base_url=proxy.base_url, timeout=20) as http:
        assert http.request(method, path).status_code == 401  # the credential first
        r = http.request(method, path, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 404 and "keeps no responses" in r.json()["error"]["message"]


def test_random_streams_agree_with_their_whole_answer() -> None:
    """Random mixes of text and parallel calls, split anywhere, with every finish: the stream's final
    Response is the whole one, every event validates and the deltas add up to the items."""
    import random

    rng = random.Random(18)
    for case in range(150):
        chunks: list[dict[str, Any]] = [_chunk({"role": "assistant", "content": ""})]
        calls = 0
        for _ in range(rng.randint(0, 12)):
            if rng.random() < 0.5 and (calls == 0 or case % 3 == 0):  # text after calls: a third of cases
                chunks.append(_chunk({"content": rng.choice(["a", "bc ", "é", "{", "\n", "TCK"])}))
            elif rng.random() < 0.3 or calls == 0:
                chunks.append(_chunk({"tool_calls": [{"index": calls, "id": f"t{calls}", "type": "function",
                                                      "function": {"name": f"f{calls}", "arguments": ""}}]}))
                calls += 1
            else:
                piece = rng.choice(["{", "\"x\"", "}"])
                chunks.append(_chunk({"tool_calls": [{"index": rng.randrange(calls),
                                                      "function": {"arguments": piece}}]}))
        chunks += [_chunk({}, rng.choice(["stop", "length", "tool_calls", "content_filter"])), USAGE]
        STREAMS[f"random-{case}"] = chunks
        try:
            events = _events(f"random-{case}")
            echo = to_chat({"model": "m", "input": "x"})[1]
            whole = Response.model_validate(from_chat(_whole(f"random-{case}"), echo, "alias"))
        finally:
            del STREAMS[f"random-{case}"]
        final = events[-1].response
        assert final.output_text == whole.output_text and final.usage == whole.usage, case
        assert (final.status, final.incomplete_details) == (whole.status, whole.incomplete_details), case
        if final.output and final.output[0].type == "message":  # text first: the same items, in order
            assert _comparable(final) == _comparable(whole), case
        else:  # a call first, then text: the same items (a whole answer lists its text first, so which
            # one a cut ended, the last, differs)
            def unordered(response: Any) -> list[str]:
                return sorted(str(item[:1] + item[2:]) for item in _comparable(response))
            assert unordered(final) == unordered(whole), case
        for item in final.output:
            if item.type == "function_call":
                deltas = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta"
                                 and e.item_id == item.id)
                assert deltas == item.arguments, case
