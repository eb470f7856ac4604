"""Admission: reserve requests and tokens in every applicable bucket, settle on usage.

Buckets for one request: the key, the domain, and the domain's grant of the alias,
each with requests/min and tokens/min where the operator set a limit. A request
reserves an upper bound of what it can use up front (prompt bound + every sequence's
max_tokens), so concurrent requests cannot overspend; settling charges what the upstream
really used (giving back the rest, or going below zero when it used more).

A request whose bound exceeds a bucket's whole capacity, but whose `floor` (the likely
prompt count + max_tokens) fits, takes the whole bucket instead: it runs only on a full
bucket, alone, and its real use is settled after it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from proxy.errors import ApiError
from proxy.limits.bucket import BucketSpec, BucketState, Decision
from proxy.limits.memory import MemoryBucketStore
from proxy.limits.redis_store import LimiterUnavailable

log = logging.getLogger("teecube.proxy.limits")


@dataclass(slots=True)
class Reservation:
    token_specs: list[BucketSpec]
    reserved_tokens: int
    headers: dict[str, str] = field(default_factory=dict)
    settled: bool = False
    costs: dict[str, int] = field(default_factory=dict)  # tokens taken from each bucket (by key)


def format_duration(seconds: float) -> str:
    """OpenAI's reset format: `20ms`, `1s`, `6m0s`."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    whole = math.ceil(seconds)
    minutes, secs = divmod(whole, 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def _rate_headers(states: list[BucketState]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for kind in ("requests", "tokens"):
        mine = [s for s in states if s.spec.kind == kind]
        if not mine:
            continue
        tight = min(mine, key=lambda s: s.remaining / s.spec.capacity)
        headers[f"x-ratelimit-limit-{kind}"] = str(tight.spec.capacity)
        headers[f"x-ratelimit-remaining-{kind}"] = str(max(0, math.floor(tight.remaining)))
        headers[f"x-ratelimit-reset-{kind}"] = format_duration(tight.reset_after)
    return headers


class Limiter:
    """Wraps a bucket store (memory or Redis) with the proxy's admission rules."""

    def __init__(self, store, *, fail_open: bool = False) -> None:
        self.store = store
        self.fail_open = fail_open
        self._fallback = MemoryBucketStore()
        self.limit_hits = 0

    async def _call(self, method: str, arg):
        try:
            return await getattr(self.store, method)(arg)
        except LimiterUnavailable:
            if not self.fail_open:
                raise
            log.warning("shared limiter unavailable; failing open to the in-process limiter")
            return await getattr(self._fallback, method)(arg)

    async def reserve(self, buckets: list[BucketSpec], tokens: int, *,
                      floor: int | None = None) -> Reservation:
        floor = tokens if floor is None else min(floor, tokens)

        def token_cost(spec: BucketSpec) -> int:
            return tokens if tokens <= spec.capacity else max(floor, spec.capacity)

        costs = [(b, 1 if b.kind == "requests" else token_cost(b)) for b in buckets]
        token_specs = [b for b in buckets if b.kind == "tokens"]
        taken = {b.key: cost for b, cost in costs if b.kind == "tokens"}
        if not costs:
            return Reservation(token_specs, tokens)
        try:
            decision: Decision = await self._call("acquire", costs)
        except LimiterUnavailable:
            raise ApiError(
                503,
                "Rate limiting is temporarily unavailable. Please retry.",
                code="rate_limiter_unavailable",
                headers={"Retry-After": "1"},
            ) from None
        headers = _rate_headers(decision.states)
        if not decision.allowed:
            self.limit_hits += 1
            refused = decision.refused
            kind = refused.kind if refused else "requests"
            retry = max(1, math.ceil(decision.retry_after))
            headers["Retry-After"] = str(retry)
            headers["retry-after-ms"] = str(max(1, math.ceil(decision.retry_after * 1000)))
            if decision.never:
                headers["x-should-retry"] = "false"
                message = (
                    f"This request needs more {kind} than the per-minute limit allows; "
                    "lower max_tokens or the prompt size."
                )
            else:
                message = f"Rate limit reached for {kind} per minute. Please retry after {retry}s."
            raise ApiError(429, message, code="rate_limit_exceeded", type_=kind, headers=headers)
        return Reservation(token_specs, tokens, headers, costs=taken)

    async def settle(self, reservation: Reservation, used_tokens: int) -> None:
        if reservation.settled:
            return
        reservation.settled = True
        deltas = [(spec, used_tokens - reservation.costs.get(spec.key, reservation.reserved_tokens))
                  for spec in reservation.token_specs]
        deltas = [(spec, delta) for spec, delta in deltas if delta]
        if deltas:
            try:
                await self._call("adjust", deltas)
            except LimiterUnavailable:
                log.warning("could not settle a token reservation: shared limiter unavailable")

    async def close(self) -> None:
        await self.store.close()
