"""Tool-call parsing: a parser reads a model's whole output so far into content and calls; the same
parse serves a whole response and, re-run on each delta, a stream (ToolCallStream diffs the parses
into OpenAI-shaped `tool_calls` deltas)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from engine.tool_parsers.json_scan import Malformed, ObjectScan, scan_object

ARGUMENT_KEYS = ("arguments", "parameters")


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


@dataclass(slots=True)
class PartialCall:
    name: str | None  # None until the name is complete
    arguments: str  # raw JSON text so far (a prefix of the final arguments)
    complete: bool = False


@dataclass(slots=True)
class Parsed:
    content: str  # text outside tool calls that is safe to show (a prefix of the final content)
    calls: list[PartialCall] = field(default_factory=list)


def call_from_object(text: str, start: int, name: str | None = None) -> tuple[PartialCall, int | None]:
    """A {"name": ..., "arguments"|"parameters": {...}} object at text[start]; returns the call and the
    index after the object (None while it grows)."""
    scan: ObjectScan = scan_object(text, start)
    if name is None and "name" in scan.values:
        s, e = scan.values["name"]
        if e is not None:
            value = json.loads(text[s:e])
            if not isinstance(value, str):
                raise Malformed("name is not a string")
            name = value
    args = ""
    for key in ARGUMENT_KEYS:
        if key in scan.values:
            s, e = scan.values[key]
            args = text[s:e] if e is not None else text[s:]
            break
    complete = scan.end is not None
    if complete:
        if name is None:
            raise Malformed("a call without a name")
        args = args or "{}"
    return PartialCall(name, args, complete), scan.end


class ToolParser:
    """Subclasses implement parse(text, final). final: the output is complete, so anything not parsed
    as a call is content (a malformed call becomes plain content, as vLLM does)."""

    name = ""
    skip_special_tokens = True  # False when the call marker is a special token (Mistral)
    constrained = False  # True: a grammar makes the whole output the call(s), so it holds no reasoning

    def parse(self, text: str, final: bool) -> Parsed:
        raise NotImplementedError

    def extract(self, text: str) -> tuple[str | None, list[dict[str, Any]]]:
        """A whole response: (content or None, OpenAI tool_calls)."""
        parsed = self.parse(text, final=True)
        calls = [
            {"id": new_call_id(), "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in parsed.calls
        ]
        content = parsed.content if parsed.content.strip() or not calls else None
        return content, calls


class FirstCallOnly(ToolParser):
    """parallel_tool_calls false with tool_choice auto: at most the first call, as OpenAI promises
    (vLLM's maybe_filter_parallel_tool_calls); the parser's own grammar-free reading otherwise."""

    def __init__(self, inner: ToolParser) -> None:
        self.inner = inner
        self.name = inner.name
        self.skip_special_tokens = inner.skip_special_tokens
        self.constrained = inner.constrained

    def parse(self, text: str, final: bool) -> Parsed:
        parsed = self.inner.parse(text, final)
        del parsed.calls[1:]
        return parsed


class ToolCallStream:
    """Diffs successive parses of a growing output into content and `tool_calls` deltas."""

    def __init__(self, parser: ToolParser) -> None:
        self.parser = parser
        self.text = ""
        self.content_sent = 0
        self.ids: list[str] = []
        self.args_sent: list[int] = []

    @property
    def has_calls(self) -> bool:
        return bool(self.ids)

    def feed(self, delta: str, final: bool = False) -> tuple[str, list[dict[str, Any]]]:
        """New content text and tool_calls delta entries for this delta."""
        self.text += delta
        try:
            parsed = self.parser.parse(self.text, final)
        except Malformed:  # at the end, unparsable text is content, unless calls already went out
            parsed = Parsed(self.text if final and not self.ids else self.text[: self.content_sent])
        if len(parsed.calls) < len(self.ids):  # a streamed call cut short (max_tokens): the final parse
            parsed = Parsed(self.text[: self.content_sent])  # reads it as text; it went out as a call
        content = parsed.content[self.content_sent :] if len(parsed.content) > self.content_sent else ""
        self.content_sent += len(content)
        deltas: list[dict[str, Any]] = []
        for i, call in enumerate(parsed.calls):
            if i == len(self.ids):
                if call.name is None:
                    break
                self.ids.append(new_call_id())
                self.args_sent.append(0)
                function = {"name": call.name, "arguments": ""}
                deltas.append({"index": i, "id": self.ids[i], "type": "function", "function": function})
            fresh = call.arguments[self.args_sent[i] :]
            if fresh:
                self.args_sent[i] += len(fresh)
                deltas.append({"index": i, "function": {"arguments": fresh}})
        return content, deltas
