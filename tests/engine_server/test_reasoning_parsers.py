"""engine/reasoning: <think>…</think> split off, whole and streamed in every chunking alike."""

from __future__ import annotations

import random

import pytest

from engine.reasoning import ReasoningStream, get_reasoning_parser

CASES = [
    ("qwen3", "<think>\nLet me think: 2+2.\n</think>\n\nIt is 4.", "\nLet me think: 2+2.\n", "It is 4."),
    ("qwen3", "It is 4.", None, "It is 4."),
    ("qwen3", "<think>cut off mid-thou", "cut off mid-thou", None),
    ("qwen3", "<thinking is a word> here", None, "<thinking is a word> here"),
    (
        "deepseek_r1",
        "Reasoning with < and </thi in it.</think>Answer.",
        "Reasoning with < and </thi in it.",
        "Answer.",
    ),
    ("deepseek_r1", "<think>R</think>A", "R", "A"),
    ("deepseek_r1", "never closed", "never closed", None),
]


@pytest.mark.parametrize(("name", "text", "reasoning", "content"), CASES)
def test_whole_and_streamed(name, text, reasoning, content) -> None:
    assert get_reasoning_parser(name).extract(text) == (reasoning, content)
    rng = random.Random(3)
    chunkings = [[text], [*text, ""]]
    for _ in range(5):
        cuts = sorted(rng.sample(range(1, len(text)), 4))
        chunkings.append([text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)])
    for chunks in chunkings:
        stream = ReasoningStream(get_reasoning_parser(name))
        got_r = got_c = ""
        for i, chunk in enumerate(chunks):
            r, c = stream.feed(chunk, final=i == len(chunks) - 1)
            got_r, got_c = got_r + r, got_c + c
        assert (got_r or None, got_c or None) == (reasoning, content), chunks


def test_reasoning_streams_before_it_closes() -> None:
    stream = ReasoningStream(get_reasoning_parser("qwen3"))
    assert stream.feed("<thi") == ("", "")
    assert stream.feed("nk>abc</th") == ("abc", "")
    assert stream.feed("ink>\n\nxyz") == ("", "xyz")


def test_unknown_parser() -> None:
    with pytest.raises(ValueError, match="granite"):
        get_reasoning_parser("granite")
