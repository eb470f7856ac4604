"""Output guardrails over every text field of a chat or completions response, streamed or not.

Each field is its own stream of the request's `OutputGuard` (same rules, same vault):
`reasoning_content`/`reasoning`, `content`, `refusal`, each tool call's `function.arguments`
(the legacy `function_call` too), and the completions `text`. Tool and function names arrive
whole and are scanned whole. A model writes these fields in that order, so when a later field
starts, the earlier streams of the choice are finished (their held-back tail goes out then).

Logprobs follow their text: a token entry is released once its text is, and dropped when its
characters overlap a span the guard replaced (masked or restored), so token strings never
reveal a masked value; streamed and whole responses drop the same entries.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from proxy.guardrails.output import GuardDelta, OutputGuard

TEXT_FIELDS = ("reasoning_content", "reasoning", "content", "refusal")  # the order a model writes them
LOGPROB_FIELDS = ("content", "refusal")
COMPLETION_KEYS = ("tokens", "token_logprobs", "top_logprobs", "text_offset")  # parallel lists


@dataclass(slots=True)
class _Logprobs:
    """Token entries of one text stream not yet released: (start, end, entry)."""

    pending: list[tuple[int, int, Any]] = field(default_factory=list)
    fed: int = 0
    changed: list[tuple[int, int]] = field(default_factory=list)

    def add(self, entries: list[Any], token_of: Any) -> None:
        for entry in entries:
            n = len(token_of(entry))
            self.pending.append((self.fed, self.fed + n, entry))
            self.fed += n

    def release(self, upto: int) -> list[Any]:
        out, keep = [], []
        for start, end, entry in self.pending:
            if end > upto:
                keep.append((start, end, entry))
            elif not any(a < end and start < b for a, b in self.changed):
                out.append(entry)
        self.pending = keep
        return out


@dataclass(slots=True)
class _Choice:
    open: list[Hashable] = field(default_factory=list)  # streams fed and not finished, in order
    # A field that starts again after it was finished (content, a tool call, content again) is a
    # new segment of the guard's: field -> (segment number, characters of the earlier segments).
    segments: dict[Hashable, tuple[int, int]] = field(default_factory=dict)
    logprobs: dict[str, _Logprobs] = field(default_factory=dict)
    blocked: str | None = None


def _chat_token(entry: Any) -> str:
    return entry.get("token", "") if isinstance(entry, dict) else ""


class ResponseGuard:
    """One per request, around its `OutputGuard`."""

    def __init__(self, guard: OutputGuard, *, chat: bool) -> None:
        self.guard = guard
        self.chat = chat
        self._choices: dict[int, _Choice] = {}

    # ------------------------------------------------------------------ whole responses

    def payload(self, payload: dict[str, Any]) -> str | None:
        """Guard a non-streamed response in place; the first blocking rule, if any."""
        blocked: str | None = None
        for choice in payload.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            rule = self._whole_choice(choice)
            if rule:
                choice["finish_reason"] = "content_filter"
                blocked = blocked or rule
        return blocked

    def _whole_choice(self, choice: dict[str, Any]) -> str | None:
        changed: dict[str, list[tuple[int, int]]] = {}
        released: dict[str, int] = {}  # a blocked field: how much of it was released unchanged

        def apply(holder: dict[str, Any], key: str, name: str) -> str | None:
            value = holder.get(key)
            if not isinstance(value, str) or not value:
                return None
            step = self.guard.apply_full(value)
            holder[key] = step.text
            changed[name] = step.changed
            if step.blocked_rule:
                # The text is cut at the finding: tokens from there on (the blocked value
                # itself) must not go out as logprobs. Only the unchanged head is certain.
                released[name] = _common_prefix(value, step.text)
            return step.blocked_rule

        rules: list[str | None] = []
        if self.chat:
            message = choice.get("message")
            if isinstance(message, dict):
                rules += [apply(message, f, f) for f in TEXT_FIELDS]
                rules += self._whole_calls(message, apply)
        else:
            rules.append(apply(choice, "text", "content"))
        self._whole_logprobs(choice, changed, released)
        return next((r for r in rules if r), None)

    def _whole_calls(self, message: dict[str, Any], apply: Any) -> list[str | None]:
        rules: list[str | None] = []
        calls = message.get("tool_calls")
        for k, call in enumerate(calls if isinstance(calls, list) else ()):
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict):
                rules += [apply(fn, "name", f"tool{k}.name"), apply(fn, "arguments", f"tool{k}")]
        fn = message.get("function_call")
        if isinstance(fn, dict):
            rules += [apply(fn, "name", "function_call.name"), apply(fn, "arguments", "function_call")]
        return rules

    def _whole_logprobs(self, choice: dict[str, Any], changed: dict[str, list[tuple[int, int]]],
                        released: dict[str, int]) -> None:
        logprobs = choice.get("logprobs")
        if not isinstance(logprobs, dict):
            return
        if self.chat:
            for name in LOGPROB_FIELDS:
                entries = logprobs.get(name)
                if isinstance(entries, list):
                    lp = _Logprobs(changed=changed.get(name, []))
                    lp.add(entries, _chat_token)
                    logprobs[name] = lp.release(released.get(name, lp.fed))
        else:
            _completion_logprobs(logprobs, _Logprobs(changed=changed.get("content", [])),
                                 released.get("content"))

    # ------------------------------------------------------------------ streams

    def chunk(self, chunk: dict[str, Any]) -> str | None:
        """Guard one streamed chunk in place. A choice a rule blocks ends with `content_filter` and its
        later chunks are dropped; the request's other choices go on, as in a whole response. Returns
        the first rule that blocked a choice in this chunk."""
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            return None
        kept: list[Any] = []
        first: str | None = None
        for choice in choices:
            if isinstance(choice, dict):
                st = self._choices.get(choice.get("index", 0))
                if st is not None and st.blocked is not None:
                    continue  # it ended with content_filter in an earlier chunk
                rule = self._stream_choice(choice)
                if rule:
                    choice["finish_reason"] = "content_filter"
                    first = first or rule
            kept.append(choice)
        chunk["choices"] = kept
        return first

    def blocked_choices(self) -> set[Any]:
        """The indexes of the choices a rule has ended."""
        return {index for index, st in self._choices.items() if st.blocked is not None}

    def _stream_choice(self, choice: dict[str, Any]) -> str | None:
        index = choice.get("index", 0)
        st = self._choices.setdefault(index, _Choice())
        if st.blocked is not None:
            return st.blocked
        if self.chat:
            delta = choice.get("delta")
            if not isinstance(delta, dict):
                delta = choice["delta"] = {}
            rule = self._stream_delta(index, st, delta)
        else:
            delta = choice
            rule = None
            if isinstance(choice.get("text"), str) and choice["text"]:
                rule = self._feed(index, st, (index, "content"), choice, choice, "text")
        if rule is None and choice.get("finish_reason") is not None:
            rule = self._finish_streams(index, st, delta, len(st.open))
        self._stream_logprobs(index, st, choice)
        if rule:
            st.blocked = rule
        return rule

    def _stream_delta(self, index: int, st: _Choice, delta: dict[str, Any]) -> str | None:
        for name in TEXT_FIELDS:
            if isinstance(delta.get(name), str) and delta[name]:
                rule = self._feed(index, st, (index, name), delta, delta, name)
                if rule:
                    return rule
        calls = delta.get("tool_calls")
        for position, call in enumerate(calls if isinstance(calls, list) else ()):
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict):
                continue
            rule = self._whole_name(fn)
            if rule is None and isinstance(fn.get("arguments"), str) and fn["arguments"]:
                key = (index, "tool", call.get("index", position))
                rule = self._feed(index, st, key, delta, fn, "arguments")
            if rule:
                return rule
        fn = delta.get("function_call")
        if isinstance(fn, dict):
            rule = self._whole_name(fn)
            if rule is None and isinstance(fn.get("arguments"), str) and fn["arguments"]:
                rule = self._feed(index, st, (index, "function_call"), delta, fn, "arguments")
            return rule
        return None

    def _whole_name(self, fn: dict[str, Any]) -> str | None:
        name = fn.get("name")
        if isinstance(name, str) and name:
            step = self.guard.apply_full(name)
            fn["name"] = step.text
            return step.blocked_rule
        return None

    def _feed(self, index: int, st: _Choice, key: Hashable, delta: dict[str, Any], holder: dict[str, Any],
              field_name: str) -> str | None:
        """Feed `holder[field_name]` to stream `key`; a new stream first finishes the open ones
        (a model writes its fields one after the other), their tails going into `delta`."""
        text = holder[field_name]
        holder[field_name] = ""
        if key not in st.open:
            rule = self._finish_streams(index, st, delta, len(st.open))
            if rule:
                return rule
            if key in st.segments:  # finished before: the guard ended that stream, start another
                number, before = st.segments[key]
                st.segments[key] = (number + 1, before + self.guard.released(_segment(key, number)))
            else:
                st.segments[key] = (0, 0)
            st.open.append(key)
        step = self.guard.feed(_segment(key, st.segments[key][0]), text)
        holder[field_name] = (holder.get(field_name) or "") + step.text
        self._note(index, st, key, step)
        return step.blocked_rule

    def _finish_streams(self, index: int, st: _Choice, delta: dict[str, Any], upto: int) -> str | None:
        """Finish the first `upto` open streams of a choice; their tails go into `delta`."""
        for key in st.open[:upto]:
            step = self.guard.finish(_segment(key, st.segments[key][0]))
            self._note(index, st, key, step)
            if step.text:
                _append(delta, key, step.text, self.chat)
            if step.blocked_rule:
                return step.blocked_rule
        del st.open[:upto]
        return None

    def _note(self, index: int, st: _Choice, key: Hashable, step: GuardDelta) -> None:
        name = key[1] if isinstance(key, tuple) and len(key) == 2 else None
        if name in LOGPROB_FIELDS and step.changed:
            before = st.segments[key][1]
            st.logprobs.setdefault(name, _Logprobs()).changed.extend(
                (a + before, b + before) for a, b in step.changed)

    def _released(self, st: _Choice, key: Hashable) -> int:
        """Characters of a field released so far, over all its segments."""
        number, before = st.segments.get(key, (0, 0))
        return before + self.guard.released(_segment(key, number))

    def _stream_logprobs(self, index: int, st: _Choice, choice: dict[str, Any]) -> None:
        logprobs = choice.get("logprobs")
        if not isinstance(logprobs, dict):
            if not any(lp.pending for lp in st.logprobs.values()):
                return
            # entries held with their text go out with it (here, when the text was released)
            logprobs = choice["logprobs"] = {"content": []} if self.chat else dict.fromkeys(COMPLETION_KEYS)
        if self.chat:
            for name in LOGPROB_FIELDS:
                entries = logprobs.get(name)
                if isinstance(entries, list):
                    lp = st.logprobs.setdefault(name, _Logprobs())
                    lp.add(entries, _chat_token)
                    logprobs[name] = lp.release(self._released(st, (index, name)))
        else:
            lp = st.logprobs.setdefault("content", _Logprobs())
            _completion_logprobs(logprobs, lp, self._released(st, (index, "content")))

    def flush(self) -> list[tuple[int, dict[str, Any]]]:
        """At the end of a stream without `finish_reason`: (choice index, fields) of the scanned
        held-back text of every open stream; a blocking rule is reported as `{"blocked": id}`, the
        choice's released logprobs as `{"logprobs": ...}`."""
        out: list[tuple[int, dict[str, Any]]] = []
        for index, st in self._choices.items():
            if st.blocked is not None or not st.open:
                continue
            delta: dict[str, Any] = {}
            rule = self._finish_streams(index, st, delta, len(st.open))
            if rule:
                delta["blocked"] = rule
                st.blocked = rule
            holder: dict[str, Any] = {}
            self._stream_logprobs(index, st, holder)
            if holder.get("logprobs"):
                delta["logprobs"] = holder["logprobs"]
            if delta:
                out.append((index, delta))
        return out


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _segment(key: Hashable, number: int) -> Hashable:
    """The guard's stream for segment `number` of a field."""
    return key if number == 0 else (key, number)


