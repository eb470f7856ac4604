"""Input guard: scan every text field of a chat, completions or embeddings request body.

fields.py finds the text (the conversation in order, and every other string and key of the
body) or refuses the request; each group is scanned as one joined text, so a value split across
two messages or two fields is one finding. A message's text parts are also scanned joined
directly, as chat templates join them ("card 4111 1111" + " 1111 1111" is one card). Injection
heuristics score each string, each distinct object key and each message's parts joined
(_injection_texts). The body is never mutated; a changed body is a copy.
"""

from __future__ import annotations

import copy
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Literal

from proxy.guardrails import escapes, injection
from proxy.guardrails.errors import blocked_error
from proxy.guardrails.fields import Refusal, Slot, collect
from proxy.guardrails.normalize import normalize
from proxy.guardrails.policy import RESTORE_RULE, CompiledPolicy
from proxy.guardrails.scan import Hit, find_hits, render_slots
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
    refusal: Refusal | None = None  # a field the guardrails cannot scan: answer 400 naming `param`

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


JOIN = " "  # the boundary between joined texts: patterns may match across it


def scan_request(
    policy: CompiledPolicy,
    body: dict,
    *,
    route: Literal["chat", "completions", "embeddings"],
    count_tokens: TokenCounter | None = None,
    kind: str | None = "teecube",
) -> InputResult:
    """Apply the policy's input stage to a request body. Never mutates `body`.

    `kind` is the upstream deployment's kind (teecube, openai, ollama): fields that kind would
    use but the guardrails cannot read are refused (`result.refusal`)."""
    fields = collect(body, route, kind, refuse_token_ids=policy.refuse_token_ids)
    vault = Vault()
    groups = [fields.conversation, fields.other]
    texts = [slot.text for group in groups for slot in group if _counted(slot)]
    chars = sum(len(t) for t in texts)
    tokens = fields.token_ids + sum((count_tokens or estimate_tokens)(t) for t in texts)
    result = InputResult(body=body, vault=vault, input_chars=chars, input_tokens=tokens)
    if fields.refusal is not None:
        result.refusal = fields.refusal
        return result
    if policy.max_input_chars is not None and chars > policy.max_input_chars:
        return _blocked(result, LIMIT_CHARS, Counter())
    if policy.max_input_tokens is not None and tokens > policy.max_input_tokens:
        return _blocked(result, LIMIT_TOKENS, Counter())

    counts: Counter[str] = Counter()
    joined = [JOIN.join(slot.text for slot in group) for group in groups]
    views = [normalize(text, fold=True) for text in joined]
    runs = [_PartRun(fields.conversation, run) for run in _part_runs(fields.conversation)]
    if policy.pseudonymizes:
        for view in [v for v, _ in views] + [run.view for run in runs]:
            for m in RESTORE_RULE.regex.finditer(view):
                vault.reserve(m.group())
    if policy.injection:
        scores: dict[str, float] = {}  # a text repeated in a request is scored once

        def score(text: str) -> float:
            if text not in scores:
                scores[text] = round(injection.score_text(text)[0], 6)
            return scores[text]

        for texts, parts in _injection_texts(groups):
            value = max(score(t) for t in texts)
            alone = max((score(p) for p in parts), default=0.0)  # a joined text: its parts' best
            for rule in policy.injection:
                if value >= rule.threshold > alone:
                    if rule.input == "block":
                        return _blocked(result, rule.id, counts)
                    counts[rule.id] += 1
    changes: list[tuple[Slot, str]] = []
    for group, raw, (view, index), group_runs in zip(groups, joined, views, [runs, []], strict=True):
        bounds, pos = [], 0
        for slot in group:
            bounds.append((pos, pos + len(slot.text)))
            pos += len(slot.text) + len(JOIN)
        hits, _ = find_hits(policy.input, raw, view, index)
        hits += escaped_hits(policy, raw, hits)
        if group_runs:
            hits += _run_hits(policy, group_runs, bounds, hits)
        if not hits:
            continue
        out, blocked_rule, fired = render_slots(raw, hits, bounds, "input", vault)
        if blocked_rule is not None:
            return _blocked(result, blocked_rule, counts)
        counts.update(fired)
        changes.extend((slot, new) for slot, new in zip(group, out, strict=True) if new != slot.text)
    if changes:
        result.body = _with_changes(body, changes)
    result.rule_ids, result.counts = sorted(counts), dict(counts)
    return result


