"""Rate and token limits: token buckets reserved at admission and settled on actual usage."""

from proxy.limits.bucket import BucketSpec, Decision
from proxy.limits.limiter import Limiter, Reservation
from proxy.limits.memory import MemoryBucketStore
from proxy.limits.redis_store import LimiterUnavailable, RedisBucketStore

__all__ = [
    "BucketSpec",
    "Decision",
    "Limiter",
    "LimiterUnavailable",
    "MemoryBucketStore",
    "RedisBucketStore",
    "Reservation",
]
