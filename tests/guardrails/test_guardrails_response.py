"""Every text field of responses: content, reasoning, refusal, tool-call arguments, logprobs."""

from __future__ import annotations

import copy
import json

import pytest

from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY
from proxy.guardrails import OutputGuard, ResponseGuard, compile_policy, scan_request

POLICY = compile_policy(DEFAULT_GUARDRAIL_POLICY)
CARD = "4111 1111 1111 1111"


def _chunk(delta: dict, finish: str | None = None, logprobs: dict | None = None) -> dict:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    if logprobs is not None:
        choice["logprobs"] = logprobs
    return {"id": "x", "object": "chat.completion.chunk", "choices": [choice]}


def _collect(chunks: list[dict]) -> dict:
    """Join streamed deltas into one message (as the SDK's stream helpers do)."""
    out: dict = {"tool_calls": {}}
    for chunk in chunks:
        for choice in chunk["choices"]:
            d = choice.get("delta") or {}
            for key in ("content", "reasoning_content", "refusal"):
                if d.get(key):
                    out[key] = out.get(key, "") + d[key]
            for call in d.get("tool_calls") or []:
                slot = out["tool_calls"].setdefault(call["index"], {"name": "", "arguments": ""})
                fn = call.get("function") or {}
                slot["name"] += fn.get("name") or ""
                slot["arguments"] += fn.get("arguments") or ""
            out["finish"] = choice.get("finish_reason") or out.get("finish")
    return out


def _stream(guard: ResponseGuard, chunks: list[dict]) -> tuple[list[dict], str | None]:
    sent = []
    for chunk in chunks:
        chunk = copy.deepcopy(chunk)
        rule = guard.chunk(chunk)
        sent.append(chunk)
        if rule:
            return sent, rule
    for index, delta in guard.flush():
        sent.append({"choices": [{"index": index, "delta": delta, "finish_reason": None}]})
    return sent, None


def _split(text: str, n: int) -> list[str]:
    return [text[i : i + n] for i in range(0, len(text), n)]


@pytest.mark.parametrize("size", [1, 3, 7, 100])
def test_tool_call_arguments_are_masked_streamed_and_not(size: int) -> None:
    args = json.dumps({"card": CARD, "note": "ok"})
    chunks = [
        _chunk({"role": "assistant", "reasoning_content": "card " + CARD[:9]}),
        _chunk({"reasoning_content": CARD[9:] + " noted"}),
        _chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "c1", "type": "function", "function": {"name": "pay", "arguments": ""}}
                ]
            }
        ),
    ]
    chunks += [
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in _split(args, size)
    ]
    chunks.append(_chunk({}, "tool_calls"))
    sent, rule = _stream(ResponseGuard(OutputGuard(POLICY), chat=True), chunks)
    got = _collect(sent)
    assert rule is None and got["finish"] == "tool_calls"
    assert json.loads(got["tool_calls"][0]["arguments"]) == {"card": "[CARD]", "note": "ok"}
    assert got["reasoning_content"] == "card [CARD] noted"
    whole = {
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "reasoning_content": "card " + CARD + " noted",
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "pay", "arguments": args}}
                    ],
                },
            }
        ]
    }
    assert ResponseGuard(OutputGuard(POLICY), chat=True).payload(whole) is None
    message = whole["choices"][0]["message"]
    assert message["tool_calls"][0]["function"]["arguments"] == got["tool_calls"][0]["arguments"]
    assert message["reasoning_content"] == got["reasoning_content"]


def test_placeholders_are_restored_inside_tool_call_arguments() -> None:
    scanned = scan_request(
        POLICY, {"messages": [{"role": "user", "content": "mail ann@corp.io"}]}, route="chat"
    )
    args = json.dumps({"to": "<EMAIL_1>"})
    chunks = [
        _chunk({"tool_calls": [{"index": 0, "function": {"name": "mail", "arguments": p}}]})
        for p in _split(args, 4)
    ] + [_chunk({}, "tool_calls")]
    got = _collect(_stream(ResponseGuard(OutputGuard(POLICY, scanned.vault), chat=True), chunks)[0])
    assert json.loads(got["tool_calls"][0]["arguments"]) == {"to": "ann@corp.io"}


def test_a_stream_without_finish_reason_still_delivers_its_scanned_tail() -> None:
    chunks = [_chunk({"content": "pay 4111 1111"}), _chunk({"content": " 1111 1111"})]
    sent, _ = _stream(ResponseGuard(OutputGuard(POLICY), chat=True), chunks)
    assert _collect(sent)["content"] == "pay [CARD]"


