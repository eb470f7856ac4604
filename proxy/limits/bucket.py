"""Token-bucket arithmetic shared by the in-process and Redis stores.

A bucket holds up to `capacity` units and refills at `capacity / period` units per
second. Admission takes `cost` from every bucket of a request at once, or from none.
Settling returns unused units (or takes extra ones, possibly below zero, so actual
usage is always charged).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BucketSpec:
    key: str  # e.g. "tpm:key:key_ab12" — ids only, never secrets
    capacity: int  # units per period
    kind: str  # "requests" | "tokens"
    period: float = 60.0

    @property
    def rate(self) -> float:
        return self.capacity / self.period


@dataclass(frozen=True, slots=True)
class BucketState:
    spec: BucketSpec
    remaining: float  # after this decision
    reset_after: float  # seconds until the bucket is full again


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    states: list[BucketState]
    retry_after: float = 0.0  # seconds until the refused cost would fit
    never: bool = False  # the cost exceeds a bucket's capacity: retrying cannot help
    refused: BucketSpec | None = None


def refill(level: float, last: float, now: float, spec: BucketSpec) -> float:
    return min(float(spec.capacity), level + max(0.0, now - last) * spec.rate)


def reset_after(level: float, spec: BucketSpec) -> float:
    return max(0.0, (spec.capacity - level) / spec.rate) if spec.rate > 0 else math.inf
