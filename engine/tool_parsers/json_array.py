"""A JSON array of calls after a marker: Mistral's `[TOOL_CALLS][{"name": ..., "arguments": {...}}]`
(also its newer `[TOOL_CALLS]name[ARGS]{...}`), and with no marker the output that `tool_choice:
required` is constrained to."""

from __future__ import annotations

import json

from engine.tool_parsers.base import Parsed, PartialCall, ToolParser, call_from_object
from engine.tool_parsers.json_scan import Malformed, held_back, skip_ws, value_end

MISTRAL_MARKER = "[TOOL_CALLS]"
MISTRAL_ARGS = "[ARGS]"


class JsonArrayToolParser(ToolParser):
    name = "json_array"

    def __init__(self, marker: str = "") -> None:
        self.marker = marker
        self.constrained = not marker  # tool_choice required: the grammar's array is the output

    def parse(self, text: str, final: bool) -> Parsed:
        if self.marker:
            first = text.find(self.marker)
            if first < 0:
                return Parsed(text if final else text[: len(text) - held_back(text, self.marker)])
            content, start = text[:first], first + len(self.marker)
        else:
            content, start = "", 0
        try:
            parsed = Parsed(content, self._calls(text, skip_ws(text, start)))
        except Malformed:
            if not final:
                raise
            return Parsed(text)
        if final and (not parsed.calls or not parsed.calls[-1].complete):
            return Parsed(text)
        return parsed

    def _calls(self, text: str, i: int) -> list[PartialCall]:
        if i >= len(text):
            return []
        if text[i] != "[":
            return self._named(text, i)
        calls: list[PartialCall] = []
        i = skip_ws(text, i + 1)
        while i < len(text) and text[i] != "]":
            call, end = call_from_object(text, i)
            if call.name is not None:
                calls.append(call)
            if end is None:
                break
            i = skip_ws(text, end)
            if i < len(text) and text[i] == ",":
                i = skip_ws(text, i + 1)
        return calls

    def _named(self, text: str, i: int) -> list[PartialCall]:
        """Mistral v11: name[ARGS]{...}, repeated after further markers."""
        calls: list[PartialCall] = []
        while i < len(text):
            sep = text.find(MISTRAL_ARGS, i)
            if sep < 0:
                return calls
            name = text[i:sep].strip()
            if not name or not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
                raise Malformed("not a function name")
            start = sep + len(MISTRAL_ARGS)
            end = value_end(text, start) if start < len(text) else None
            if end is None:
                calls.append(PartialCall(name, text[start:]))
                return calls
            json.loads(text[start:end])
            calls.append(PartialCall(name, text[start:end], complete=True))
            i = skip_ws(text, end)
            if text.startswith(self.marker, i):
                i = skip_ws(text, i + len(self.marker))
            elif i < len(text):
                raise Malformed("text after a call")
        return calls


class MistralToolParser(JsonArrayToolParser):
    name = "mistral"
    skip_special_tokens = False

    def __init__(self) -> None:
        super().__init__(MISTRAL_MARKER)


class NamedToolParser(ToolParser):
    """`tool_choice` naming one function: the output is that function's arguments and nothing else."""

    name = "named"
    constrained = True

    def __init__(self, function: str) -> None:
        self.function = function

    def parse(self, text: str, final: bool) -> Parsed:
        return Parsed("", [PartialCall(self.function, text, complete=final)])
