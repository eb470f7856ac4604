"""Review: an e-mail address whose "@" (or ".") is JSON-escaped (`\\u0040`) is still an address: in
prose, in a tool call's JSON arguments, on output and streamed in any chunking."""

from __future__ import annotations

import json

import pytest

from proxy.guardrails import OutputGuard, compile_policy, scan_request
from tests.guardrails.streaming import stream_checked

POLICY = compile_policy({"version": 1, "rules": [
    {"id": "pii.email", "scanner": "email", "input": "pseudonymize", "output": "mask"},
]})

ESCAPED = [
    "john.doe\\u0040example.com",
    "john.doe\\\\u0040example.com",  # escaped twice (JSON inside a JSON string)
    "john.doe\\u0040example\\u002ecom",
    "JOHN.DOE\\u0040EXAMPLE.COM",
]


@pytest.mark.parametrize("address", ESCAPED)
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_escaped_at_is_an_address(address: str, where: str) -> None:
    text = {"start": f"{address} wrote", "middle": f"mail {address} today",
            "end": f"write to {address}"}[where]
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    result = scan_request(POLICY, body, route="chat")
    assert result.rule_ids == ["pii.email"]
    assert "john" not in result.body["messages"][0]["content"].lower()
    out = OutputGuard(POLICY).apply_full(text)
    assert "john" not in out.text.lower() and "[EMAIL]" in out.text
    stream_checked(POLICY, None, text, list(range(1, len(text))))


def test_escaped_at_in_tool_call_arguments() -> None:
    arguments = '{"to": "ann.lee\\u0040corp.io", "subject": "hi"}'
    assert json.loads(arguments)["to"] == "ann.lee@corp.io"  # what the tool receives
    body = {"model": "m", "messages": [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "mail", "arguments": arguments}}]}]}
    result = scan_request(POLICY, body, route="chat")
    sent = result.body["messages"][0]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(sent) == {"to": "<EMAIL_1>", "subject": "hi"}
    assert result.vault.restore("<EMAIL_1>") == "ann.lee\\u0040corp.io"


@pytest.mark.parametrize("text", [
    "the regex \\u0040 matches an at sign",
    "C:\\u0040temp\\file",
    "x\\u0040y",
    "escape \\u00406 is not an at",
])
def test_escapes_that_are_no_address(text: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    assert scan_request(POLICY, body, route="chat").rule_ids == []
