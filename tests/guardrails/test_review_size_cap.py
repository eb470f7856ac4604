"""Review: `limits.max_input_chars` (and the token estimate) count every text of the body: object
keys the tenant chose and any string under a `role` or `type` name, except the short enum values
the OpenAI schema puts there ("user", "text", "function", ...) and its own field names."""

from __future__ import annotations

import pytest

from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY
from proxy.guardrails import compile_policy, scan_request

DEFAULT = compile_policy(DEFAULT_GUARDRAIL_POLICY)
CAPPED = compile_policy({"version": 1, "limits": {"max_input_chars": 100, "max_input_tokens": 40},
                         "rules": []})
TOOL = {"type": "function", "function": {"name": "pay", "description": "Pays", "parameters": {
    "type": "object", "properties": {"card": {"type": "string"}}, "required": ["card"]}}}


def _chat(content: object = "hi", role: str = "user", **extra: object) -> dict:
    return {"model": "m", "messages": [{"role": role, "content": content}], **extra}


def test_a_long_type_value_and_a_long_key_count() -> None:
    body = _chat(metadata={"type": "word " * 100_000, "k" * 450_000: 1})
    result = scan_request(DEFAULT, body, route="chat")
    assert result.input_chars >= 950_000
    assert result.blocked_rule == "limits.max_input_chars"


@pytest.mark.parametrize("body", [
    _chat(role="user" + "x" * 100),
    _chat([{"type": "text" + " " * 100, "text": "hi"}]),
    _chat(tools=[{**TOOL, "type": "function" + "!" * 100}]),
    _chat(response_format={"type": "json_object" + "x" * 100}),
    _chat(metadata={"type": "user"}, x=[{"role": "r" * 200}]),
    _chat(metadata={"k" * 101: "v"}),
    _chat(tools=[{**TOOL, "function": {**TOOL["function"], "parameters": {
        "type": "object", "properties": {"p" * 101: {"type": "string"}}}}}]),
    {"model": "m", "prompt": "hi", "k" * 101: 1},
])
def test_text_in_keys_and_enum_fields_counts_toward_the_cap(body: dict) -> None:
    route = "completions" if "prompt" in body else "chat"
    assert scan_request(CAPPED, body, route=route).blocked_rule == "limits.max_input_chars"


def test_many_keys_count_toward_the_token_cap() -> None:
    body = _chat(metadata={f"key{i:03d}": 1 for i in range(50)})  # 300 characters of keys
    assert scan_request(CAPPED, body, route="chat").blocked_rule == "limits.max_input_chars"
    tokens = compile_policy({"version": 1, "limits": {"max_input_tokens": 40}, "rules": []})
    assert scan_request(tokens, body, route="chat").blocked_rule == "limits.max_input_tokens"


def test_schema_field_names_and_enum_values_do_not_count() -> None:
    body = _chat([{"type": "text", "text": "hello"}], tools=[TOOL], tool_choice={
        "type": "function", "function": {"name": "pay"}}, response_format={"type": "json_object"})
    result = scan_request(CAPPED, body, route="chat")
    # hello + pay + Pays + the property name card + required's card + tool_choice's pay
    assert result.input_chars == 5 + 3 + 4 + 4 + 4 + 3 and not result.blocked
    assert scan_request(CAPPED, _chat("hi", role="assistant"), route="chat").input_chars == 2
    ids = scan_request(CAPPED, {"model": "m", "prompt": [[1, 2, 3]]}, route="completions")
    assert ids.input_chars == 0 and ids.input_tokens == 3
