"""Per-address failure throttles (proxy/auth/failures.py): one budget for every worker of `--workers N`
(the supervisor's bucket store) and every replica (Redis), a fallback to the worker's own window when
the shared store is gone, and the in-process store's bound on the keys clients choose."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest

from proxy.auth.failures import FailureThrottle
from proxy.limits.bucket import BucketSpec
from proxy.limits.memory import THROTTLE_PREFIX, MemoryBucketStore
from proxy.limits.redis_store import RedisBucketStore
from proxy.limits.shared import BucketServer, SharedBucketStore


async def _fail_until_blocked(workers: list[FailureThrottle], client: str, most: int = 100) -> int:
    """Failures spread over the workers in turn until one says the client is blocked; how many."""
    for n in range(most):
        throttle = workers[n % len(workers)]
        if await throttle.blocked_for(client):
            return n
        await throttle.failed(client)
    return most


def test_workers_sharing_the_supervisors_store_grant_one_limit(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = BucketServer(str(tmp_path / "limits.sock"))
        await server.start()
        stores = [SharedBucketStore(server.path) for _ in range(4)]
        try:
            workers = [FailureThrottle(limit=6, store=s) for s in stores]
            assert await _fail_until_blocked(workers, "203.0.113.7") == 6  # not 4 x 6
            wait = await workers[2].blocked_for("203.0.113.7")
            assert 1.0 <= wait <= 60.0
            assert await workers[0].blocked_for("203.0.113.8") == 0.0  # another address is not
            other = [FailureThrottle(limit=6, store=s, name="operator") for s in stores]
            assert await other[1].blocked_for("203.0.113.7") == 0.0  # another throttle's key space
            # each worker alone (no shared store) would have granted its own six
            alone = [FailureThrottle(limit=6) for _ in range(4)]
            assert await _fail_until_blocked(alone, "203.0.113.9") == 24
        finally:
            for s in stores:
                await s.close()
            await server.close()

    asyncio.run(scenario())


def test_a_lost_shared_store_falls_back_to_the_workers_own_window(tmp_path: Path) -> None:
    async def scenario() -> None:
        gone = SharedBucketStore(str(tmp_path / "nobody.sock"), timeout=0.2)
        throttle = FailureThrottle(limit=3, store=gone)
        assert await _fail_until_blocked([throttle], "198.51.100.1") == 3
        await gone.close()

    asyncio.run(scenario())


@pytest.mark.skipif(not os.environ.get("TEECUBE_TEST_REDIS_URL"), reason="set TEECUBE_TEST_REDIS_URL")
def test_replicas_on_redis_grant_one_limit_and_store_no_address() -> None:
    async def scenario() -> None:
        prefix = f"teecube-test-{uuid.uuid4().hex[:8]}:"
        url = os.environ["TEECUBE_TEST_REDIS_URL"]
        stores = [RedisBucketStore(url, prefix=prefix, timeout=10.0) for _ in range(2)]
        try:
            replicas = [FailureThrottle(limit=5, store=s) for s in stores]
            assert await _fail_until_blocked(replicas, "192.0.2.44") == 5
            keys = [k.decode() for k in await stores[0]._redis.keys(f"{prefix}*")]
            assert keys and not any("192.0.2.44" in k for k in keys)  # a digest, not the address
        finally:
            for s in stores:
                await s.close()

    asyncio.run(scenario())


def test_in_process_store_drops_refilled_buckets_then_throttle_keys_past_its_bound() -> None:
    now = [0.0]
    store = MemoryBucketStore(clock=lambda: now[0], max_keys=10)
    tenant = BucketSpec("tpm:key:k1", 100, "tokens")

    async def scenario() -> None:
        assert (await store.acquire([(tenant, 40)])).allowed
        for i in range(5):  # refilled by the time the bound is reached: dropped exactly
            await store.acquire([(BucketSpec(f"rpm:key:full{i}", 1000, "requests", 1.0), 1)])
        now[0] = 5.0
        for i in range(30):  # clients' addresses: past the bound, throttle keys are forgotten
            await store.acquire([(BucketSpec(f"{THROTTLE_PREFIX}auth:{i}", 3, "requests"), 1)])
        assert len(store._levels) <= 12
        assert not any(k.startswith("rpm:key:full") for k in store._levels)
        state = (await store.acquire([(tenant, 0)])).states[0]
        assert state.remaining < 100  # the tenant's usage is kept (40 taken, a little refilled)

    asyncio.run(scenario())


def test_a_full_local_window_forgets_stale_addresses_before_active_ones(monkeypatch) -> None:
    """At its bound the worker's own window drops addresses whose failures have expired, so a spray of
    old addresses does not wipe an attacker that is still failing; only a window full of active
    addresses is cleared."""
    import proxy.auth.failures as failures

    now = [1000.0]
    monkeypatch.setattr(failures.time, "monotonic", lambda: now[0])
    throttle = FailureThrottle(limit=3, window=60.0, max_clients=5)

    async def scenario() -> None:
        for i in range(4):
            await throttle.failed(f"old-{i}")
        now[0] += 61.0  # their failures expire
        assert await _fail_until_blocked([throttle], "attacker") == 3
        for i in range(3):  # new addresses at the bound: the stale ones go, the attacker stays
            await throttle.failed(f"new-{i}")
        assert await throttle.blocked_for("attacker") > 0
        for i in range(10):  # a window full of active addresses is cleared, as before
            await throttle.failed(f"spray-{i}")
        assert len(throttle._local._failures) <= 5

    asyncio.run(scenario())