def escaped_hits(policy: CompiledPolicy, raw: str, found: list[Hit]) -> list[Hit]:
    """Findings written in escapes (`&#52;&#49;&#49;&#49;…`, `%34%31…`, `\\u0034…`, an address in
    references): the text read as a browser, URL or JSON parser reads it is scanned too, and each finding
    there that overlaps none in the text as written acts on the escapes it came from. The input stage
    only: a stream's output view reads one character at a time, so escapes stay as written there. Not
    for context spans or the high-entropy rule they shield (a decoded key's context could hide a finding
    of the text as written)."""
    if not escapes.might_hold_escapes(raw):
        return []
    decoded, starts = escapes.decode(raw)
    if decoded == raw:
        return []
    view, index = normalize(decoded, fold=True)
    out: list[Hit] = []
    for h in find_hits(policy.input, decoded, view, index)[0]:
        if h.rule.input == "context" or h.rule.scanner == "high_entropy" or not h.value:
            continue  # h.value is empty for the raw-text rules (invisible characters)
        start, end = escapes.raw_span(starts, h.start, h.end)
        if not any(start < f.end and f.start < end for f in found):
            out.append(Hit(h.rule, start, end, h.value, h.at))
    return out


def _injection_texts(groups: list[list[Slot]]) -> Iterator[tuple[tuple[str, ...], list[str]]]:
    """(texts, parts): what the injection heuristics score (the best of `texts` counts): every string
    value; every distinct object key (a tool schema's property names reach the model as its prompt
    too); and the text parts of one message's content joined as chat templates join them (directly,
    or by line breaks), so an instruction split over two parts (`"Ignore all previous"`,
    `" instructions"`) is one text.
    `parts` is empty except for joined texts: they count only where no part alone did."""
    keys: set[str] = set()
    messages: dict[tuple[Any, ...], list[str]] = {}
    for group in groups:
        for slot in group:
            if not slot.text:
                continue
            if slot.key:
                if slot.text in keys:
                    continue
                keys.add(slot.text)
            elif _is_part(slot):
                messages.setdefault(slot.path[:2], []).append(slot.text)
            yield (slot.text,), []
    for texts in messages.values():
        if len(texts) > 1:
            yield ("".join(texts), "\n".join(texts)), texts


def _is_part(slot: Slot) -> bool:
    """A text (or refusal) part of a message's content list."""
    return len(slot.path) == 5 and slot.path[0] == "messages" and slot.path[2] == "content" and not slot.key


def _part_runs(conversation: list[Slot]) -> list[list[int]]:
    """Per message whose content has several text parts: the indices of their slots, in order."""
    runs: dict[tuple[Any, ...], list[int]] = {}
    for i, slot in enumerate(conversation):
        if _is_part(slot):
            runs.setdefault(slot.path[:2], []).append(i)
    return [run for run in runs.values() if len(run) > 1]


class _PartRun:
    """One message's text parts joined directly, as chat templates join them (no separator)."""

    __slots__ = ("index", "raw", "slots", "starts", "view")

    def __init__(self, conversation: list[Slot], slots: list[int]) -> None:
        texts = [conversation[i].text for i in slots]
        self.slots = slots
        self.starts = [0, *accumulate(len(t) for t in texts[:-1])]  # part k is raw[starts[k]:...]
        self.raw = "".join(texts)
        self.view, self.index = normalize(self.raw, fold=True)

    def part(self, offset: int) -> int:
        """The part holding raw[offset] (never an empty one)."""
        return bisect_right(self.starts, offset) - 1


