"""API keys: format, resolution through one path for every outcome, rotation, revocation."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from domains import keys
from domains.deployments import add_deployment
from domains.errors import Conflict, Invalid, NotFound
from domains.grants import grant_model
from domains.models import AuditEvent
from domains.tenants import create_domain, disable_domain

ACTOR = "cli:test"


def _setup(factory: sessionmaker[Session], *domains: str) -> None:
    with factory.begin() as s:
        add_deployment(s, "dep", "openai", "http://127.0.0.1:9000/v1", "m", ACTOR)
        for name in domains:
            create_domain(s, name, ACTOR)
            grant_model(s, name, "chat", "dep", ACTOR)
            grant_model(s, name, "code", "dep", ACTOR)


def _create(
    factory: sessionmaker[Session], pepper: bytes, domain: str = "acme", **kw: Any
) -> tuple[str, str]:
    with factory.begin() as s:
        key, secret = keys.create_key(s, domain, ACTOR, pepper=pepper, **kw)
        return key.key_id, secret


def _resolve(
    factory: sessionmaker[Session], secret: Any, pepper: bytes, **kw: Any
) -> keys.ResolvedKey | None:
    with factory() as s:
        return keys.resolve_key(s, secret, pepper, **kw)


def test_secret_format_and_resolved_value(factory: sessionmaker[Session], pepper: bytes) -> None:
    _setup(factory, "acme")
    key_id, secret = _create(factory, pepper, name="ci", allowed_aliases=["code"], rpm=5, tpm=500)
    assert re.fullmatch(r"sk-tc-[A-Za-z0-9_-]{32}", secret)
    assert re.fullmatch(r"key_[0-9a-f]{12}", key_id)
    resolved = _resolve(factory, secret, pepper)
    assert resolved is not None
    assert (resolved.key_id, resolved.domain_name, resolved.allowed_aliases) == (key_id, "acme", ("code",))
    assert (resolved.rpm, resolved.tpm, resolved.expires_at) == (5, 500, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        resolved.rpm = 10  # type: ignore[misc]
    with factory() as s:
        [key] = keys.list_keys(s, "acme")
        assert key.prefix == secret[:10] and key.name == "ci"
        assert key.secret_hash == keys.hash_secret(secret, pepper) != secret


def test_two_secrets_never_collide(factory: sessionmaker[Session], pepper: bytes) -> None:
    _setup(factory, "acme")
    created = [_create(factory, pepper) for _ in range(5)]
    assert len({k for k, _ in created}) == len({s for _, s in created}) == 5
    for key_id, secret in created:
        resolved = _resolve(factory, secret, pepper)
        assert resolved is not None and resolved.key_id == key_id


@pytest.mark.slow
def test_every_rejection_takes_the_same_path(
    factory: sessionmaker[Session], engine: Engine, pepper: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Revoked, expired, disabled-domain, unknown and malformed: one HMAC, one query, None."""
    _setup(factory, "acme", "gone")
    _, good = _create(factory, pepper)
    revoked_id, revoked = _create(factory, pepper)
    _, expired = _create(factory, pepper, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    _, disabled = _create(factory, pepper, domain="gone")
    with factory.begin() as s:
        keys.revoke_key(s, revoked_id, ACTOR)
        disable_domain(s, "gone", ACTOR)
    unknown = keys.generate_secret()
    wrong_pepper = (good, b"x" * 32)
    presented: list[tuple[Any, bytes]] = [
        (revoked, pepper),
        (expired, pepper),
        (disabled, pepper),
        (unknown, pepper),
        wrong_pepper,
        ("", pepper),
        ("sk-tc-", pepper),
        ("Bearer " + good, pepper),
        (good[:-1], pepper),
        (good + "A", pepper),
        ("sk-tc-\u00e9\ud800", pepper),
        ("x" * 10_000, pepper),
        (None, pepper),
        (b"sk-tc-bytes", pepper),
    ]

    hmacs: list[str] = []
    real_hash = keys.hash_secret
    monkeypatch.setattr(keys, "hash_secret", lambda s, p: hmacs.append(s) or real_hash(s, p))
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    for secret, used_pepper in presented:
        hmacs.clear()
        statements.clear()
        assert _resolve(factory, secret, used_pepper) is None, secret
        assert len(hmacs) == 1 and len(statements) == 1, secret
    hmacs.clear()
    statements.clear()
    assert _resolve(factory, good, pepper) is not None
    assert len(hmacs) == 1 and len(statements) == 1


def test_expiry_is_checked_against_now(factory: sessionmaker[Session], pepper: bytes) -> None:
    _setup(factory, "acme")
    expires = datetime.now(UTC) + timedelta(hours=1)
    _, secret = _create(factory, pepper, expires_at=expires)
    resolved = _resolve(factory, secret, pepper)
    assert resolved is not None and resolved.expires_at == expires
    assert resolved.expires_at.tzinfo is not None
    assert _resolve(factory, secret, pepper, now=expires - timedelta(seconds=1)) is not None
    assert _resolve(factory, secret, pepper, now=expires) is None


def test_disabled_domain_rejects_its_keys_until_enabled(
    factory: sessionmaker[Session], pepper: bytes
) -> None:
    from domains.tenants import enable_domain

    _setup(factory, "acme")
    _, secret = _create(factory, pepper)
    with factory.begin() as s:
        disable_domain(s, "acme", ACTOR)
    assert _resolve(factory, secret, pepper) is None
    with factory.begin() as s, pytest.raises(Conflict):
        keys.create_key(s, "acme", ACTOR, pepper=pepper)
    with factory.begin() as s:
        enable_domain(s, "acme", ACTOR)
    assert _resolve(factory, secret, pepper) is not None


def test_rotation_keeps_key_id_and_kills_old_secret(factory: sessionmaker[Session], pepper: bytes) -> None:
    _setup(factory, "acme")
    key_id, old = _create(factory, pepper)
    with factory.begin() as s:
        key, new = keys.rotate_key(s, key_id, ACTOR, pepper=pepper)
        assert key.key_id == key_id and key.rotated_at is not None and key.prefix == new[:10]
    assert new != old
    assert _resolve(factory, old, pepper) is None
    resolved = _resolve(factory, new, pepper)
    assert resolved is not None and resolved.key_id == key_id
    with factory.begin() as s:
        keys.revoke_key(s, key_id, ACTOR)
        keys.revoke_key(s, key_id, ACTOR)  # idempotent
    with factory.begin() as s, pytest.raises(Conflict):
        keys.rotate_key(s, key_id, ACTOR, pepper=pepper)
    assert _resolve(factory, new, pepper) is None
    with factory() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.object_id == key_id)))
    assert actions == ["key.create", "key.rotate", "key.revoke"]


