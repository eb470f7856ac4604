"""Which Triton kernels a `teecube bench ...` run first launches (compiles, or loads from Triton's disk
cache) after its warm-up, i.e. on the clock: run from the repo root with the bench's arguments,
    PYTHONPATH=$PWD python3 gpu/compile_watch.py throughput --shape llama3-8b --random-weights --skip-hf
The bench's JSON goes to stdout as usual; stderr ends with one JSON line: per phase (init, warm_up, timed)
the kernels first launched there, with seconds spent in compile-or-load."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import triton

import engine.bench.shape_run as shape_run
import engine.bench.throughput as throughput
from teecube.bench import main

PHASE = ["init"]
EVENTS: list[dict[str, Any]] = []
_started: dict[Any, float] = {}


def _pre(*args: Any, **kwargs: Any) -> None:  # jit_cache_hook: a truthy return would skip the compile
    _started[repr(kwargs.get("key"))] = time.perf_counter()
    return None


def _post(*args: Any, **kwargs: Any) -> None:
    start = _started.pop(repr(kwargs.get("key")), None)
    name = str(kwargs.get("repr", "?"))
    key = kwargs.get("key")
    EVENTS.append({
        "phase": PHASE[0],
        "kernel": name.split("[", 1)[0],
        "specialization": repr(key)[:600] if key is not None else name[:400],
        "seconds": round(time.perf_counter() - start, 3) if start is not None else None,
    })


def _watch_phases() -> None:
    """warm_up, then timed until run_engine returns; anything else (model loads, graph capture of the
    next model in the process) is "init"."""
    warm, run = throughput.warm_up, throughput.run_engine

    def warm_up(*args: Any, **kwargs: Any) -> None:
        PHASE[0] = "warm_up"
        warm(*args, **kwargs)
        PHASE[0] = "timed"

    def run_engine(*args: Any, **kwargs: Any) -> Any:
        try:
            return run(*args, **kwargs)
        finally:
            PHASE[0] = "init"

    throughput.warm_up = warm_up
    throughput.run_engine = run_engine
    shape_run.run_engine = run_engine  # imported by name there


if __name__ == "__main__":
    triton.knobs.runtime.jit_cache_hook = _pre
    triton.knobs.runtime.jit_post_compile_hook = _post
    _watch_phases()
    code = main(sys.argv[1:])
    summary: dict[str, Any] = {}
    for phase in ("init", "warm_up", "timed"):
        rows = [e for e in EVENTS if e["phase"] == phase]
        summary[phase] = {"count": len(rows), "seconds": round(sum(e["seconds"] or 0 for e in rows), 3)}
    summary["timed_kernels"] = [e for e in EVENTS if e["phase"] == "timed"]
    print(json.dumps(summary), file=sys.stderr)
    sys.exit(code)
