"""Logprobs never carry text an output guardrail blocked (review).

A blocked field is cut at the finding; before, a non-streamed response kept every logprob entry
of it (only masked spans were dropped), so the blocked value, and all the text after it, went out
token by token in `logprobs` while `content` stopped before it. Streamed, the entries are released
with their text and never reached the value; both now keep only the head released unchanged."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy.guardrails import OutputGuard, ResponseGuard, compile_policy

POLICY = compile_policy({"version": 1, "rules": [
    {"id": "pii.card", "scanner": "card", "input": "pseudonymize", "output": "block"},
    {"id": "acme.ticket", "scanner": "regex", "pattern": "TCK-[0-9]{6}", "label": "TICKET",
     "input": "mask", "output": "mask"},
]})
TOKENS = ["See", " TCK-123456", " and", " pay", " with", " 4111", " 1111", " 1111", " 1111", " please",
          " later"]
SECRET = ["4111", "1111", "please", "later", "TCK"]


def _chat_entries(tokens: list[str]) -> list[dict[str, Any]]:
    return [{"token": t, "logprob": -0.1, "bytes": list(t.encode()), "top_logprobs": []} for t in tokens]


def _no_secret(obj: Any) -> None:
    dumped = json.dumps(obj)
    assert not any(s in dumped for s in SECRET), dumped


def test_a_blocked_whole_chat_answer_keeps_no_logprobs_of_the_value() -> None:
    payload = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(TOKENS)},
                            "logprobs": {"content": _chat_entries(TOKENS)}, "finish_reason": "stop"}]}
    assert ResponseGuard(OutputGuard(POLICY), chat=True).payload(payload) == "pii.card"
    choice = payload["choices"][0]
    _no_secret(choice)
    assert choice["message"]["content"].startswith("See [TICKET] and pay with")
    assert [e["token"] for e in choice["logprobs"]["content"]] == ["See"]  # the unchanged head


def test_a_blocked_whole_completion_keeps_no_logprobs_of_the_value() -> None:
    offsets = [sum(len(t) for t in TOKENS[:i]) for i in range(len(TOKENS))]
    logprobs = {"tokens": list(TOKENS), "token_logprobs": [-0.1] * len(TOKENS),
                "top_logprobs": [{t: -0.1} for t in TOKENS], "text_offset": offsets}
    payload = {"choices": [{"index": 0, "text": "".join(TOKENS), "logprobs": logprobs,
                            "finish_reason": "stop"}]}
    assert ResponseGuard(OutputGuard(POLICY), chat=False).payload(payload) == "pii.card"
    choice = payload["choices"][0]
    _no_secret(choice)
    assert choice["logprobs"]["tokens"] == ["See"] and len(choice["logprobs"]["top_logprobs"]) == 1


def test_an_unblocked_whole_answer_keeps_its_logprobs_but_masked_ones() -> None:
    tokens = TOKENS[:5]
    payload = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(tokens)},
                            "logprobs": {"content": _chat_entries(tokens)}, "finish_reason": "stop"}]}
    assert ResponseGuard(OutputGuard(POLICY), chat=True).payload(payload) is None
    kept = [e["token"] for e in payload["choices"][0]["logprobs"]["content"]]
    assert kept == ["See", " and", " pay", " with"]


@pytest.mark.parametrize("size", [1, 2, 3])
def test_a_blocked_stream_sends_no_logprobs_of_the_value(size: int) -> None:
    guard = ResponseGuard(OutputGuard(POLICY), chat=True)
    sent = []
    for i in range(0, len(TOKENS), size):
        part = TOKENS[i:i + size]
        chunk = {"choices": [{"index": 0, "delta": {"content": "".join(part)},
                              "logprobs": {"content": _chat_entries(part)}, "finish_reason": None}]}
        rule = guard.chunk(chunk)
        sent.append(chunk)
        if rule:
            break
    assert rule == "pii.card"
    _no_secret(sent)
