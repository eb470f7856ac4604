"""Repeated authentication failures (or, for /attestation, requests) from one client address are refused
for a while: at most `limit` in any `window` seconds.

In one process the count is exact (a sliding window per address). Given the limiter's shared bucket
store (the supervisor's, which every worker of `--workers N` talks to, or Redis across replicas), the
count is one budget for all of them: otherwise each worker would grant its own `limit` and N workers N
times as many guesses. There the window is a token bucket of `limit` refilled over `window` seconds,
keyed by a digest of the address (no address in Redis). If the shared store cannot be reached, the
worker falls back to its own window, so throttling never switches off.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from typing import Any

from proxy.limits.bucket import BucketSpec
from proxy.limits.memory import THROTTLE_PREFIX
from proxy.limits.redis_store import LimiterUnavailable


class LocalWindow:
    """The exact sliding window of one process."""

    def __init__(self, limit: int, window: float, max_clients: int) -> None:
        self.limit = limit
        self.window = window
        self._max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.get(client)
        if times is None:
            if len(self._failures) >= self._max_clients:
                self._forget_stale(now)
            times = self._failures[client] = deque()
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def blocked_for(self, client: str) -> float:
        now = time.monotonic()
        times = self._recent(client, now)
        if len(times) < self.limit:
            return 0.0
        return max(1.0, self.window - (now - times[0]))

    def clear(self) -> None:
        self._failures.clear()

    def _forget_stale(self, now: float) -> None:
        """At max_clients: drop the clients whose failures are all past the window (the same as never
        seen), and only if that frees nothing, every client (addresses are the clients' to choose)."""
        stale = [c for c, times in self._failures.items() if not times or now - times[-1] > self.window]
        for c in stale:
            del self._failures[c]
        if len(self._failures) >= self._max_clients:
            self._failures.clear()

    def failed(self, client: str) -> None:
        now = time.monotonic()
        times = self._recent(client, now)
        if len(times) < self.limit:  # a refused attempt does not lengthen the wait
            times.append(now)


class FailureThrottle:
    def __init__(
        self,
        limit: int = 30,
        window: float = 60.0,
        max_clients: int = 50_000,
        store: Any = None,
        name: str = "auth",
    ) -> None:
        """store: the limiter's shared bucket store (None: this process's window only); name: this
        throttle's key space in it (several throttles share one store)."""
        self.limit = limit
        self.window = window
        self.name = name
        self._store = store if limit > 0 else None
        self._local = LocalWindow(limit, window, max_clients)

    def _spec(self, client: str) -> BucketSpec:
        digest = hashlib.sha256(client.encode()).hexdigest()[:24]
        return BucketSpec(f"{THROTTLE_PREFIX}{self.name}:{digest}", self.limit, "requests", self.window)

    async def blocked_for(self, client: str) -> float:
        """Seconds this client must wait, or 0 when it may try."""
        if self._store is not None:
            spec = self._spec(client)
            try:
                decision = await self._store.acquire([(spec, 0)])
            except LimiterUnavailable:
                return self._local.blocked_for(client)
            remaining = decision.states[0].remaining if decision.states else float(self.limit)
            return 0.0 if remaining >= 1 else max(1.0, (1 - remaining) / spec.rate)
        return self._local.blocked_for(client)

    def clear_local(self) -> None:
        """Forget this process's window (tests; the shared store's buckets refill on their own)."""
        self._local.clear()

    async def failed(self, client: str) -> None:
        """Count one failure (a client already at the limit is not charged further)."""
        if self._store is not None:
            try:
                await self._store.acquire([(self._spec(client), 1)])
                return
            except LimiterUnavailable:
                pass
        self._local.failed(client)
