"""Token-bucket admission: reserve up front, settle on usage; in-process and on real Redis."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import uuid

import pytest

from proxy.errors import ApiError
from proxy.limits import BucketSpec, Limiter, MemoryBucketStore, RedisBucketStore
from proxy.limits.limiter import format_duration
from tests.conftest import redis_url


def test_format_duration_matches_openai_style() -> None:
    assert format_duration(0.02) == "20ms"
    assert format_duration(1) == "1s"
    assert format_duration(360) == "6m0s"
    assert format_duration(61.2) == "1m2s"


async def _admit_concurrently(limiter: Limiter, spec: BucketSpec, requests: int, cost: int) -> int:
    async def one() -> bool:
        try:
            await limiter.reserve([spec], cost)
            return True
        except ApiError as err:
            assert err.status == 429
            return False

    results = await asyncio.gather(*(one() for _ in range(requests)))
    return sum(results)


async def test_fifty_concurrent_requests_never_exceed_token_budget() -> None:
    limiter = Limiter(MemoryBucketStore())
    spec = BucketSpec(f"tpm:test:{uuid.uuid4().hex}", capacity=1000, kind="tokens")
    admitted = await _admit_concurrently(limiter, spec, 50, 64)
    assert admitted == 1000 // 64


async def test_settle_returns_unused_tokens() -> None:
    limiter = Limiter(MemoryBucketStore())
    spec = BucketSpec(f"tpm:test:{uuid.uuid4().hex}", capacity=100, kind="tokens")
    reservation = await limiter.reserve([spec], 90)
    with pytest.raises(ApiError):
        await limiter.reserve([spec], 20)
    await limiter.settle(reservation, 10)  # used only 10 of the 90 reserved
    await limiter.reserve([spec], 20)


async def test_a_bound_over_the_whole_budget_runs_alone_on_a_full_bucket() -> None:
    limiter = Limiter(MemoryBucketStore())
    spec = BucketSpec(f"tpm:test:{uuid.uuid4().hex}", capacity=100, kind="tokens")
    big = await limiter.reserve([spec], 150, floor=80)  # bound 150 > 100; likely 80 fits
    assert big.costs[spec.key] == 100
    with pytest.raises(ApiError):
        await limiter.reserve([spec], 1)  # nothing runs beside it
    await limiter.settle(big, 120)  # it really used 120: the bucket owes 20
    state = (await limiter.store.acquire([(spec, 0)])).states[0]
    assert -21 < state.remaining < -19
    with pytest.raises(ApiError) as info:
        await limiter.reserve([spec], 150, floor=101)  # even the likely use cannot fit
    assert info.value.headers["x-should-retry"] == "false"


async def test_refusal_carries_openai_headers_and_retry_hints() -> None:
    limiter = Limiter(MemoryBucketStore())
    spec = BucketSpec(f"rpm:test:{uuid.uuid4().hex}", capacity=2, kind="requests")
    ok = await limiter.reserve([spec], 0)
    assert ok.headers["x-ratelimit-limit-requests"] == "2"
    assert ok.headers["x-ratelimit-remaining-requests"] == "1"
    await limiter.reserve([spec], 0)
    with pytest.raises(ApiError) as info:
        await limiter.reserve([spec], 0)
    err = info.value
    assert err.status == 429 and err.code == "rate_limit_exceeded" and err.type == "requests"
    assert int(err.headers["Retry-After"]) >= 1
    assert err.headers["x-ratelimit-remaining-requests"] == "0"
    assert "x-should-retry" not in err.headers


async def test_request_larger_than_the_whole_budget_says_do_not_retry() -> None:
    limiter = Limiter(MemoryBucketStore())
    spec = BucketSpec(f"tpm:test:{uuid.uuid4().hex}", capacity=100, kind="tokens")
    with pytest.raises(ApiError) as info:
        await limiter.reserve([spec], 101)
    assert info.value.headers["x-should-retry"] == "false"


async def test_all_or_nothing_across_buckets() -> None:
    store = MemoryBucketStore()
    limiter = Limiter(store)
    big = BucketSpec(f"tpm:a:{uuid.uuid4().hex}", capacity=1000, kind="tokens")
    small = BucketSpec(f"tpm:b:{uuid.uuid4().hex}", capacity=50, kind="tokens")
    with pytest.raises(ApiError):
        await limiter.reserve([big, small], 60)
    # the refused request took nothing from the bucket it did fit in
    r = await limiter.reserve([big], 1000)
    assert r.headers["x-ratelimit-remaining-tokens"] == "0"


# --- Redis: the real server on 127.0.0.1 (CI starts it), and a private one we can kill ---

needs_redis = pytest.mark.skipif(redis_url() is None, reason="TEECUBE_TEST_REDIS_URL not set")


@needs_redis
async def test_redis_shared_budget_across_two_limiters() -> None:
    url = redis_url()
    assert url is not None
    # a generous timeout: 50 calls in flight on a loaded CI machine (0.5 s tripped once: 503, not 429)
    a = Limiter(RedisBucketStore(url, timeout=10.0))
    b = Limiter(RedisBucketStore(url, timeout=10.0))  # a second proxy replica
    spec = BucketSpec(f"tpm:test:{uuid.uuid4().hex}", capacity=1000, kind="tokens")
    results = await asyncio.gather(
        _admit_concurrently(a, spec, 25, 64), _admit_concurrently(b, spec, 25, 64)
    )
    assert sum(results) == 1000 // 64
    await a.close()
    await b.close()


@needs_redis
async def test_redis_settle_is_shared() -> None:
    url = redis_url()
    assert url is not None
    a = Limiter(RedisBucketStore(url, timeout=10.0))
    b = Limiter(RedisBucketStore(url, timeout=10.0))
    spec = BucketSpec(f"tpm:test:{uuid.uuid4().hex}", capacity=100, kind="tokens")
    res = await a.reserve([spec], 100)
    with pytest.raises(ApiError):
        await b.reserve([spec], 50)
    await a.settle(res, 40)
    await b.reserve([spec], 50)
    await a.close()
    await b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def private_redis():
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield proc, f"redis://127.0.0.1:{port}/0"
    if proc.poll() is None:
        proc.kill()
    proc.wait()


async def test_redis_going_away_fails_closed_by_default(private_redis) -> None:
    proc, url = private_redis
    limiter = Limiter(RedisBucketStore(url, timeout=0.3))
    spec = BucketSpec(f"rpm:test:{uuid.uuid4().hex}", capacity=10, kind="requests")
    await limiter.reserve([spec], 0)
    proc.kill()
    proc.wait()
    with pytest.raises(ApiError) as info:
        await limiter.reserve([spec], 0)
    assert info.value.status == 503
    assert info.value.code == "rate_limiter_unavailable"
    await limiter.close()


async def test_redis_going_away_fails_open_to_local_limits_when_configured(private_redis) -> None:
    proc, url = private_redis
    limiter = Limiter(RedisBucketStore(url, timeout=0.3), fail_open=True)
    spec = BucketSpec(f"rpm:test:{uuid.uuid4().hex}", capacity=2, kind="requests")
    proc.kill()
    proc.wait()
    await limiter.reserve([spec], 0)
    await limiter.reserve([spec], 0)
    with pytest.raises(ApiError) as info:  # the local fallback still enforces the limit
        await limiter.reserve([spec], 0)
    assert info.value.status == 429
    await limiter.close()
