"""The labelled corpus: size, provenance, and the quality targets for the structured scanners."""

from __future__ import annotations

import json
from collections import Counter

from proxy.guardrails.bench import (
    CORPUS,
    CORPUS_EXTRAS,
    STRUCTURED,
    bench_policy,
    load_corpus,
    load_tuned,
    quality,
)


def test_corpus_is_large_and_balanced() -> None:
    items = load_corpus()
    assert len(items) >= 300
    assert len({item["id"] for item in items}) == len(items)
    groups = Counter(g for item in items for g in item["expect"])
    negatives = sum(1 for item in items if not item["expect"])
    assert negatives >= 150 and all(groups[g] >= 25 for g in STRUCTURED)
    assert all(json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines())


def test_structured_scanners_meet_targets() -> None:
    scores = quality(bench_policy(), load_tuned())
    for group in STRUCTURED:
        assert scores[group]["precision"] >= 0.95, (group, scores[group])
        assert scores[group]["recall"] >= 0.95, (group, scores[group])
    assert scores["injection"]["recall"] >= 0.9 and scores["injection"]["precision"] >= 0.9


def test_later_corpus_files_are_well_formed_and_distinct() -> None:
    items = load_tuned()
    assert len({item["id"] for item in items}) == len(items)
    for extra in CORPUS_EXTRAS:
        for item in load_corpus(extra):
            assert set(item) >= {"id", "text", "expect", "note"} and isinstance(item["expect"], list)
