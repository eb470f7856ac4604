"""The pieces of `--workers` without processes: worker counts, the supervisor's shared bucket
store (two clients, one budget), summing workers' metrics, the identity handoff."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from proxy.config import ProxyConfig
from proxy.limits import Limiter, LimiterUnavailable
from proxy.limits.bucket import BucketSpec
from proxy.limits.shared import BucketServer, SharedBucketStore
from proxy.metrics import ProxyMetrics
from proxy.metrics_merge import merge
from proxy.supervisor import auto_workers, parse_workers, scan_workers_each


def test_worker_counts() -> None:
    assert [auto_workers(c) for c in (1, 2, 4, 7, 8, 16, 32, 64, 192)] == [1, 1, 2, 3, 4, 8, 8, 8, 8]
    assert parse_workers("3") == 3 and parse_workers("auto") == auto_workers()
    for bad in ("0", "65", "-1", "many"):
        with pytest.raises(ValueError, match="--workers"):
            parse_workers(bad)


def test_scan_workers_are_shared_out() -> None:
    config = ProxyConfig(database_url="sqlite://", pepper=b"x", workers=4, guard_scan_workers=8)
    assert scan_workers_each(config) == 2
    config.guard_scan_workers = 2
    assert scan_workers_each(config) == 1  # at least one each where there are any
    config.guard_scan_workers = 0
    assert scan_workers_each(config) == 0


def test_two_workers_share_one_budget(tmp_path: Path) -> None:
    spec = BucketSpec("rpm:key:k1", 5, "requests")
    tokens = BucketSpec("tpm:key:k1", 100, "tokens")

    async def scenario() -> None:
        server = BucketServer(str(tmp_path / "limits.sock"))
        await server.start()
        a, b = SharedBucketStore(server.path), SharedBucketStore(server.path)
        try:
            allowed = [
                (await (a if i % 2 else b).acquire([(spec, 1), (tokens, 10)])).allowed for i in range(8)
            ]
            assert allowed == [True] * 5 + [False] * 3
            refused = await a.acquire([(spec, 1)])
            assert refused.refused == spec and refused.retry_after > 0 and not refused.never
            never = await b.acquire([(tokens, 101)])
            assert never.never and never.refused == tokens
            await a.adjust([(tokens, -50)])  # settle: give back 50 of the 50 reserved
            state = (await b.acquire([(tokens, 0)])).states[0]
            assert state.remaining == pytest.approx(100, abs=1)
            # many calls in flight on one connection
            results = await asyncio.gather(*(a.acquire([(tokens, 1)]) for _ in range(50)))
            assert all(r.allowed for r in results)
        finally:
            await a.close()
            await b.close()
            await server.close()
        # the supervisor gone: the limiter fails closed (503), as for Redis
        with pytest.raises(LimiterUnavailable):
            await SharedBucketStore(server.path, timeout=0.5).acquire([(spec, 1)])
        limiter = Limiter(SharedBucketStore(server.path, timeout=0.5), fail_open=True)
        assert (await limiter.reserve([spec], 1)).headers  # fail-open: the in-process fallback

    asyncio.run(scenario())


def test_metrics_sum_across_workers() -> None:
    one, two = ProxyMetrics(), ProxyMetrics()
    one.requests.labels("acme", "chat", "2xx").inc(3)
    two.requests.labels("acme", "chat", "2xx").inc(4)
    two.requests.labels("acme", "chat", "4xx").inc()
    one.latency.labels("chat").observe(0.002)
    two.latency.labels("chat").observe(0.2)
    families = {f.name: f for f in merge([one.render().decode(), two.render().decode()])}
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples
    }
    ok = ("teecube_proxy_requests_total", (("alias", "chat"), ("domain", "acme"), ("status_class", "2xx")))
    assert values[ok] == 7
    assert values[("teecube_proxy_request_latency_seconds_count", (("route", "chat"),))] == 2
    inf = ("teecube_proxy_request_latency_seconds_bucket", (("le", "+Inf"), ("route", "chat")))
    assert values[inf] == 2


def test_identity_handoff_round_trip(tmp_path: Path) -> None:
    from attestation.providers.simulated import SimulatedSnp
    from attestation.tls import TlsIdentity
    from proxy.handoff import Handoff, dump_identity, load_identity

    identity = TlsIdentity.generate(["localhost"], SimulatedSnp(tmp_path / "attestation"))
    config = ProxyConfig(database_url="sqlite://", pepper=b"p" * 32, workers=2, worker_index=1)
    blob = Handoff(config, dump_identity(identity), str(tmp_path / "m.sock"), 1).dumps()
    back = Handoff.loads(blob)
    again = load_identity(back.identity)
    assert back.config == config
    assert again.spki_der == identity.spki_der and again.cert_pem == identity.cert_pem
    assert again.hpke_key.public_bytes == identity.hpke_key.public_bytes
    assert again.bundle.dumps() == identity.bundle.dumps()
    again.ssl_context()  # loads


def test_port_group_is_refused_when_the_port_is_taken() -> None:
    import socket

    from proxy.supervisor import bind

    group = bind("127.0.0.1", 0, 1)
    port = group[0].getsockname()[1]
    try:
        with pytest.raises(OSError):  # a second proxy must not join the first one's group
            bind("127.0.0.1", port, 2)
        with socket.socket() as plain:
            plain.bind(("127.0.0.1", 0))
            plain.listen()
            with pytest.raises(OSError):
                bind("127.0.0.1", plain.getsockname()[1], 2)
        fresh = bind("127.0.0.1", 0, 1)[0]
        free = fresh.getsockname()[1]
        fresh.close()
        pair = bind("127.0.0.1", free, 3)
        assert len(pair) == 3 and {s.getsockname()[1] for s in pair} == {free}
        for s in pair:
            s.close()
    finally:
        for s in group:
            s.close()


def test_workers_are_not_handed_the_metrics_token(tmp_path: Path) -> None:
    """Only the supervisor serves /metrics: a worker's handoff carries no scraper credential (the
    operator token it needs for the admin API stays)."""
    import shutil

    from proxy.handoff import Handoff
    from proxy.supervisor import Supervisor

    config = ProxyConfig(database_url="sqlite://", pepper=b"p" * 32, workers=2, host="127.0.0.1", port=0,
                         redis_url="redis://127.0.0.1:1/0", operator_token="o" * 20, metrics_token="m" * 20)
    sup = Supervisor(config, None, shutdown_timeout=1.0)
    try:
        handed = Handoff.loads(sup._handoff(0)).config
        assert handed.metrics_token is None and handed.operator_token == "o" * 20
    finally:
        for sock in sup.socks:
            sock.close()
        shutil.rmtree(sup.run_dir, ignore_errors=True)
