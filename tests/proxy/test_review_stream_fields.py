"""A field that starts again after another field of the same choice (content, a tool call, then
content again; reasoning, content, reasoning) keeps its text through the output guard (review).

The response guard finishes a choice's earlier field when a later one starts (its held-back tail
goes out then); before, text of a finished field that came again was fed to a finished guard
stream, which answers nothing: it was dropped without a trace. Its logprobs follow their text."""

from __future__ import annotations

import copy
from typing import Any

from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY
from proxy.guardrails import OutputGuard, ResponseGuard, compile_policy

POLICY = compile_policy({"version": 1, "rules": [
    *DEFAULT_GUARDRAIL_POLICY["rules"],
    {"id": "acme.ticket", "scanner": "regex", "pattern": "TCK-[0-9]{6}", "label": "TICKET",
     "input": "mask", "output": "mask"},
]})
CARD = "4111 1111 1111 1111"


def _chunk(delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
    if logprobs is not None:
        choice["logprobs"] = logprobs
    return {"id": "x", "object": "chat.completion.chunk", "choices": [choice]}


def _run(chunks: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    guard = ResponseGuard(OutputGuard(POLICY), chat=True)
    sent = []
    for chunk in chunks:
        chunk = copy.deepcopy(chunk)
        rule = guard.chunk(chunk)
        sent.append(chunk)
        if rule:
            return sent, rule
    for index, delta in guard.flush():
        logprobs = delta.pop("logprobs", None)
        sent.append({"choices": [{"index": index, "delta": delta, "logprobs": logprobs}]})
    return sent, None


def _field(sent: list[dict[str, Any]], name: str) -> str:
    return "".join(c["delta"].get(name) or "" for chunk in sent for c in chunk["choices"])


def _args(sent: list[dict[str, Any]]) -> str:
    return "".join((call.get("function") or {}).get("arguments") or "" for chunk in sent
                   for c in chunk["choices"] for call in c["delta"].get("tool_calls") or [])


def test_content_after_a_tool_call_is_kept() -> None:
    sent, rule = _run([
        _chunk({"role": "assistant", "content": "Before the call, "}),
        _chunk({"tool_calls": [{"index": 0, "id": "t", "type": "function",
                                "function": {"name": "f", "arguments": '{"a": 1}'}}]}),
        _chunk({"content": "after the call."}),
        _chunk({}, "stop"),
    ])
    assert rule is None
    assert _field(sent, "content") == "Before the call, after the call."
    assert _args(sent) == '{"a": 1}'


def test_reasoning_again_after_content_is_kept_and_still_scanned() -> None:
    sent, rule = _run([
        _chunk({"reasoning_content": "think "}),
        _chunk({"content": "answer "}),
        _chunk({"reasoning_content": "more TCK-123"}),
        _chunk({"reasoning_content": "456 end"}),
        _chunk({"content": "done"}),
    ])
    assert rule is None
    assert _field(sent, "reasoning_content") == "think more [TICKET] end"
    assert _field(sent, "content") == "answer done"


def test_a_card_split_across_chunks_of_a_later_segment_is_masked() -> None:
    sent, rule = _run([
        _chunk({"content": "a "}),
        _chunk({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": "{}"}}]}),
        _chunk({"content": f"card {CARD[:9]}"}),
        _chunk({"content": f"{CARD[9:]} end"}),
    ])
    content = _field(sent, "content")
    assert rule is None and content.startswith("a card ") and content.endswith(" end")
    assert "4111" not in content and "1111" not in content


def test_logprobs_of_a_later_segment_follow_its_text() -> None:
    def entries(*tokens: str) -> dict[str, Any]:
        return {"content": [{"token": t, "logprob": -0.1, "bytes": list(t.encode()), "top_logprobs": []}
                            for t in tokens]}

    sent, rule = _run([
        _chunk({"content": "ab"}, logprobs=entries("a", "b")),
        _chunk({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": "{}"}}]}),
        _chunk({"content": "c TCK-"}, logprobs=entries("c", " TCK-")),
        _chunk({"content": "123456 d"}, logprobs=entries("123456", " d")),
        _chunk({}, "stop", logprobs=entries()),
    ])
    assert rule is None
    assert _field(sent, "content") == "abc [TICKET] d"
    tokens = [e["token"] for chunk in sent for c in chunk["choices"]
              for e in ((c.get("logprobs") or {}).get("content") or [])]
    assert tokens == ["a", "b", "c", " d"]  # the masked value's tokens are dropped, the rest kept
