"""Review: request bodies the parsers let through but later stages choked on (500s, a 200 stream that
carries only an error). Each must be a 400 OpenAI error before anything is answered or scheduled."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from server_harness import AUTH, MODEL, RunningServer, http

from engine.sampling_params import SamplingParams
from engine.server.completions import _echo
from engine.server.protocol import CompletionRequest

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
USER = [{"role": "user", "content": "hi"}]
LONE = "\ud800"  # json.dumps writes it as the escape "\ud800", which json.loads accepts


@pytest.fixture(scope="module")
def server(api_server: RunningServer) -> RunningServer:
    return api_server


def error_of(server: RunningServer, path: str, body: object = None, raw: bytes | None = None) -> tuple:
    status, headers, payload = http(server.base_url + path, body, AUTH, raw=raw)
    assert headers.get("Content-Type", "").startswith("application/json"), payload
    assert set(payload) == {"error"} and set(payload["error"]) == {"message", "type", "param", "code"}
    return status, payload["error"]


def _tool(description: str) -> list[dict]:
    return [{"type": "function", "function": {"name": "f", "description": description}}]


_REPLAY = [
    {"role": "user", "content": "x"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "1", "type": "function", "function": {"name": "f", "arguments": '{"a": "\\ud800"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "1", "content": "r"},
]


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        (CHAT, {"model": MODEL, "messages": [{"role": "user", "content": LONE}]}, "messages"),
        (
            CHAT,
            {
                "model": MODEL,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "a" + LONE}]}],
            },
            "messages",
        ),
        (CHAT, {"model": MODEL, "messages": USER, "tools": _tool(LONE), "tool_choice": "none"}, "tools"),
        (CHAT, {"model": MODEL, "messages": USER, "guided_choice": ["ok", LONE + "x"]}, "guided_choice"),
        (
            CHAT,
            {"model": MODEL, "messages": USER, "chat_template_kwargs": {"k" + LONE: 1}},
            "chat_template_kwargs",
        ),
        (CHAT, {"model": MODEL, "messages": USER, "guided_json": '{"enum": ["\\ud800"]}'}, "guided_json"),
        (
            CHAT,
            {
                "model": MODEL,
                "messages": USER,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": '{"type": "string", "enum": ["\\udc00"]}'},
                },
            },
            "response_format",
        ),
        (COMPLETIONS, {"model": MODEL, "prompt": LONE}, "prompt"),
        (COMPLETIONS, {"model": MODEL, "prompt": ["fine", "\udfff"], "stream": True}, "prompt"),
        ("/tokenize", {"model": MODEL, "prompt": LONE}, "prompt"),
        ("/tokenize", {"model": MODEL, "messages": [{"role": "user", "content": LONE}]}, "messages"),
    ],
)
def test_lone_surrogates_are_400_not_500(server: RunningServer, path: str, body: dict, param: str) -> None:
    status, err = error_of(server, path, body)
    assert status == 400, err
    assert err["param"] == param and err["code"] == "invalid_value"
    assert "surrogate" in err["message"]
    assert server.wait_for(server.all_blocks_free, 10) and not server.engine.is_dead


def test_surrogate_bytes_in_utf8_and_in_a_key_are_400(server: RunningServer) -> None:
    # json.loads decodes bytes with surrogatepass: raw UTF-8 of U+D800 (ED A0 80) becomes a lone surrogate
    raw = b'{"model": "smol", "prompt": "a\xed\xa0\x80b", "max_tokens": 1}'
    status, err = error_of(server, COMPLETIONS, raw=raw)
    assert status == 400 and err["param"] == "prompt" and "surrogate" in err["message"]
    raw = json.dumps({"model": MODEL, "prompt": "a", LONE: 1}).encode()
    status, err = error_of(server, COMPLETIONS, raw=raw)
    assert status == 400 and err["param"] is None


def test_escaped_surrogate_pairs_are_ordinary_text(server: RunningServer) -> None:
    body = {"model": MODEL, "prompt": "smile \ud83d\ude00", "max_tokens": 2}
    raw = json.dumps(body, ensure_ascii=True).encode()  # "\\ud83d\\ude00": a valid pair, one character
    status, _, payload = http(server.base_url + COMPLETIONS, raw=raw, headers=AUTH)
    assert status == 200, payload
    assert payload["usage"]["completion_tokens"] == 2


def test_replayed_arguments_whose_escapes_spell_a_surrogate_stay_text(server: RunningServer) -> None:
    # the arguments string is valid text; parsed, it would hand the template a lone surrogate
    body = {"model": MODEL, "messages": _REPLAY, "max_tokens": 2}
    status, _, payload = http(server.base_url + CHAT, body, AUTH)
    assert status == 200, payload
    body = {"model": MODEL, "messages": _REPLAY}
    status, _, payload = http(server.base_url + "/tokenize", body, AUTH)
    assert status == 200 and payload["count"] > 0


@pytest.mark.parametrize("stream", [False, True])
def test_min_tokens_beyond_the_resolved_max_tokens_is_400_before_a_stream(
    server: RunningServer, stream: bool
) -> None:
    # max_tokens left out: it becomes what the context leaves, known only after templating; a stream
    # used to answer 200 and then carry the engine's refusal as an SSE error event
    body = {"model": MODEL, "messages": USER, "min_tokens": 100_000, "stream": stream}
    status, err = error_of(server, CHAT, body)
    assert status == 400 and err["param"] == "min_tokens" and err["code"] == "invalid_value"
    assert server.wait_for(server.all_blocks_free, 10)


def test_tokenize_checks_chat_template_kwargs(server: RunningServer) -> None:
    body = {"model": MODEL, "messages": USER, "chat_template_kwargs": 5}
    status, err = error_of(server, "/tokenize", body)
    assert status == 400 and err["param"] == "chat_template_kwargs" and err["code"] == "invalid_type"
    body = {"model": MODEL, "messages": USER, "chat_template_kwargs": {"add_generation_prompt": False}}
    status, err = error_of(server, "/tokenize", body)
    assert status == 400 and err["param"] == "chat_template_kwargs.add_generation_prompt"
    body = {"model": MODEL, "messages": USER, "chat_template_kwargs": {"note": "x"}}
    status, _, payload = http(server.base_url + "/tokenize", body, AUTH)
    assert status == 200 and payload["count"] > 0


def _deep_schema(depth: int) -> dict:
    schema: dict = {"type": "integer"}
    for _ in range(depth):
        schema = {"type": "array", "items": schema}
    return schema


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"guided_json": _deep_schema(300)}, "guided_json"),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": _deep_schema(300)},
                }
            },
            "response_format.json_schema.schema",
        ),
        (
            {
                "tools": [{"type": "function", "function": {"name": "f", "parameters": _deep_schema(300)}}],
                "tool_choice": {"type": "function", "function": {"name": "f"}},
            },
            "tools[0].function.parameters",
        ),
    ],
)
def test_deeply_nested_schemas_are_400_not_500(server: RunningServer, extra: dict, param: str) -> None:
    # the JSON Schema check recursed once per level and its RecursionError was a 500
    status, err = error_of(server, CHAT, {"model": MODEL, "messages": USER, "max_tokens": 2, **extra})
    assert status == 400 and err["param"] == param and "nested too deeply" in err["message"]
    status, _, payload = http(
        server.base_url + CHAT,
        {"model": MODEL, "messages": USER, "max_tokens": 2, "guided_json": _deep_schema(8)},
        AUTH,
    )
    assert status == 200, payload


def test_echo_returns_a_text_prompt_verbatim_not_its_tokens_decoded() -> None:
    # a tokenizer that prepends BOS (Llama, Mistral) decoded "hi" back as "<s>hi"; vLLM echoes the text
    class BosTokenizer:
        def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
            return "<s>" + "".join(f"[{i}]" for i in ids[1:])

    job = SimpleNamespace(
        n=2, prompts=[[1, 7], [1, 8]], state=SimpleNamespace(engine=SimpleNamespace(tokenizer=BosTokenizer()))
    )
    req = CompletionRequest(MODEL, ["hi", [1, 8]], SamplingParams(), False, False, True, None)
    assert [_echo(job, req, i) for i in range(4)] == ["hi", "hi", "<s>[8]", "<s>[8]"]  # type: ignore[arg-type]
    req.echo = False
    assert _echo(job, req, 0) == ""  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "raw", "param", "code"),
    [
        # an integer past float's range: float() raised OverflowError (500)
        (
            COMPLETIONS,
            b'{"model":"smol","prompt":"a","temperature":1' + b"0" * 400 + b"}",
            "temperature",
            "invalid_type",
        ),
        (
            CHAT,
            b'{"model":"smol","messages":[{"role":"user","content":"a"}],"presence_penalty":-1'
            + b"0" * 400
            + b"}",
            "presence_penalty",
            "invalid_type",
        ),
        # an integer past Python's 4300-digit limit: json.loads raised a plain ValueError (500)
        (COMPLETIONS, b'{"model":"smol","prompt":"a","n":1' + b"0" * 5000 + b"}", None, "invalid_json"),
        ("/tokenize", b'{"prompt":"a","x":[' + b"9" * 4301 + b"]}", None, "invalid_json"),
    ],
)
def test_huge_integers_are_400_not_500(
    server: RunningServer, path: str, raw: bytes, param: str | None, code: str
) -> None:
    status, err = error_of(server, path, raw=raw)
    assert status == 400 and err["param"] == param and err["code"] == code
    assert len(err["message"]) < 200
