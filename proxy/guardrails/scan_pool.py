"""Input scans in worker processes.

The scanners are re2 and Python, and re2's binding holds the GIL: on one event loop, requests
that arrive together are scanned one after another, and the last waits for all the others
(256 prompts of ~500 tokens arriving at once queue ~1 s of scanning). Large inputs are scanned
in a pool of processes instead; small ones stay inline, where a scan costs less than the trip.

A worker compiles each policy once (keyed by the caller's `(domain, version)` or "default")
and returns the same `InputResult` the inline scan would: the request body, the vault and the
findings travel only over the pool's pipes, inside this process tree, never to a log.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Hashable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal

from proxy.guardrails.input import InputResult, scan_request
from proxy.guardrails.policy import CompiledPolicy, compile_policy

log = logging.getLogger("teecube.proxy.guardrails")

Route = Literal["chat", "completions", "embeddings"]
# Below this estimate (tokens) a scan takes well under a millisecond: cheaper inline than a trip.
DEFAULT_MIN_TOKENS = 256
_MAX_POLICIES = 256  # compiled policies a worker keeps (one per domain version in use)
_compiled: dict[Hashable, CompiledPolicy] = {}


def default_workers() -> int:
    """Processes for input scans: none on a small machine (the engine needs its cores), then a
    quarter of the cores, at most 8."""
    cores = os.cpu_count() or 1
    return 0 if cores < 8 else min(8, cores // 4)


def _warm(key: Hashable, config: dict[str, Any]) -> int:
    _policy(key, config)
    return os.getpid()


def _compiled_keys() -> list[Hashable]:
    return list(_compiled)


def _policy(key: Hashable, config: dict[str, Any]) -> CompiledPolicy:
    policy = _compiled.get(key)
    if policy is None:
        if len(_compiled) >= _MAX_POLICIES:
            _compiled.clear()
        policy = _compiled[key] = compile_policy(config)
    return policy


def _scan(key: Hashable, config: dict[str, Any], body: dict, route: Route, kind: str | None) -> InputResult:
    return scan_request(_policy(key, config), body, route=route, kind=kind)


class ScanPool:
    """`workers` processes (spawned, so no state of the proxy's is inherited)."""

    def __init__(self, workers: int, *, min_tokens: int = DEFAULT_MIN_TOKENS) -> None:
        if workers < 1:
            raise ValueError("a scan pool needs at least one worker")
        self.workers = workers
        self.min_tokens = min_tokens
        self.scanned = 0  # scans the workers answered
        self._executor: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )

    def wants(self, estimated_tokens: int) -> bool:
        return self._executor is not None and estimated_tokens >= self.min_tokens

    async def warm(self, key: Hashable, config: dict[str, Any]) -> None:
        """Start every worker and compile the default policy there before the first request."""
        if self._executor is None:
            return
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._executor, _warm, key, config)
                               for _ in range(self.workers)))

    async def compiled_keys(self) -> set[Hashable]:
        """Policy keys compiled in the workers that answer `workers` calls (diagnostics and tests)."""
        if self._executor is None:
            return set()
        loop = asyncio.get_running_loop()
        got = await asyncio.gather(*(loop.run_in_executor(self._executor, _compiled_keys)
                                     for _ in range(self.workers)))
        return {key for keys in got for key in keys}

    async def scan(self, policy: CompiledPolicy, key: Hashable, config: dict[str, Any], body: dict, *,
                   route: Route, kind: str | None) -> InputResult:
        """The same result as `scan_request(policy, body, …)`; inline if the pool has broken."""
        if self._executor is not None:
            loop = asyncio.get_running_loop()
            try:
                result = await loop.run_in_executor(self._executor, _scan, key, config, body, route, kind)
                self.scanned += 1
                return result
            except BrokenProcessPool:
                log.error("guardrail scan pool broke; scanning inline from now on")
                self._executor = None
        return scan_request(policy, body, route=route, kind=kind)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
