"""Llama 3.x JSON tool calls: the output is `{"name": ..., "parameters": {...}}` (optionally after
`<|python_tag|>`), several separated by `;`. Output that does not start with `{` is plain content."""

from __future__ import annotations

from engine.tool_parsers.base import Parsed, ToolParser, call_from_object
from engine.tool_parsers.json_scan import Malformed, skip_ws

PYTHON_TAG = "<|python_tag|>"


class Llama3JsonToolParser(ToolParser):
    name = "llama3_json"

    def parse(self, text: str, final: bool) -> Parsed:
        if not final and PYTHON_TAG.startswith(text.lstrip()):
            return Parsed("")
        body = text.removeprefix(PYTHON_TAG) if text.startswith(PYTHON_TAG) else text
        offset = len(text) - len(body)
        i = skip_ws(text, offset)
        if i >= len(text):
            return Parsed(text if final else "")
        if text[i] != "{":
            return Parsed(text)
        parsed = Parsed("")
        try:
            while True:
                call, end = call_from_object(text, i)
                if call.name is not None:
                    parsed.calls.append(call)
                if end is None:
                    break
                i = skip_ws(text, end)
                if i < len(text) and text[i] == ";":
                    i = skip_ws(text, i + 1)
                if i >= len(text) or text[i] != "{":
                    break
        except Malformed:
            if not final and not parsed.calls:
                return Parsed("")  # undecided until the output ends: hold it back
            if not final:
                raise
            return Parsed(text)
        if final and (not parsed.calls or not parsed.calls[-1].complete):
            return Parsed(text)
        return parsed
