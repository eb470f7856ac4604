"""The console's attestation verdict, reused for a while: each appraisal asks this proxy for fresh
evidence (on hardware: an SNP/TDX report and the GPU's, seconds with NVIDIA's) and verifies it, and any
signed-in tenant can load the page. Views within TTL_S of an appraisal show it (with its age);
concurrent views share the one in flight."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

TTL_S = 30.0


class VerdictCache:
    def __init__(self, ttl_s: float = TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = asyncio.Lock()
        self._entry: tuple[Hashable, float, dict[str, Any]] | None = None

    async def get(
        self, key: Hashable, appraise: Callable[[], Awaitable[dict[str, Any]]]
    ) -> tuple[dict[str, Any], float]:
        """(the verdict for `key`, its age in seconds): the cached one while younger than ttl_s, else
        a new appraisal (one at a time; waiting views then take its result)."""
        async with self._lock:
            now = self.clock()
            if self._entry is not None and self._entry[0] == key and now - self._entry[1] < self.ttl_s:
                return self._entry[2], now - self._entry[1]
            result = await appraise()
            self._entry = (key, self.clock(), result)
            return result, 0.0
