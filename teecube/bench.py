"""`teecube bench <kind>`: every benchmark prints one JSON object."""

from __future__ import annotations

import importlib
import sys

BENCHES: dict[str, tuple[str, str]] = {
    "throughput": ("engine.bench.throughput", "main"),
    "serve": ("engine.bench.serve", "main"),
    "structured": ("engine.bench.structured", "main"),
    "proxy": ("proxy.bench", "main"),
    "guardrails": ("proxy.guardrails.bench", "main"),
    "holdback": ("proxy.guardrails.holdback_bench", "main"),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in BENCHES:
        print(f"usage: teecube bench {{{'|'.join(BENCHES)}}} [options]", file=sys.stderr)
        return 2
    module_name, func_name = BENCHES[argv[0]]
    return int(getattr(importlib.import_module(module_name), func_name)(argv[1:]) or 0)
