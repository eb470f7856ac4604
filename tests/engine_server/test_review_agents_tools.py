"""Tool calls as agents make them, with the official SDK against the bundled SmolLM2: tool_choice
required / named on a server with a reasoning parser (deepseek_r1 reads output without `</think>` as
reasoning, but a constrained call has no think block: the call must stay a call), and the streamed
delta contract (id, type and name first; argument fragments that concatenate to valid JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import openai
import pytest
from server_harness import MODEL, RunningServer

from engine.server.settings import ServerConfig

pytestmark = pytest.mark.slow

PARAMS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 12},
        "unit": {"type": "string", "enum": ["c", "f"]},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": PARAMS}}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
NAMED = {"type": "function", "function": {"name": "get_weather"}}


@pytest.fixture(scope="module")
def reasoning_client(server_factory) -> Iterator[openai.OpenAI]:
    config = ServerConfig(
        tool_call_parser="hermes", enable_auto_tool_choice=True, reasoning_parser="deepseek_r1"
    )
    server: RunningServer = server_factory(config, max_model_len=1024, num_kv_blocks=256)
    with openai.OpenAI(base_url=server.base_url + "/v1", api_key="x", max_retries=0, timeout=300) as c:
        yield c


def _streamed(client: openai.OpenAI, **kw: Any) -> tuple[dict[int, dict[str, Any]], str, str, str | None]:
    """(calls by index, content, reasoning_content, finish_reason), checking each call's first delta."""
    calls: dict[int, dict[str, Any]] = {}
    content = reasoning = ""
    finish = None
    for chunk in client.chat.completions.create(model=MODEL, messages=ASK, stream=True, **kw):
        for ch in chunk.choices:
            content += ch.delta.content or ""
            reasoning += (ch.delta.model_extra or {}).get("reasoning_content") or ""
            for tc in ch.delta.tool_calls or []:
                if tc.index not in calls:
                    assert tc.id and tc.type == "function" and tc.function and tc.function.name
                    calls[tc.index] = {"id": tc.id, "name": tc.function.name, "arguments": ""}
                else:
                    assert tc.id is None and not (tc.function and tc.function.name)
                calls[tc.index]["arguments"] += (tc.function and tc.function.arguments) or ""
            finish = ch.finish_reason or finish
    return calls, content, reasoning, finish


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("choice", ["required", "named"])
def test_constrained_calls_are_calls_with_a_reasoning_parser(reasoning_client, choice, stream) -> None:
    kw: dict[str, Any] = {
        "tools": [WEATHER],
        "tool_choice": NAMED if choice == "named" else "required",
        "parallel_tool_calls": False,
        "max_tokens": 48,
    }
    if stream:
        calls, content, reasoning, finish = _streamed(reasoning_client, **kw)
        got = [(c["name"], c["arguments"]) for c in calls.values()]
    else:
        r = reasoning_client.chat.completions.create(model=MODEL, messages=ASK, **kw)
        msg = r.choices[0].message
        finish = r.choices[0].finish_reason
        reasoning = (msg.model_extra or {}).get("reasoning_content") or ""
        content = msg.content or ""
        got = [(c.function.name, c.function.arguments) for c in msg.tool_calls or []]
    assert reasoning == "" and content == ""
    assert len(got) == 1 and got[0][0] == "get_weather"
    jsonschema.validate(json.loads(got[0][1]), PARAMS)
    assert finish == ("stop" if choice == "named" else "tool_calls")


TWO_CALLS = (
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}\n</tool_call>\n'
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome", "unit": "c"}}\n</tool_call>'
)


@pytest.mark.parametrize("parallel", [True, False])
def test_auto_choice_keeps_one_call_without_parallel_calls(parallel) -> None:
    from engine.server.chat_outputs import OutputParsers
    from engine.server.features import Features
    from engine.server.tools import ToolRequest, tool_parser

    parser = tool_parser(ToolRequest([WEATHER], "auto", None, parallel), Features("hermes", True))
    assert parser is not None
    want = 2 if parallel else 1
    message = OutputParsers(parser).message(TWO_CALLS)
    assert [json.loads(c["function"]["arguments"])["city"] for c in message["tool_calls"]] == [
        "Paris",
        "Rome",
    ][:want]
    stream = OutputParsers(parser).stream()
    deltas = [
        d
        for i in range(0, len(TWO_CALLS), 5)
        for d in stream.feed(TWO_CALLS[i : i + 5], False).get("tool_calls", [])
    ]
    deltas += stream.feed("", True).get("tool_calls", [])
    assert sorted({d["index"] for d in deltas}) == list(range(want))


@pytest.mark.parametrize("stream", [False, True])
def test_response_format_on_a_reasoning_server_is_content(
    reasoning_client: openai.OpenAI, stream: bool
) -> None:
    """A json_schema answer is shaped by its grammar from the first token (no think block): it is the
    message's content, which the SDK parses, not reasoning_content."""
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12}},
              "required": ["city"], "additionalProperties": False}
    kw: dict[str, Any] = dict(
        model=MODEL, messages=ASK, max_tokens=60, temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": schema}},
    )
    if stream:
        content = reasoning = ""
        for chunk in reasoning_client.chat.completions.create(stream=True, **kw):
            for ch in chunk.choices:
                content += ch.delta.content or ""
                reasoning += (ch.delta.model_extra or {}).get("reasoning_content") or ""
    else:
        message = reasoning_client.chat.completions.create(**kw).choices[0].message
        content = message.content or ""
        reasoning = (message.model_extra or {}).get("reasoning_content") or ""
    assert not reasoning
    jsonschema.validate(json.loads(content), schema)