def test_allowed_aliases_must_be_granted(factory: sessionmaker[Session], pepper: bytes) -> None:
    _setup(factory, "acme")
    with factory.begin() as s, pytest.raises(Invalid, match="secret-model"):
        keys.create_key(s, "acme", ACTOR, allowed_aliases=["chat", "secret-model"], pepper=pepper)
    with factory.begin() as s, pytest.raises(NotFound):
        keys.create_key(s, "nope", ACTOR, pepper=pepper)
    with factory.begin() as s, pytest.raises(Invalid):
        keys.create_key(s, "acme", ACTOR, rpm=0, pepper=pepper)
    with factory.begin() as s, pytest.raises(Invalid):
        keys.create_key(s, "acme", ACTOR, expires_at=datetime(2030, 1, 1), pepper=pepper)
    _, all_models = _create(factory, pepper)
    resolved = _resolve(factory, all_models, pepper)
    assert resolved is not None and resolved.allowed_aliases is None


def test_touch_last_used_only_moves_forward(factory: sessionmaker[Session], pepper: bytes) -> None:
    _setup(factory, "acme")
    key_id, _ = _create(factory, pepper)
    later = datetime.now(UTC) + timedelta(minutes=5)
    with factory.begin() as s:
        keys.touch_last_used(s, {key_id: later})
        keys.touch_last_used(s, {key_id: later - timedelta(minutes=1)})
    with factory() as s:
        assert keys.get_key(s, key_id).last_used_at == later


def test_pepper_is_required_and_long(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from domains.config import ensure_pepper_file, load_pepper

    monkeypatch.delenv("TEECUBE_PEPPER", raising=False)
    monkeypatch.delenv("TEECUBE_PEPPER_FILE", raising=False)
    with pytest.raises(Invalid, match="no pepper"):
        load_pepper(tmp_path / "missing")
    with pytest.raises(Invalid, match="too short"):
        load_pepper(env={"TEECUBE_PEPPER": "short"})
    with pytest.raises(Invalid, match="too short"):
        load_pepper(env={"TEECUBE_PEPPER": ""})
    pepper, created = ensure_pepper_file(tmp_path / "var" / "pepper")
    assert created and len(pepper) >= 32
    assert (tmp_path / "var" / "pepper").stat().st_mode & 0o777 == 0o600
    assert ensure_pepper_file(tmp_path / "var" / "pepper") == (pepper, False)
    assert load_pepper(tmp_path / "var" / "pepper") == pepper
