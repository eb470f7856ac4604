"""Entity classes added after heldout_v7: streamed output equals the whole-text result at every
split offset, and the classes find (or leave alone) what the corpus items say."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from proxy.guardrails import OutputGuard
from proxy.guardrails.bench import bench_policy, detected_groups

sys.path.insert(0, str(Path(__file__).parents[1] / "data" / "guardrails"))
from corpus_session5_v7_entities import GROUPS

ITEMS = [(text, expect) for _, expect, texts in GROUPS for text in texts]


@pytest.fixture(scope="module")
def mask_policy():
    return bench_policy("mask")


@pytest.mark.parametrize(("text", "expect"), ITEMS, ids=[t[:24] for t, _ in ITEMS])
def test_v7_entity_items_stream_like_whole_texts(mask_policy, text: str, expect: list[str]) -> None:
    assert detected_groups(mask_policy, text) - {"injection"} == set(expect)
    whole = OutputGuard(mask_policy).apply_full(text)
    for cut in range(1, len(text)):
        guard = OutputGuard(mask_policy)
        out = guard.feed(0, text[:cut]).text
        assert whole.text.startswith(out)
        out += guard.feed(0, text[cut:]).text + guard.finish(0).text
        assert out == whole.text, cut
        assert guard.rule_ids == whole.rule_ids


def test_a_byte_order_mark_counts_only_when_it_does_not_start_the_text(mask_policy) -> None:
    assert detected_groups(mask_policy, "\ufeffa,b\n1,2") == set()
    assert detected_groups(mask_policy, "a,b\n\ufeff1,2") == {"invisible"}
    assert detected_groups(mask_policy, "\ufeff\ufeffa,b") == {"invisible"}
