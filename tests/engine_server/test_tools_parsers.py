"""engine/tool_parsers: whole outputs and the same outputs streamed in every chunking give the same
calls; stream deltas are shaped as OpenAI streams them (index, id, type, name, argument fragments)."""

from __future__ import annotations

import json
import random

import pytest

from engine.tool_parsers import JsonArrayToolParser, NamedToolParser, ToolCallStream, get_tool_parser

WEATHER = '{"city": "Paris", "unit": "celsius", "nested": {"a": [1, 2, {"b": "}]"}]}}'
TIME = '{"tz": "Europe/Paris"}'

CASES = [
    # (parser, output, expected content, expected [(name, arguments)])
    (
        "hermes",
        f'<tool_call>\n{{"name": "get_weather", "arguments": {WEATHER}}}\n</tool_call>',
        None,
        [("get_weather", WEATHER)],
    ),
    (
        "hermes",
        f'Let me check.\n<tool_call>\n{{"name": "get_weather", "arguments": {WEATHER}}}\n</tool_call>\n'
        f'<tool_call>\n{{"name": "get_time", "arguments": {TIME}}}\n</tool_call>',
        "Let me check.\n",
        [("get_weather", WEATHER), ("get_time", TIME)],
    ),
    (
        "hermes",
        "No tools needed: 1 < 2 and <tool is not a tag.",
        "No tools needed: 1 < 2 and <tool is not a tag.",
        [],
    ),
    ("hermes", '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par', None, []),  # cut short
    (
        "qwen",
        f'<tool_call>{{"arguments": {TIME}, "name": "get_time"}}</tool_call>',
        None,
        [("get_time", TIME)],
    ),
    ("llama3_json", f'{{"name": "get_weather", "parameters": {WEATHER}}}', None, [("get_weather", WEATHER)]),
    (
        "llama3_json",
        f'<|python_tag|>{{"name": "get_weather", "parameters": {WEATHER}}}; '
        f'{{"name": "get_time", "parameters": {TIME}}}',
        None,
        [("get_weather", WEATHER), ("get_time", TIME)],
    ),
    ("llama3_json", "The weather is fine.", "The weather is fine.", []),
    ("llama3_json", '{"answer": 42}', '{"answer": 42}', []),
    (
        "mistral",
        f'[TOOL_CALLS][{{"name": "get_weather", "arguments": {WEATHER}}}, '
        f'{{"name": "get_time", "arguments": {TIME}}}]',
        None,
        [("get_weather", WEATHER), ("get_time", TIME)],
    ),
    ("mistral", f"[TOOL_CALLS]get_weather[ARGS]{WEATHER}", None, [("get_weather", WEATHER)]),
    ("mistral", "Just text, [TOOL no call.", "Just text, [TOOL no call.", []),
]


def _whole(parser_name: str, text: str):
    return get_tool_parser(parser_name).extract(text)


def _streamed(parser, text: str, chunks: list[str]):
    stream = ToolCallStream(parser)
    content, deltas = "", []
    for i, chunk in enumerate(chunks):
        c, d = stream.feed(chunk, final=i == len(chunks) - 1)
        content += c
        deltas.extend(d)
    return content, deltas


def _chunkings(text: str):
    yield [text]
    yield [*text, ""]
    rng = random.Random(7)
    for _ in range(5):
        cuts = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(1, 12))))
        yield [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


def _calls_from_deltas(deltas):
    calls: dict[int, dict] = {}
    for d in deltas:
        i = d["index"]
        if i not in calls:
            assert set(d) == {"index", "id", "type", "function"} and d["type"] == "function"
            assert d["id"].startswith("call_") and d["function"]["arguments"] == ""
            calls[i] = {"id": d["id"], "name": d["function"]["name"], "arguments": ""}
        else:
            assert set(d) == {"index", "function"} and set(d["function"]) == {"arguments"}
            calls[i]["arguments"] += d["function"]["arguments"]
    assert list(calls) == list(range(len(calls)))
    return [(c["name"], c["arguments"]) for c in calls.values()]


@pytest.mark.parametrize(("parser", "text", "content", "calls"), CASES)
def test_whole_output(parser, text, content, calls) -> None:
    got_content, got_calls = _whole(parser, text)
    if not calls:
        content = text
    assert got_content == content
    assert [(c["function"]["name"], c["function"]["arguments"]) for c in got_calls] == calls
    for c in got_calls:
        json.loads(c["function"]["arguments"])
        assert c["type"] == "function" and c["id"].startswith("call_")


@pytest.mark.parametrize(("parser", "text", "content", "calls"), CASES)
def test_streamed_output_matches_whole(parser, text, content, calls) -> None:
    for chunks in _chunkings(text):
        got_content, deltas = _streamed(get_tool_parser(parser), text, chunks)
        got_calls = _calls_from_deltas(deltas)
        if calls:
            assert got_calls == calls, chunks
            assert got_content == (content or "")
        elif deltas:  # a call cut short (max_tokens) after its start was streamed: not re-sent as content
            assert got_content == "" and text.startswith("<tool_call>"), chunks
        else:
            assert got_content == text


def test_arguments_stream_before_the_call_closes() -> None:
    stream = ToolCallStream(get_tool_parser("hermes"))
    _, d1 = stream.feed('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Pa')
    assert d1[0]["function"]["name"] == "get_weather"
    assert d1[1]["function"]["arguments"] == '{"city": "Pa'
    _, d2 = stream.feed('ris"}}\n</tool_call>', final=True)
    assert d2 == [{"index": 0, "function": {"arguments": 'ris"}'}}]


def test_content_holds_back_a_partial_marker_only() -> None:
    stream = ToolCallStream(get_tool_parser("hermes"))
    assert stream.feed("Hello <tool")[0] == "Hello "
    assert stream.feed(" friend")[0] == "<tool friend"


def test_required_and_named_forms() -> None:
    text = f'[{{"name": "get_weather", "arguments": {WEATHER}}}]'
    content, calls = JsonArrayToolParser().extract(text)
    assert content is None and calls[0]["function"]["arguments"] == WEATHER
    content, calls = NamedToolParser("get_time").extract(TIME)
    assert content is None and calls[0]["function"] == {"name": "get_time", "arguments": TIME}
    _, deltas = _streamed(NamedToolParser("get_time"), TIME, [*TIME, ""])
    assert _calls_from_deltas(deltas) == [("get_time", TIME)]


def test_unknown_parser_is_named() -> None:
    with pytest.raises(ValueError, match="pythonic"):
        get_tool_parser("pythonic")
