"""Tool calls through a real server on the bundled SmolLM2 with the official SDK: the replayed half of
a round trip (assistant tool_calls + tool message → answer), streaming and not, and every refusal.
The half where the model must call (required / named choice) is enforced with the grammar, so it
needs the step loop's logits-processor hook (engine/logits_process.py): skipped until that merges."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from server_harness import MODEL, RunningServer, http

from engine.server.grammar import hook_available
from engine.server.settings import ServerConfig

HOOK = hook_available()  # SamplingParams.logits_processor_factory, from the step loop
# Every test here needs this module's own engine server (seconds to start): `make test` runs them;
# the fast lane covers tool calls and constraints with the unit tests (test_tools_parsers.py,
# test_structured_grammar.py) and the serving path with the shared api_server.
pytestmark = pytest.mark.slow
needs_hook = pytest.mark.skipif(not HOOK, reason="needs the step loop's logits-processor hook (branch loop)")

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "maxLength": 20},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {
            "type": "object",
            "properties": {"tz": {"type": "string", "maxLength": 12}},
            "required": ["tz"],
            "additionalProperties": False,
        },
    },
}
TOOLS = [WEATHER_TOOL, TIME_TOOL]
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
CALL = {
    "id": "call_abc123",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "celsius"}'},
}
REPLAYED = [
    *ASK,
    {"role": "assistant", "content": None, "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": "call_abc123", "content": "22 degrees and sunny"},
]


@pytest.fixture(scope="module")
def server(server_factory) -> RunningServer:
    config = ServerConfig(tool_call_parser="hermes", enable_auto_tool_choice=True)
    return server_factory(config, max_model_len=1024, num_kv_blocks=256)


@pytest.fixture(scope="module")
def plain_server(server_factory) -> RunningServer:
    return server_factory(ServerConfig(), max_model_len=512, num_kv_blocks=64)


def _client(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key="unused", max_retries=0, timeout=300)


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Iterator[openai.OpenAI]:
    with _client(server) as c:
        yield c


def _rendered(server: RunningServer, messages: list[dict[str, Any]], tools: list | None = None) -> str:
    body: dict[str, Any] = {"messages": messages}
    if tools:
        body["tools"] = tools
    ids = http(server.base_url + "/tokenize", body)[2]["tokens"]
    return http(server.base_url + "/detokenize", {"tokens": ids})[2]["prompt"]


@pytest.mark.slow
def test_tools_and_replayed_calls_reach_the_prompt(server: RunningServer) -> None:
    text = _rendered(server, REPLAYED, TOOLS)
    assert "<tools>" in text and '"get_weather"' in text and "Current weather in a city" in text
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}' in text
    assert "<tool_response>\n22 degrees and sunny\n</tool_response>" in text


@pytest.mark.slow
def test_round_trip_answer_after_the_tool_message(client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(
        model=MODEL, messages=REPLAYED, tools=TOOLS, tool_choice="none", max_tokens=16, temperature=0
    )
    msg = resp.choices[0].message
    assert isinstance(msg.content, str) and msg.content and not msg.tool_calls
    stream = client.chat.completions.create(
        model=MODEL,
        messages=REPLAYED,
        tools=TOOLS,
        tool_choice="none",
        max_tokens=16,
        temperature=0,
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == msg.content


def test_auto_choice_answers_text_or_calls(client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(
        model=MODEL, messages=ASK, tools=TOOLS, max_tokens=24, temperature=0
    )
    msg = resp.choices[0].message
    if msg.tool_calls:  # the hermes parser found a call: it must be well formed
        assert resp.choices[0].finish_reason == "tool_calls"
        for call in msg.tool_calls:
            assert call.function.name in {"get_weather", "get_time"}
            json.loads(call.function.arguments)
    else:
        assert isinstance(msg.content, str)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice.function.name"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "tools[0].function.name"),
        ({"tools": [{"type": "retrieval"}]}, "tools[0].type"),
        ({"tools": [WEATHER_TOOL, WEATHER_TOOL]}, "tools"),
        (
            {
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "objekt"}}}],
                "tool_choice": "required",
            },
            "tools[0].function.parameters",
        ),
        ({"tool_choice": "required", "response_format": {"type": "json_object"}}, "response_format"),
    ],
)
def test_bad_tool_fields_name_the_param(client: openai.OpenAI, extra: dict[str, Any], param: str) -> None:
    kwargs: dict[str, Any] = {"tools": TOOLS, **extra}
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model=MODEL, messages=ASK, max_tokens=4, **kwargs)
    assert exc.value.param == param
    assert "objekt" not in str(exc.value)


def test_auto_choice_without_a_parser_is_refused(plain_server: RunningServer) -> None:
    with _client(plain_server) as c, pytest.raises(openai.BadRequestError) as exc:
        c.chat.completions.create(model=MODEL, messages=ASK, tools=TOOLS, max_tokens=4)
    assert exc.value.param == "tool_choice" and "--enable-auto-tool-choice" in str(exc.value)


def test_tool_message_needs_its_call_id(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(
            model=MODEL, messages=[*ASK, {"role": "tool", "content": "x"}], max_tokens=4
        )
    assert exc.value.param == "messages[1].tool_call_id"


@needs_hook
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.slow
def test_required_call_round_trip(client: openai.OpenAI, stream: bool) -> None:
    kwargs: dict[str, Any] = dict(
        model=MODEL,
        tools=TOOLS,
        tool_choice="required",
        parallel_tool_calls=False,
        max_tokens=80,
        temperature=0,
    )  # with parallel calls allowed, greedy SmolLM2 repeats the call until max_tokens
    if stream:
        calls: dict[int, dict[str, str]] = {}
        finish = None
        for chunk in client.chat.completions.create(messages=ASK, stream=True, **kwargs):
            for d in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                slot = calls.setdefault(d.index, {"id": "", "name": "", "arguments": ""})
                slot["id"] = d.id or slot["id"]
                slot["name"] += (d.function.name or "") if d.function else ""
                slot["arguments"] += (d.function.arguments or "") if d.function else ""
            if chunk.choices and chunk.choices[0].finish_reason:
                finish = chunk.choices[0].finish_reason
        assert finish == "tool_calls" and calls
        call = calls[0]
        call_id, name, arguments = call["id"], call["name"], call["arguments"]
    else:
        resp = client.chat.completions.create(messages=ASK, **kwargs)
        assert resp.choices[0].finish_reason == "tool_calls"
        tc = resp.choices[0].message.tool_calls[0]
        call_id, name, arguments = tc.id, tc.function.name, tc.function.arguments
    assert name in {"get_weather", "get_time"}
    args = json.loads(arguments)
    schema = next(t for t in TOOLS if t["function"]["name"] == name)["function"]["parameters"]
    import jsonschema

    jsonschema.validate(args, schema)
    follow = [
        *ASK,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "22 degrees"},
    ]
    answer = client.chat.completions.create(
        model=MODEL, messages=follow, tools=TOOLS, tool_choice="none", max_tokens=12, temperature=0
    )
    assert answer.choices[0].message.content


@needs_hook
def test_named_choice_returns_valid_arguments(client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(
        model=MODEL,
        messages=ASK,
        tools=TOOLS,
        max_tokens=80,
        n=2,
        temperature=1.0,
        seed=5,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    import jsonschema

    for choice in resp.choices:
        (call,) = choice.message.tool_calls
        assert call.function.name == "get_weather" and choice.finish_reason == "stop"
        jsonschema.validate(json.loads(call.function.arguments), WEATHER_TOOL["function"]["parameters"])