def _append(delta: dict[str, Any], key: Hashable, text: str, chat: bool) -> None:
    """Add released text of stream `key` to a chat delta (or a completions choice)."""
    kind = key[1] if isinstance(key, tuple) else "content"
    if kind == "tool":
        calls = delta.setdefault("tool_calls", [])
        for call in calls:
            if isinstance(call, dict) and call.get("index") == key[2]:
                fn = call.setdefault("function", {})
                fn["arguments"] = (fn.get("arguments") or "") + text
                return
        calls.append({"index": key[2], "function": {"arguments": text}})
    elif kind == "function_call":
        fn = delta.setdefault("function_call", {})
        fn["arguments"] = (fn.get("arguments") or "") + text
    else:
        name = kind if chat else "text"
        delta[name] = (delta.get(name) or "") + text


def _completion_logprobs(logprobs: dict[str, Any], lp: _Logprobs, upto: int | None) -> None:
    """Completions logprobs are parallel lists (tokens, token_logprobs, top_logprobs, text_offset)."""
    lp.add(_completion_entries(logprobs), lambda e: e[0] if isinstance(e[0], str) else "")
    _set_completion_entries(logprobs, lp.release(lp.fed if upto is None else upto))


def _completion_entries(logprobs: dict[str, Any]) -> list[tuple[Any, ...]]:
    tokens = logprobs.get("tokens") or []
    cols = [logprobs.get(k) or [] for k in COMPLETION_KEYS[1:]]
    return [(t, *(c[i] if i < len(c) else None for c in cols)) for i, t in enumerate(tokens)]


def _set_completion_entries(logprobs: dict[str, Any], entries: list[tuple[Any, ...]]) -> None:
    for j, key in enumerate(COMPLETION_KEYS):
        if key in logprobs:
            logprobs[key] = [e[j] for e in entries]
