"""API keys: create, rotate, revoke, list, and resolve a presented secret.

Format: secret `sk-tc-` + urlsafe base64 of 24 random bytes (192 bits), shown once and never
stored; the database keeps `secret_hash = HMAC-SHA256(pepper, secret)` (hex, unique) and a
display prefix. `key_id` (`key_` + 12 hex) is public and stable: rotation gives the same
key_id a new secret and hash, and the old secret stops resolving at once (no grace period).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from domains import audit, validate
from domains.config import load_pepper
from domains.errors import Conflict, Invalid, NotFound
from domains.grants import domain_aliases
from domains.models import ApiKey, Domain, utcnow
from domains.tenants import get_domain

SECRET_PREFIX = "sk-tc-"  # noqa: S105 - a public format marker, not a secret
SECRET_BYTES = 24
DISPLAY_PREFIX_LENGTH = 10
# Compared against when no row matches, so every outcome runs the same comparison.
_NO_MATCH = "0" * 64


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    """What an authenticated key grants: a plain value, safe to cache."""

    key_id: str
    domain_id: int
    domain_name: str
    allowed_aliases: tuple[str, ...] | None  # None = every alias of the domain
    rpm: int | None
    tpm: int | None
    expires_at: datetime | None


def generate_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def hash_secret(secret: str, pepper: bytes) -> str:
    """HMAC-SHA256(pepper, secret) as hex. Any string hashes, so malformed input costs the same."""
    return hmac.new(pepper, secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def display_prefix(secret: str) -> str:
    return secret[:DISPLAY_PREFIX_LENGTH]


def _new_key_id() -> str:
    return "key_" + secrets.token_hex(6)


def get_key(session: Session, key_id: str, *, lock: bool = False) -> ApiKey:
    stmt = select(ApiKey).where(ApiKey.key_id == key_id)
    if lock:
        stmt = stmt.with_for_update()
    key = session.scalars(stmt).one_or_none()
    if key is None:
        raise NotFound(f"key {key_id!r} not found")
    return key


def create_key(
    session: Session,
    domain_name: str,
    actor: str,
    *,
    name: str | None = None,
    allowed_aliases: list[str] | None = None,
    expires_at: datetime | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    pepper: bytes | None = None,
) -> tuple[ApiKey, str]:
    """A new key for an active domain. Returns (key, secret): show the secret once, then drop it.

    `allowed_aliases` must be aliases the domain has now (None = all of the domain's).
    """
    domain = get_domain(session, domain_name)
    if domain.status != "active":
        raise Conflict(f"domain {domain_name!r} is disabled")
    aliases = validate.aliases(allowed_aliases)
    if aliases:
        unknown = set(aliases) - domain_aliases(session, domain.id)
        if unknown:
            raise Invalid(f"domain {domain_name!r} has no model(s): {', '.join(sorted(unknown))}")
    if expires_at is not None and expires_at.tzinfo is None:
        raise Invalid("expires_at must be timezone-aware")
    if name is not None and not 0 < len(name) <= 128:
        raise Invalid("key name must be 1-128 characters")
    secret = generate_secret()
    key = ApiKey(
        key_id=_new_key_id(),
        domain_id=domain.id,
        name=name,
        prefix=display_prefix(secret),
        secret_hash=hash_secret(secret, pepper if pepper is not None else load_pepper()),
        allowed_aliases=aliases,
        requests_per_minute=validate.positive(rpm, "rpm"),
        tokens_per_minute=validate.positive(tpm, "tpm"),
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    audit.record(session, actor, "key.create", "api_key", key.key_id, after=audit.snapshot(key))
    return key, secret


def rotate_key(
    session: Session, key_id: str, actor: str, *, pepper: bytes | None = None
) -> tuple[ApiKey, str]:
    """Give a live key a new secret (same key_id); the old secret is rejected from now on."""
    key = get_key(session, key_id, lock=True)
    if key.revoked_at is not None:
        raise Conflict(f"key {key_id!r} is revoked and cannot be rotated")
    before = audit.snapshot(key)
    secret = generate_secret()
    key.secret_hash = hash_secret(secret, pepper if pepper is not None else load_pepper())
    key.prefix = display_prefix(secret)
    key.rotated_at = utcnow()
    session.flush()
    audit.record(session, actor, "key.rotate", "api_key", key_id, before=before, after=audit.snapshot(key))
    return key, secret


def revoke_key(session: Session, key_id: str, actor: str) -> ApiKey:
    """Revoke a key (idempotent: revoking a revoked key changes nothing)."""
    key = get_key(session, key_id, lock=True)
    if key.revoked_at is None:
        before = audit.snapshot(key)
        key.revoked_at = utcnow()
        session.flush()
        audit.record(
            session, actor, "key.revoke", "api_key", key_id, before=before, after=audit.snapshot(key)
        )
    return key


def list_keys(session: Session, domain_name: str | None = None) -> list[ApiKey]:
    stmt = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if domain_name is not None:
        stmt = stmt.where(ApiKey.domain_id == get_domain(session, domain_name).id)
    return list(session.scalars(stmt))


def resolve_key(
    session: Session, presented: str, pepper: bytes, now: datetime | None = None
) -> ResolvedKey | None:
    """The key a presented secret belongs to, or None.

    Unknown, malformed, revoked, expired and disabled-domain keys all take this one path: the
    HMAC is always computed, exactly one query runs, the digest is always compared in constant
    time, and every failure is the same None.
    """
    now = now or utcnow()
    digest = hash_secret(presented if isinstance(presented, str) else "", pepper)
    row = session.execute(
        select(
            ApiKey.secret_hash,
            ApiKey.key_id,
            ApiKey.allowed_aliases,
            ApiKey.requests_per_minute,
            ApiKey.tokens_per_minute,
            ApiKey.expires_at,
            ApiKey.revoked_at,
            Domain.id,
            Domain.name,
            Domain.status,
        )
        .join(Domain, ApiKey.domain_id == Domain.id)
        .where(ApiKey.secret_hash == digest)
    ).first()
    matches = hmac.compare_digest(row.secret_hash if row is not None else _NO_MATCH, digest)
    if not (matches and row is not None):
        return None
    live = row.revoked_at is None and (row.expires_at is None or row.expires_at > now)
    if not (live and row.status == "active"):
        return None
    return ResolvedKey(
        key_id=row.key_id,
        domain_id=row.id,
        domain_name=row.name,
        allowed_aliases=tuple(row.allowed_aliases) if row.allowed_aliases is not None else None,
        rpm=row.requests_per_minute,
        tpm=row.tokens_per_minute,
        expires_at=row.expires_at,
    )


def touch_last_used(session: Session, key_ids: dict[str, datetime]) -> None:
    """Record last use for many keys at once (the proxy batches these off the request path)."""
    for key_id, when in key_ids.items():
        session.execute(
            update(ApiKey)
            .where(ApiKey.key_id == key_id)
            .where((ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < when))
            .values(last_used_at=when)
        )
