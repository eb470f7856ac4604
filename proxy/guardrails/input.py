"""Input guard: scan every text field of a chat or completions request body.

Chat: each message's `content` (a string, or the `text` of each text part) and the
`arguments` of tool/function calls. Completions: `prompt` (a string, a list of strings, or
token ids, which count toward the size caps only) and `suffix`. The body is never mutated; a
changed body is a copy.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from proxy.guardrails import injection
from proxy.guardrails.errors import blocked_error
from proxy.guardrails.normalize import normalize
from proxy.guardrails.policy import RESTORE_RULE, CompiledPolicy
from proxy.guardrails.scan import find_hits, render
from proxy.guardrails.vault import Vault

TokenCounter = Callable[[str], int]
LIMIT_CHARS = "limits.max_input_chars"
LIMIT_TOKENS = "limits.max_input_tokens"


@dataclass(slots=True)
class InputResult:
    """`blocked_rule` set: answer 400 with `error_body()`. Otherwise forward `body` and keep `vault`."""

    body: dict = field(repr=False)  # never in logs
    vault: Vault
    blocked_rule: str | None = None
    rule_ids: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    input_chars: int = 0
    input_tokens: int = 0  # estimate (or the tokenizer callback's count), for the caps and admission

    @property
    def blocked(self) -> bool:
        return self.blocked_rule is not None

    def error_body(self) -> dict[str, Any]:
        if self.blocked_rule is None:
            raise ValueError("not blocked")
        return blocked_error(self.blocked_rule)


def estimate_tokens(text: str) -> int:
    """About four characters a token for English; an upper-ish bound for caps without a tokenizer."""
    return (len(text) + 3) // 4


# A text field: the keys leading to it from the body, and its value.
Slot = tuple[tuple[Any, ...], str]


def _chat_slots(body: dict) -> list[Slot]:
    slots: list[Slot] = []
    messages = body.get("messages")
    for m, message in enumerate(messages if isinstance(messages, list) else ()):
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            slots.append((("messages", m, "content"), content))
        elif isinstance(content, list):
            for p, part in enumerate(content):
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    slots.append((("messages", m, "content", p, "text"), part["text"]))
        calls = message.get("tool_calls")
        for c, call in enumerate(calls if isinstance(calls, list) else ()):
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                slots.append((("messages", m, "tool_calls", c, "function", "arguments"), fn["arguments"]))
        fn = message.get("function_call")
        if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
            slots.append((("messages", m, "function_call", "arguments"), fn["arguments"]))
    return slots


def _completion_slots(body: dict) -> tuple[list[Slot], int]:
    """Text slots, and the number of prompt token ids (which are only counted)."""
    slots: list[Slot] = []
    token_ids = 0
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        slots.append((("prompt",), prompt))
    elif isinstance(prompt, list):
        for i, item in enumerate(prompt):
            if isinstance(item, str):
                slots.append((("prompt", i), item))
            elif isinstance(item, int):
                token_ids += 1
            elif isinstance(item, list):
                token_ids += len(item)
    if isinstance(body.get("suffix"), str):
        slots.append((("suffix",), body["suffix"]))
    return slots, token_ids


def scan_request(
    policy: CompiledPolicy,
    body: dict,
    *,
    route: Literal["chat", "completions"],
    count_tokens: TokenCounter | None = None,
) -> InputResult:
    """Apply the policy's input stage to a request body. Never mutates `body`."""
    if route == "chat":
        slots, token_ids = _chat_slots(body), 0
    elif route == "completions":
        slots, token_ids = _completion_slots(body)
    else:
        raise ValueError(f"unknown route {route!r}")
    vault = Vault()
    texts = [text for _, text in slots]
    chars = sum(len(t) for t in texts)
    tokens = token_ids + sum((count_tokens or estimate_tokens)(t) for t in texts)
    result = InputResult(body=body, vault=vault, input_chars=chars, input_tokens=tokens)
    if policy.max_input_chars is not None and chars > policy.max_input_chars:
        return _blocked(result, LIMIT_CHARS, Counter())
    if policy.max_input_tokens is not None and tokens > policy.max_input_tokens:
        return _blocked(result, LIMIT_TOKENS, Counter())

    counts: Counter[str] = Counter()
    changes: list[tuple[int, str]] = []
    views = [normalize(text) for text in texts]
    if policy.pseudonymizes:
        for view, _ in views:
            for m in RESTORE_RULE.regex.finditer(view):
                vault.reserve(m.group())
    for n, text in enumerate(texts):
        view, index = views[n]
        value = round(injection.score(view)[0], 6) if policy.injection else 0.0
        for rule in policy.injection:
            if value >= rule.threshold:
                if rule.input == "block":
                    return _blocked(result, rule.id, counts)
                counts[rule.id] += 1
        hits, _ = find_hits(policy.input, text, view, index)
        if not hits:
            continue
        out = render(text, hits, len(text), "input", vault)
        if out.blocked_rule is not None:
            counts.update(out.fired[:-1])
            return _blocked(result, out.blocked_rule, counts)
        counts.update(out.fired)
        if out.text != text:
            changes.append((n, out.text))
    if changes:
        result.body = _with_changes(body, slots, changes)
    result.rule_ids, result.counts = sorted(counts), dict(counts)
    return result


def _blocked(result: InputResult, rule_id: str, counts: Counter[str]) -> InputResult:
    counts[rule_id] += 1
    result.blocked_rule, result.rule_ids, result.counts = rule_id, sorted(counts), dict(counts)
    result.vault = Vault()  # nothing to restore for a request that is not forwarded
    return result


def _with_changes(body: dict, slots: list[Slot], changes: list[tuple[int, str]]) -> dict:
    new = copy.deepcopy(body)
    for n, text in changes:
        path = slots[n][0]
        node: Any = new
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = text
    return new
