"""Concurrent operators on PostgreSQL: keys and policies stay consistent under threads."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from domains import keys, policies
from domains.errors import Conflict
from domains.models import ApiKey, AuditEvent, GuardrailPolicy
from domains.tenants import create_domain

ACTOR = "cli:test"
THREADS = 8


@pytest.fixture
def backend() -> str:
    return "postgresql"


def _run_threads(work: Callable[[int], None], n: int = THREADS) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_concurrent_key_creation(factory: sessionmaker[Session], pepper: bytes) -> None:
    with factory.begin() as s:
        create_domain(s, "acme", ACTOR)
    created: list[tuple[str, str]] = []

    def work(i: int) -> None:
        for _ in range(4):
            with factory.begin() as s:
                key, secret = keys.create_key(s, "acme", f"cli:t{i}", pepper=pepper)
                created.append((key.key_id, secret))

    assert _run_threads(work) == []
    assert len(created) == THREADS * 4
    assert len({k for k, _ in created}) == len(created)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(ApiKey)) == len(created)
        assert s.scalar(select(func.count()).where(AuditEvent.action == "key.create")) == len(created)
        for key_id, secret in created:
            resolved = keys.resolve_key(s, secret, pepper)
            assert resolved is not None and resolved.key_id == key_id


@pytest.mark.slow
def test_concurrent_revoke_and_rotate_end_revoked(factory: sessionmaker[Session], pepper: bytes) -> None:
    with factory.begin() as s:
        create_domain(s, "acme", ACTOR)
    originals = []
    for _ in range(6):
        with factory.begin() as s:
            key, secret = keys.create_key(s, "acme", ACTOR, pepper=pepper)
            originals.append((key.key_id, secret))
    rotated: list[str] = []

    def work(i: int) -> None:
        for key_id, _ in originals:
            with factory.begin() as s:
                if i % 2:
                    keys.revoke_key(s, key_id, f"cli:t{i}")
                else:
                    try:
                        rotated.append(keys.rotate_key(s, key_id, f"cli:t{i}", pepper=pepper)[1])
                    except Conflict:
                        pass  # already revoked: refused, as it should be

    assert _run_threads(work) == []
    with factory() as s:
        for key_id, _ in originals:
            assert keys.get_key(s, key_id).revoked_at is not None
            revokes = select(func.count()).where(
                AuditEvent.action == "key.revoke", AuditEvent.object_id == key_id
            )
            assert s.scalar(revokes) == 1
        for secret in [s_ for _, s_ in originals] + rotated:
            assert keys.resolve_key(s, secret, pepper) is None
        rotations = s.scalar(select(func.count()).where(AuditEvent.action == "key.rotate"))
        assert rotations == len(rotated)


@pytest.mark.slow
def test_exactly_one_active_policy_under_concurrency(factory: sessionmaker[Session]) -> None:
    with factory.begin() as s:
        create_domain(s, "acme", ACTOR)

    def create(i: int) -> None:
        with factory.begin() as s:
            rule = {"id": f"r{i}", "scanner": "email", "input": "mask", "output": "off"}
            policies.create_policy_version(s, "acme", {"version": 1, "rules": [rule]}, f"cli:t{i}")

    assert _run_threads(create) == []

    def activate(i: int) -> None:
        for version in range(1, THREADS + 2):
            with factory.begin() as s:
                policies.activate_policy_version(s, "acme", (version + i) % (THREADS + 1) + 1, f"cli:t{i}")

    assert _run_threads(activate) == []
    with factory() as s:
        versions = [p.version for p in policies.list_policy_versions(s, "acme")]
        assert versions == list(range(1, THREADS + 2))
        active = s.scalars(select(GuardrailPolicy).where(GuardrailPolicy.active)).all()
        assert len(active) == 1
        assert policies.get_active_policy(s, "acme").version == active[0].version
