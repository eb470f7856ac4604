"""Request parsing without a model: types, ranges, param names, the unknown-field policy."""

from __future__ import annotations

from typing import Any

import pytest

from engine.server.errors import ApiError
from engine.server.protocol import parse_chat, parse_completion

VOCAB = 1000
MSGS = [{"role": "user", "content": "hi"}]


def chat(**kw: Any) -> Any:
    return parse_chat({"model": "m", "messages": MSGS, **kw}, VOCAB)


def chat_error(body: dict[str, Any]) -> ApiError:
    with pytest.raises(ApiError) as exc:
        parse_chat(body, VOCAB)
    assert exc.value.status == 400
    return exc.value


def test_defaults_and_nulls_mean_absent() -> None:
    req = chat(temperature=None, top_p=None, stop=None, n=None, user=None)
    p = req.params
    assert (p.n, p.temperature, p.top_p, p.max_tokens, p.logprobs) == (1, 1.0, 1.0, None, None)
    assert not req.stream and not req.include_usage and req.add_generation_prompt


def test_every_sampling_field_reaches_sampling_params() -> None:
    p = chat(
        n=2,
        temperature=0.5,
        top_p=0.9,
        top_k=5,
        min_p=0.1,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        repetition_penalty=1.2,
        seed=7,
        stop="x",
        stop_token_ids=[3],
        ignore_eos=True,
        max_tokens=9,
        min_tokens=2,
        include_stop_str_in_output=True,
        skip_special_tokens=False,
        logprobs=True,
        top_logprobs=3,
    ).params
    assert (p.n, p.temperature, p.top_p, p.top_k, p.min_p) == (2, 0.5, 0.9, 5, 0.1)
    assert (p.presence_penalty, p.frequency_penalty, p.repetition_penalty, p.seed) == (0.5, -0.5, 1.2, 7)
    assert (p.stop_strs, p.stop_token_ids, p.ignore_eos, p.max_tokens, p.min_tokens) == (
        ["x"],
        [3],
        True,
        9,
        2,
    )
    assert p.include_stop_str_in_output and not p.skip_special_tokens and p.logprobs == 3


def test_max_completion_tokens_and_max_tokens() -> None:
    assert chat(max_completion_tokens=5).params.max_tokens == 5
    assert chat_error(
        {"model": "m", "messages": MSGS, "max_tokens": 5, "max_completion_tokens": 5}
    ).param == ("max_completion_tokens")


def test_messages_roles_parts_and_replayed_extras() -> None:
    req = chat(
        messages=[
            {"role": "developer", "content": "be brief"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                "name": "u",
            },
            {"role": "assistant", "content": None, "refusal": None, "tool_calls": []},
        ]
    )
    assert req.messages == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "a\nb"},
        {"role": "assistant", "content": ""},
    ]
    err = chat_error({"model": "m", "messages": [{"role": "assistant", "content": "x", "tool_calls": [{}]}]})
    assert err.param == "messages[0].tool_calls[0].id" and err.code == "missing_required"


@pytest.mark.parametrize(
    ("extra", "param", "code"),
    [
        ({"n": True}, "n", "invalid_type"),
        ({"n": 129}, "n", "invalid_value"),
        ({"top_k": -2}, "top_k", "invalid_value"),
        ({"temperature": float("nan")}, "temperature", "invalid_type"),
        ({"stop": ["a"] * 17}, "stop", None),
        ({"stop": ""}, "stop", "invalid_value"),
        ({"top_logprobs": 2}, "top_logprobs", None),
        ({"stop_token_ids": [VOCAB]}, "stop_token_ids", "invalid_value"),
        ({"response_format": {"type": "xml"}}, "response_format.type", "invalid_value"),
        ({"tool_choice": "required"}, "tool_choice", "invalid_value"),
        ({"logit_bias": {"x": 5}}, "logit_bias", "invalid_value"),
        ({"logit_bias": {"1": 500}}, "logit_bias", "invalid_value"),
        ({"logit_bias": {str(VOCAB): 5}}, "logit_bias", "invalid_value"),
        ({"x" * 500: 1}, "x" * 64, "unknown_parameter"),
    ],
)
def test_chat_errors_name_the_param(extra: dict[str, Any], param: str, code: str | None) -> None:
    err = chat_error({"model": "m", "messages": MSGS, **extra})
    assert err.param == param and err.code == code
    assert err.body()["error"]["type"] == "invalid_request_error"


def test_stop_strings_are_not_echoed_in_errors() -> None:
    err = chat_error({"model": "m", "messages": MSGS, "stop": ["secret", ""]})
    assert "secret" not in err.message


def test_completion_prompt_forms() -> None:
    assert parse_completion({"model": "m", "prompt": "a"}, VOCAB).prompts == ["a"]
    assert parse_completion({"model": "m", "prompt": ["a", "b"]}, VOCAB).prompts == ["a", "b"]
    assert parse_completion({"model": "m", "prompt": [1, 2]}, VOCAB).prompts == [[1, 2]]
    req = parse_completion({"model": "m", "prompt": [[1], [2, 3]], "n": 2, "best_of": 2}, VOCAB)
    assert req.prompts == [[1], [2, 3]] and req.params.max_tokens == 16


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": ["a", 1]}, "prompt"),
        ({"prompt": [[1], [VOCAB]]}, "prompt[1]"),
        ({"prompt": [""]}, "prompt"),
        ({"prompt": ["a"] * 65, "n": 2}, "n"),
        ({"prompt": "a", "best_of": 3}, "best_of"),
        ({"prompt": "a", "logprobs": True}, "logprobs"),
    ],
)
def test_completion_errors_name_the_param(body: dict[str, Any], param: str) -> None:
    with pytest.raises(ApiError) as exc:
        parse_completion({"model": "m", **body}, VOCAB)
    assert exc.value.param == param