def _run_hits(policy: CompiledPolicy, runs: list[_PartRun], bounds: list[tuple[int, int]],
              own: list[Hit]) -> list[Hit]:
    """Findings in each message's parts joined directly that the JOIN-joined text lacks (a card, key
    or address cut between two parts), as spans of the JOIN-joined text: render_slots then
    replaces each in the part where it starts and removes its rest from the following parts.
    A finding that overlaps one of the same rule there is that one (`"ann@corp.io"` + `"thanks"`
    reads `ann@corp.iothanks` joined: the part's own finding is kept, "thanks" stays)."""
    found: dict[str, list[tuple[int, int]]] = {}
    for h in own:
        found.setdefault(h.rule.id, []).append((h.start, h.end))
    longest = {rule: max(e - s for s, e in spans) for rule, spans in found.items()}
    for spans in found.values():
        spans.sort()
    out: list[Hit] = []
    for run in runs:
        hits, _ = find_hits(policy.input, run.raw, run.view, run.index)
        for h in hits:
            a, b = run.part(h.start), run.part(h.end - 1)
            start = bounds[run.slots[a]][0] + h.start - run.starts[a]
            end = bounds[run.slots[b]][0] + h.end - run.starts[b]
            spans = found.get(h.rule.id, [])
            lo = bisect_left(spans, (start - longest.get(h.rule.id, 0),))
            if any(e > start for _, e in spans[lo : bisect_left(spans, (end,))]):
                continue
            out.append(Hit(h.rule, start, end, h.value, h.at))
    return out


# The OpenAI schemas' own field names (requests, messages, content parts, tool calls, tools, JSON
# schema keywords): keys that do not count toward the size caps. Each appears at most once per
# object, so what they leave uncounted is bounded by the body's size; every other key counts.
SCHEMA_KEYS = frozenset({
    "model", "messages", "prompt", "suffix", "input", "stream", "stream_options", "include_usage",
    "temperature", "top_p", "top_k", "min_p", "n", "max_tokens", "max_completion_tokens", "stop",
    "presence_penalty", "frequency_penalty", "repetition_penalty", "logit_bias", "logprobs",
    "top_logprobs", "echo", "best_of", "seed", "user", "metadata", "store", "tools", "tool_choice",
    "parallel_tool_calls", "functions", "function_call", "response_format", "reasoning_effort",
    "service_tier", "modalities", "prediction", "encoding_format", "dimensions",
    "role", "content", "name", "tool_calls", "tool_call_id", "refusal", "reasoning_content",
    "reasoning", "id", "type", "text", "function", "arguments", "description", "parameters",
    "strict", "json_schema", "schema", "properties", "required", "items", "enum", "const",
    "default", "additionalProperties", "anyOf", "oneOf", "allOf", "$ref", "$defs", "definitions",
    "format", "title", "minimum", "maximum", "minItems", "maxItems", "minLength", "maxLength",
    "pattern", "nullable",
})
# The values the schemas define for `role` and `type` fields: these do not count; any other
# string there (a long one included) does.
ENUM_VALUES: dict[str, frozenset[str]] = {
    "role": frozenset({"system", "developer", "user", "assistant", "tool", "function"}),
    "type": frozenset({"text", "refusal", "function", "custom", "json_object", "json_schema",
                       "string", "number", "integer", "boolean", "object", "array", "null"}),
}


def _counted(slot: Slot) -> bool:
    """Text that counts toward the size caps: every string and key but the schemas' own field
    names and `role`/`type` enum values."""
    if slot.key:
        return slot.text not in SCHEMA_KEYS
    name = slot.path[-1] if slot.path else None
    return not (isinstance(name, str) and slot.text in ENUM_VALUES.get(name, ()))


def _blocked(result: InputResult, rule_id: str, counts: Counter[str]) -> InputResult:
    counts[rule_id] += 1
    result.blocked_rule, result.rule_ids, result.counts = rule_id, sorted(counts), dict(counts)
    result.vault = Vault()  # nothing to restore for a request that is not forwarded
    return result


def _with_changes(body: dict, changes: list[tuple[Slot, str]]) -> dict:
    """A deep copy with the changed values, then the renamed keys (deepest first)."""
    new = copy.deepcopy(body)
    for slot, text in changes:
        if not slot.key:
            node: Any = new
            for step in slot.path[:-1]:
                node = node[step]
            node[slot.path[-1]] = text
    for slot, text in sorted((c for c in changes if c[0].key), key=lambda c: -len(c[0].path)):
        parent: Any = new
        for step in slot.path[:-1]:
            parent = parent[step]
        old = slot.path[-1]
        items = [(text if k == old else k, v) for k, v in parent.items()]
        parent.clear()
        parent.update(items)  # a masked key that collides with another keeps the later value
    return new