def test_logprob_tokens_of_a_masked_value_are_dropped_streamed_and_not() -> None:
    tokens = ["Card", ":", " 4111", " 1111", " 1111", " 1111", " ok"]
    entry = [{"token": t, "logprob": -0.1, "bytes": list(t.encode()), "top_logprobs": []} for t in tokens]
    chunks = [_chunk({"content": t}, logprobs={"content": [e]}) for t, e in zip(tokens, entry, strict=True)]
    chunks.append(_chunk({}, "stop", logprobs={"content": []}))
    sent, _ = _stream(ResponseGuard(OutputGuard(POLICY), chat=True), chunks)
    streamed = [e["token"] for c in sent for e in c["choices"][0].get("logprobs", {}).get("content", [])]
    assert streamed == ["Card", ":", " ok"]
    whole = {
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": {"content": copy.deepcopy(entry)},
                "message": {"role": "assistant", "content": "".join(tokens)},
            }
        ]
    }
    ResponseGuard(OutputGuard(POLICY), chat=True).payload(whole)
    assert [e["token"] for e in whole["choices"][0]["logprobs"]["content"]] == streamed
    assert whole["choices"][0]["message"]["content"] == "Card: [CARD] ok"


def test_completions_logprobs_lists_stay_parallel() -> None:
    tokens = ["pay", " 4111111111111111", " now"]
    payload = {
        "choices": [
            {
                "index": 0,
                "text": "".join(tokens),
                "finish_reason": "stop",
                "logprobs": {
                    "tokens": tokens,
                    "token_logprobs": [-1, -2, -3],
                    "top_logprobs": [{}, {}, {}],
                    "text_offset": [0, 3, 20],
                },
            }
        ]
    }
    ResponseGuard(OutputGuard(POLICY), chat=False).payload(payload)
    lp = payload["choices"][0]["logprobs"]
    assert payload["choices"][0]["text"] == "pay [CARD] now"
    assert (
        lp["tokens"] == ["pay", " now"] and lp["token_logprobs"] == [-1, -3] and lp["text_offset"] == [0, 20]
    )


def test_echoed_prompt_logprobs_with_a_null_first_entry_stay_parallel() -> None:
    """echo with logprobs: the prompt's first token has no logprob (null entries) and a masked value in
    the echoed prompt drops its tokens like the completion's."""
    tokens = ["My", " card", " 4111111111111111", ".", " ok"]
    payload = {
        "choices": [
            {
                "index": 0,
                "text": "".join(tokens),
                "finish_reason": "length",
                "logprobs": {
                    "tokens": tokens,
                    "token_logprobs": [None, -2.0, -3.0, -0.5, -1.0],
                    "top_logprobs": [None, {" card": -2.0}, {}, {".": -0.5}, {" ok": -1.0}],
                    "text_offset": [0, 2, 7, 24, 25],
                },
            }
        ]
    }
    ResponseGuard(OutputGuard(POLICY), chat=False).payload(payload)
    lp = payload["choices"][0]["logprobs"]
    assert payload["choices"][0]["text"] == "My card [CARD]. ok"
    assert lp["tokens"] == ["My", " card", ".", " ok"]
    assert lp["token_logprobs"] == [None, -2.0, -0.5, -1.0] and lp["top_logprobs"][0] is None
    assert lp["text_offset"] == [0, 2, 24, 25]


def test_a_key_in_refusal_or_function_name_blocks() -> None:
    key = "-----BEGIN RSA PRIVATE KEY-----\n" + "QUJDRA" * 10 + "\n-----END RSA PRIVATE KEY-----"
    whole = {
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "refusal": key}}]
    }
    assert ResponseGuard(OutputGuard(POLICY), chat=True).payload(whole) == "secret.private_key"
    assert whole["choices"][0]["finish_reason"] == "content_filter" and "QUJDRA" not in json.dumps(whole)


def test_placeholders_inside_urls_and_markup_are_not_restored_by_default() -> None:
    body = {"messages": [{"role": "user", "content": "I am ann@corp.io"}]}
    text = 'Hi <EMAIL_1>: ![x](https://img.example/<EMAIL_1>.png) [m](mailto:<EMAIL_1>) <a href="<EMAIL_1>">'
    scanned = scan_request(POLICY, body, route="chat")
    out = OutputGuard(POLICY, scanned.vault).apply_full(text).text
    assert out == text.replace("Hi <EMAIL_1>", "Hi ann@corp.io", 1)
    allow = compile_policy({**DEFAULT_GUARDRAIL_POLICY, "restore_in_urls": True})
    scanned = scan_request(allow, body, route="chat")
    assert "<EMAIL_1>" not in OutputGuard(allow, scanned.vault).apply_full(text).text
