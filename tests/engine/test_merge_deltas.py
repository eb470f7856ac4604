"""A consumer that falls behind gets one delta per backlog: text, ids and logprobs joined per index."""

from __future__ import annotations

from engine.async_engine import merge_deltas
from engine.outputs import CompletionOutput, RequestMetrics, RequestOutput


def _delta(outputs: list[CompletionOutput], finished: bool = False) -> RequestOutput:
    return RequestOutput("r", [1, 2], outputs, finished, 0, RequestMetrics(0.0))


def test_merge_joins_each_index_and_keeps_the_latest_finish() -> None:
    first = _delta(
        [CompletionOutput(0, "Hel", [5], [{"a": 1}], None), CompletionOutput(1, "x", [9], None, None)]
    )
    then = _delta([CompletionOutput(0, "lo", [6], [{"b": 2}], "stop", "lo")], finished=True)
    merged = merge_deltas(first, then)
    assert merged.finished
    zero, one = merged.outputs
    assert (zero.text, zero.token_ids, zero.logprobs) == ("Hello", [5, 6], [{"a": 1}, {"b": 2}])
    assert (zero.finish_reason, zero.stop_reason) == ("stop", "lo")
    assert (one.index, one.text, one.token_ids, one.logprobs) == (1, "x", [9], None)


def test_merge_adds_an_index_first_seen_later() -> None:
    merged = merge_deltas(_delta([CompletionOutput(0, "a", [1], None, None)]),
                          _delta([CompletionOutput(2, "b", [2], None, "length")]))
    got = [(c.index, c.text, c.finish_reason) for c in merged.outputs]
    assert got == [(0, "a", None), (2, "b", "length")]
