"""In-process bucket store: the default, exact within one proxy process."""

from __future__ import annotations

import time

from proxy.limits.bucket import BucketSpec, BucketState, Decision, refill, reset_after


class MemoryBucketStore:
    def __init__(self, clock=time.monotonic) -> None:
        self._levels: dict[str, tuple[float, float]] = {}  # key -> (level, last update)
        self._clock = clock

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
            self._levels[spec.key] = (level - cost, now)
        return Decision(True, self._states(levels, charged=True))

    async def adjust(self, deltas: list[tuple[BucketSpec, int]]) -> None:
        """Give back (negative delta) or charge extra (positive delta) after the fact."""
        now = self._clock()
        for spec, delta in deltas:
            level = self._level(spec, now) - delta
            self._levels[spec.key] = (min(float(spec.capacity), level), now)

    @staticmethod
    def _states(levels: list[tuple[BucketSpec, int, float]], *, charged: bool) -> list[BucketState]:
        out = []
        for spec, cost, level in levels:
            after = level - cost if charged else level
            out.append(BucketState(spec, after, reset_after(after, spec)))
        return out

    async def close(self) -> None:
        return None
