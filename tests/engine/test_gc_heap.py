"""engine/gc_heap.py: a CUDA engine freezes the collector's heap before it builds its model, so full
collections skip the imports' objects; the engine's own objects stay collectable; shutdown unfreezes.
engine/bench/gc_pauses.py: the pauses a timed run reports."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from engine import LLM, gc_heap
from engine.bench.gc_pauses import gc_pauses


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


@pytest.fixture
def unfrozen() -> Iterator[None]:
    assert gc.get_freeze_count() == 0
    yield
    gc.unfreeze()
    gc_heap._holder = None


def test_hold_freezes_the_heap_once_and_release_unfreezes(unfrozen: None) -> None:
    first, second = object(), object()
    assert gc_heap.hold(first)
    frozen = gc.get_freeze_count()
    assert frozen > 1000  # at least the imports' objects
    assert not gc_heap.hold(second)  # one holder at a time
    gc_heap.release(second)  # not the holder: still frozen (frozen objects may still die by refcount,
    assert gc.get_freeze_count() > frozen // 2  # so the count is not exact; an unfreeze makes it 0)
    gc_heap.release(first)
    assert gc.get_freeze_count() == 0
    gc_heap.release(first)  # idempotent
    assert gc_heap.hold(second)
    gc_heap.release(second)


def test_objects_made_after_the_hold_stay_collectable(unfrozen: None) -> None:
    owner = object()
    assert gc_heap.hold(owner)
    try:
        node = Node()
        ref = weakref.ref(node)
        del node
        gc.collect()
        assert ref() is None
    finally:
        gc_heap.release(owner)


def test_frozen_cycles_are_freed_after_release(unfrozen: None) -> None:
    node = Node()  # made before the hold: frozen with it (a model loaded before its engine)
    ref = weakref.ref(node)
    owner = object()
    assert gc_heap.hold(owner)
    del node
    gc.collect()
    assert ref() is not None  # frozen: the collector skips it
    gc_heap.release(owner)
    gc.collect()
    assert ref() is None


def test_switched_off_never_freezes(unfrozen: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gc_heap, "FREEZE", False)
    assert not gc_heap.hold(object())
    assert gc.get_freeze_count() == 0


def test_a_cpu_engine_does_not_freeze(unfrozen: None, bundled_model) -> None:
    llm = LLM(str(bundled_model), device="cpu", max_num_seqs=2, num_kv_blocks=16)
    assert gc.get_freeze_count() == 0 and not llm.core._gc_held
    llm.shutdown()


def test_gc_pauses_counts_collections_inside_the_block() -> None:
    with gc_pauses() as report:
        gc.collect()
        gc.collect(0)
    assert report["collections"][2] >= 1 and report["collections"][0] >= 1
    assert report["pause_s"] > 0
    counted = list(report["collections"])
    gc.collect()  # outside: not counted
    assert report["collections"] == counted
    assert all(getattr(cb, "__name__", "") != "on_gc" for cb in gc.callbacks)
