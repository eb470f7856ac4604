"""Tool-call parsers by vLLM's --tool-call-parser names."""

from __future__ import annotations

from engine.tool_parsers.base import FirstCallOnly, ToolCallStream, ToolParser
from engine.tool_parsers.hermes import HermesToolParser
from engine.tool_parsers.json_array import JsonArrayToolParser, MistralToolParser, NamedToolParser
from engine.tool_parsers.llama3_json import Llama3JsonToolParser

PARSERS: dict[str, type[ToolParser]] = {
    "hermes": HermesToolParser,
    "qwen": HermesToolParser,
    "qwen2_5": HermesToolParser,
    "qwen3": HermesToolParser,
    "llama3_json": Llama3JsonToolParser,
    "llama4_json": Llama3JsonToolParser,
    "mistral": MistralToolParser,
}


def get_tool_parser(name: str) -> ToolParser:
    try:
        return PARSERS[name]()
    except KeyError:
        raise ValueError(f"unknown tool call parser {name!r}; known: {', '.join(sorted(PARSERS))}") from None


__all__ = [
    "PARSERS",
    "FirstCallOnly",
    "JsonArrayToolParser",
    "NamedToolParser",
    "ToolCallStream",
    "ToolParser",
    "get_tool_parser",
]
