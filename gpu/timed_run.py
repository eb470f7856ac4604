"""Hooks for the gpu/ probes that watch a `teecube bench throughput` timed run (busy_watch.py,
step_phases.py): `watch(start, stop)` calls start(llm) when the warm-up ends and stop(what start
returned) when the timed run ends (throughput.run_engine does both), filing stop's summary in the report
as run1, run2, ... (one per model timed); `run_bench(report)` runs the bench with the command line's
arguments and prints the report as the last line of stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import engine.bench.shape_run as shape_run
import engine.bench.throughput as throughput
from teecube.bench import main


def watch(start: Callable[[Any], Any], stop: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    warm, run = throughput.warm_up, throughput.run_engine
    state: dict[str, Any] = {}

    def warm_up(llm: Any, *args: Any, **kwargs: Any) -> None:
        warm(llm, *args, **kwargs)
        state["token"] = start(llm)

    def run_engine(*args: Any, **kwargs: Any) -> Any:
        try:
            return run(*args, **kwargs)
        finally:
            if "token" in state:
                report[f"run{len(report) + 1}"] = stop(state.pop("token"))

    throughput.warm_up = warm_up
    throughput.run_engine = run_engine
    shape_run.run_engine = run_engine  # imported by name there
    return report


def run_bench(report: dict[str, Any]) -> NoReturn:
    try:
        code = main(sys.argv[1:])
    finally:
        print(json.dumps(report), file=sys.stderr, flush=True)
    sys.exit(code)
