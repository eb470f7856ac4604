"""Keep Python's full garbage collections short while a GPU engine runs.

A collection of the oldest generation walks every tracked object in the process. With torch, Triton and
transformers imported that is over a million objects: ~0.11-0.13 s on an H200 host (`gpu/step_phases.py`,
session 12: one such collection fell inside 3 of 4 qwen3-0.6b timed runs of ~5.3 s). The step loop keeps
one step in flight, so the GPU idles for the whole pause (~2 % of such a run).

Before a CUDA engine builds its model, `hold` collects once and freezes what survives (`gc.freeze`, as
vLLM's engine core does after start-up): the imports' objects, never garbage, leave the collector's walk.
The engine's own objects are made after the freeze and stay collectable, so an engine dropped without
shutdown still frees its reference cycles (and the device memory they hold). `release` (the engine's
shutdown) unfreezes, so anything frozen with the hold (a model loaded before the engine, as benchmarks
do) can be collected once it is dropped. One hold at a time per process; `TEECUBE_GC_FREEZE=0` turns it
off. CPU engines do not hold: nothing runs while the host collects either way.
"""

from __future__ import annotations

import gc
import os
import threading

FREEZE = os.environ.get("TEECUBE_GC_FREEZE", "1") != "0"

_lock = threading.Lock()
_holder: object | None = None


def hold(owner: object) -> bool:
    """Collect, then freeze the survivors for `owner` (an engine); False where another owner holds the
    freeze or it is switched off."""
    global _holder
    if not FREEZE:
        return False
    with _lock:
        if _holder is not None:
            return False
        gc.collect()
        gc.freeze()
        _holder = owner
        return True


def release(owner: object) -> None:
    """Unfreeze if `owner` holds the freeze (idempotent)."""
    global _holder
    with _lock:
        if _holder is owner:
            gc.unfreeze()
            _holder = None
