"""Hermes / Qwen: `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`, one block per call."""

from __future__ import annotations

from engine.tool_parsers.base import Parsed, ToolParser, call_from_object
from engine.tool_parsers.json_scan import Malformed, held_back, skip_ws

START, END = "<tool_call>", "</tool_call>"


class HermesToolParser(ToolParser):
    name = "hermes"

    def parse(self, text: str, final: bool) -> Parsed:
        first = text.find(START)
        if first < 0:
            return Parsed(text if final else text[: len(text) - held_back(text, START)])
        parsed = Parsed(text[:first])
        i = first
        try:
            while i >= 0:
                start = skip_ws(text, i + len(START))
                if start >= len(text):
                    break
                call, end = call_from_object(text, start)
                if call.name is not None:
                    parsed.calls.append(call)
                if end is None:
                    break
                i = text.find(START, end)
        except Malformed:
            if not final:
                raise
            return Parsed(text)
        if final and (not parsed.calls or not parsed.calls[-1].complete):
            return Parsed(text)  # a call cut short: the whole text is content
        return parsed
