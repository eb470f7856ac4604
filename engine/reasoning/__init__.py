"""Reasoning parsers (--reasoning-parser): split `<think>…</think>` off the answer.

deepseek_r1: the template opens `<think>` in the prompt, so the output is reasoning up to `</think>`
(all of it when `</think>` never comes). qwen3: reasoning only after the model writes `<think>`
(enable_thinking=False renders an empty think block in the prompt, so the output is all content).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.tool_parsers.json_scan import held_back

START, END = "<think>", "</think>"


@dataclass(slots=True)
class Split:
    reasoning: str
    content: str


class ReasoningParser:
    name = "deepseek_r1"
    starts_in_reasoning = True  # the prompt already opened <think>

    def split(self, text: str, final: bool) -> Split:
        """The output so far → (reasoning, content), each a prefix of its final value."""
        stripped = text.lstrip()
        if stripped.startswith(START):
            body = stripped[len(START) :]
        elif not final and stripped and START.startswith(stripped):
            return Split("", "")  # maybe <think> is coming
        elif self.starts_in_reasoning:
            body = text
        else:
            return Split("", text)
        end = body.find(END)
        if end < 0:
            return Split(body if final else body[: len(body) - held_back(body, END)], "")
        return Split(body[:end], body[end + len(END) :].lstrip("\n"))

    def extract(self, text: str) -> tuple[str | None, str | None]:
        """A whole output: (reasoning_content, content); None where empty."""
        s = self.split(text, final=True)
        return (s.reasoning or None), (s.content or None)


class Qwen3ReasoningParser(ReasoningParser):
    name = "qwen3"
    starts_in_reasoning = False


class ReasoningStream:
    """Diffs successive splits of a growing output into reasoning_content and content deltas."""

    def __init__(self, parser: ReasoningParser) -> None:
        self.parser = parser
        self.text = ""
        self.sent_reasoning = 0
        self.sent_content = 0

    def feed(self, delta: str, final: bool = False) -> tuple[str, str]:
        self.text += delta
        s = self.parser.split(self.text, final)
        reasoning = s.reasoning[self.sent_reasoning :]
        content = s.content[self.sent_content :]
        self.sent_reasoning += len(reasoning)
        self.sent_content += len(content)
        return reasoning, content


PARSERS: dict[str, type[ReasoningParser]] = {
    "deepseek_r1": ReasoningParser,
    "qwen3": Qwen3ReasoningParser,
}


def get_reasoning_parser(name: str) -> ReasoningParser:
    try:
        return PARSERS[name]()
    except KeyError:
        raise ValueError(f"unknown reasoning parser {name!r}; known: {', '.join(sorted(PARSERS))}") from None
