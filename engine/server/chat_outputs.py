"""What a chat choice's text becomes: content, `reasoning_content` (--reasoning-parser) and
`tool_calls` (a tool parser), for a whole message or as stream deltas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.reasoning import ReasoningParser, ReasoningStream
from engine.tool_parsers import ToolCallStream, ToolParser


@dataclass(slots=True)
class OutputParsers:
    tool: ToolParser | None = None
    reasoning: ReasoningParser | None = None
    calls_finish_reason: str = "tool_calls"  # "stop" when the request named the function (OpenAI)

    def __post_init__(self) -> None:
        if self.tool is not None and self.tool.constrained:
            # the grammar of tool_choice required / named starts at the first token, so the output has
            # no think block; deepseek_r1 would read the whole call as reasoning (no tool_calls left)
            self.reasoning = None

    @property
    def active(self) -> bool:
        return self.tool is not None or self.reasoning is not None

    def message(self, text: str) -> dict[str, Any]:
        """A whole assistant message from the choice's text."""
        message: dict[str, Any] = {"role": "assistant"}
        content: str | None = text
        if self.reasoning is not None:
            message["reasoning_content"], content = self.reasoning.extract(text)
        if self.tool is None:
            message["content"] = content
            return message
        text = content or ""
        content, calls = self.tool.extract(text)
        message["content"] = content
        if calls:
            message["tool_calls"] = calls
        return message

    def finish_reason(self, reason: str | None, has_calls: bool) -> str | None:
        return self.calls_finish_reason if has_calls and reason == "stop" else reason

    def stream(self) -> ChoiceStream:
        return ChoiceStream(self)


class ChoiceStream:
    """One streamed choice: text deltas in, OpenAI delta fields out."""

    def __init__(self, parsers: OutputParsers) -> None:
        self.parsers = parsers
        self.reasoning = ReasoningStream(parsers.reasoning) if parsers.reasoning is not None else None
        self.tools = ToolCallStream(parsers.tool) if parsers.tool is not None else None

    @property
    def has_calls(self) -> bool:
        return self.tools is not None and self.tools.has_calls

    def feed(self, text: str, final: bool) -> dict[str, Any]:
        delta: dict[str, Any] = {}
        content = text
        if self.reasoning is not None:
            reasoning, content = self.reasoning.feed(text, final)
            if reasoning:
                delta["reasoning_content"] = reasoning
        if self.tools is not None:
            content, calls = self.tools.feed(content, final)
            if calls:
                delta["tool_calls"] = calls
        if content:
            delta["content"] = content
        return delta
