"""The garbage collector's pauses inside a timed window, for a benchmark's JSON: a full collection is
~0.1 s with torch imported, the GPU idle meanwhile (engine/gc_heap.py), so a run reports its own."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def gc_pauses() -> Iterator[dict[str, Any]]:
    """Yields a dict that holds, once the block exits, `collections` per generation [0, 1, 2],
    `pause_s` (their total wall time) and `frozen` (objects the collector skips: gc.freeze)."""
    report: dict[str, Any] = {"collections": [0, 0, 0], "pause_s": 0.0, "frozen": gc.get_freeze_count()}
    started: list[float] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            report["pause_s"] += time.perf_counter() - started.pop()
            report["collections"][info["generation"]] += 1

    gc.callbacks.append(on_gc)
    try:
        yield report
    finally:
        gc.callbacks.remove(on_gc)
        report["pause_s"] = round(report["pause_s"], 4)
