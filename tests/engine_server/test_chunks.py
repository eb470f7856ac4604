"""The byte-built stream chunks equal what the dict path (envelope + choice + SseWriter) writes."""

from __future__ import annotations

import json

import pytest

from engine.server.chunks import ChunkEncoder
from engine.server.responses import choice, envelope
from engine.server.streaming import encode_event

TEXTS = ["", "Hello", ' "quoted"\n\t\\', "naïve — 東京 🙂", "\u2028\x00"]


def _slow(obj: str, key: str, choices: list[dict], include_usage: bool, usage: dict | None) -> bytes:
    body = envelope(obj, 'cmpl-1"x', 1700000000, "m/ödel", choices, None)
    if not include_usage:
        del body["usage"]
    if usage is not None:
        body["usage"] = usage
    return encode_event(body)


@pytest.mark.parametrize("include_usage", [False, True])
@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize(
    "finish", [(None, None), ("stop", None), ("stop", "###"), ("stop", 7), ("length", None)]
)
def test_completion_chunks_match(include_usage: bool, text: str, finish: tuple) -> None:
    enc = ChunkEncoder(
        "text_completion", 'cmpl-1"x', 1700000000, "m/ödel", include_usage=include_usage, key="text"
    )
    for ids in (None, [1, 22, 333]):
        slow_choices = []
        fast_choices = []
        for i in (0, 3):
            body = choice(i, "text", text, None, *finish)
            if ids is not None:
                body["token_ids"] = ids
            slow_choices.append(body)
            fast_choices.append(enc.choice(i, text, *finish, token_ids=ids))
        usages = (
            [None, {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}]
            if include_usage
            else [None]
        )
        for usage in usages:
            fast = enc.event(fast_choices, usage)
            assert fast == _slow("text_completion", "text", slow_choices, include_usage, usage)
            json.loads(fast[len(b"data: ") :])


@pytest.mark.parametrize("include_usage", [False, True])
@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("finish", [(None, None), ("stop", None), ("length", None), ("stop", "</s>")])
def test_chat_chunks_match(include_usage: bool, text: str, finish: tuple) -> None:
    enc = ChunkEncoder(
        "chat.completion.chunk", 'cmpl-1"x', 1700000000, "m/ödel", include_usage=include_usage, key="delta"
    )
    reason = finish[0]
    # as chat_stream: an empty final delta is {}
    delta = {"content": text} if text or reason is None else {}
    slow = _slow(
        "chat.completion.chunk", "delta", [choice(0, "delta", delta, None, *finish)], include_usage, None
    )
    fast = enc.event([enc.choice(0, text if text or reason is None else None, *finish)])
    assert fast == slow


def test_observe_many_equals_observe() -> None:
    from prometheus_client import CollectorRegistry, Histogram

    from engine.metrics import observe_many

    values = [0.0, 0.001, 0.01, 0.0099999, 0.02, 0.5, 3.0, 1e9, 0.025]
    out = []
    for bulk in (False, True):
        registry = CollectorRegistry()
        h = Histogram("x", "x", ["m"], buckets=(0.01, 0.025, 0.05, 1.0), registry=registry).labels("a")
        if bulk:
            observe_many(h, values)
        else:
            for v in values:
                h.observe(v)
        samples = [s for m in registry.collect() for s in m.samples if not s.name.endswith("_created")]
        out.append([(s.name, s.labels, s.value) for s in samples])
    assert out[0] == out[1]
