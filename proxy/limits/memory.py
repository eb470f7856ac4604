"""In-process bucket store: the default, exact within one proxy process.

Keys whose bucket has refilled are the same as absent ones, so past `max_keys` they are dropped; if that
is not enough (many per-address throttle keys, which clients choose by where they connect from), the
throttle keys (THROTTLE_PREFIX) go next, which only forgets failures, never a tenant's usage."""

from __future__ import annotations

import time

from proxy.limits.bucket import BucketSpec, BucketState, Decision, refill, reset_after

THROTTLE_PREFIX = "throttle:"  # proxy/auth/failures.py's keys
MAX_KEYS = 100_000


class MemoryBucketStore:
    def __init__(self, clock=time.monotonic, max_keys: int = MAX_KEYS) -> None:
        self._levels: dict[str, tuple[float, float]] = {}  # key -> (level, last update)
        self._specs: dict[str, BucketSpec] = {}
        self._clock = clock
        self.max_keys = max_keys
        self._prune_at = max_keys  # the next prune's size: a prune is O(keys), so not one per new key

    def _set(self, spec: BucketSpec, level: float, now: float) -> None:
        if spec.key not in self._levels and len(self._levels) >= self._prune_at:
            self._prune(now)
            self._prune_at = max(self.max_keys, len(self._levels) + self.max_keys // 10)
        self._levels[spec.key] = (level, now)
        self._specs[spec.key] = spec

    def _prune(self, now: float) -> None:
        """Drop full buckets (exact); past max_keys still, every throttle key."""
        for key, (level, last) in list(self._levels.items()):
            spec = self._specs[key]
            if refill(level, last, now, spec) >= spec.capacity:
                del self._levels[key], self._specs[key]
        if len(self._levels) >= self.max_keys:
            for key in [k for k in self._levels if k.startswith(THROTTLE_PREFIX)]:
                del self._levels[key], self._specs[key]

    def _level(self, spec: BucketSpec, now: float) -> float:
        level, last = self._levels.get(spec.key, (float(spec.capacity), now))
        return refill(level, last, now, spec)

    async def acquire(self, costs: list[tuple[BucketSpec, int]]) -> Decision:
        now = self._clock()
        levels = [(spec, cost, self._level(spec, now)) for spec, cost in costs]
        for spec, cost, level in levels:
            if cost > spec.capacity:
                return Decision(False, self._states(levels, charged=False), retry_after=spec.period,
                                never=True, refused=spec)
            if level < cost:
                wait = (cost - level) / spec.rate
                return Decision(False, self._states(levels, charged=False), retry_after=wait, refused=spec)
        for spec, cost, level in levels:
            if cost or spec.key in self._levels:  # a zero-cost probe of an absent key stores nothing
                self._set(spec, level - cost, now)
        return Decision(True, self._states(levels, charged=True))

    async def adjust(self, deltas: list[tuple[BucketSpec, int]]) -> None:
        """Give back (negative delta) or charge extra (positive delta) after the fact."""
        now = self._clock()
        for spec, delta in deltas:
            level = self._level(spec, now) - delta
            self._set(spec, min(float(spec.capacity), level), now)

    @staticmethod
    def _states(levels: list[tuple[BucketSpec, int, float]], *, charged: bool) -> list[BucketState]:
        out = []
        for spec, cost, level in levels:
            after = level - cost if charged else level
            out.append(BucketState(spec, after, reset_after(after, spec)))
        return out

    async def close(self) -> None:
        return None
