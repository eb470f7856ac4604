"""SQLAlchemy 2.0 typed models: the whole schema of the domains data model.

Secrets never live here: API keys are stored as HMAC-SHA256(pepper, secret), the pepper
stays in configuration, and deployments hold a *reference* to an upstream credential.
Usage and audit rows carry metadata only, never prompt or completion text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Named constraints so that downgrades and future ALTERs work on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_MESSAGES = 256
DEFAULT_MAX_N = 8
DEPLOYMENT_KINDS = ("teecube", "openai", "ollama")
STATUSES = ("active", "disabled")
FAIL_MODES = ("closed", "open")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out; SQLite returns naive values, so re-attach UTC on load."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# A 64-bit primary key that still autoincrements on SQLite (which needs plain INTEGER for that).
BigID = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Domain(Base):
    __tablename__ = "domains"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(_in("guardrail_fail_mode", FAIL_MODES), name="guardrail_fail_mode"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    requests_per_minute: Mapped[int | None]
    tokens_per_minute: Mapped[int | None]
    max_body_bytes: Mapped[int] = mapped_column(default=DEFAULT_MAX_BODY_BYTES)
    max_messages: Mapped[int] = mapped_column(default=DEFAULT_MAX_MESSAGES)
    max_n: Mapped[int] = mapped_column(default=DEFAULT_MAX_N)
    max_tokens_cap: Mapped[int | None]
    guardrail_fail_mode: Mapped[str] = mapped_column(String(8), default="closed")
    # Opt-in: share the engine's prefix cache with other domains (timing side channel, see docs).
    shared_prefix_cache: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Refuse plaintext (non-HPKE) request bodies for this domain's keys.
    require_encrypted_requests: Mapped[bool] = mapped_column(default=False, server_default=false())

    models: Mapped[list[DomainModel]] = relationship(back_populates="domain", passive_deletes=True)


class Deployment(Base):
    __tablename__ = "deployments"
    __table_args__ = (
        CheckConstraint(_in("kind", DEPLOYMENT_KINDS), name="kind"),
        CheckConstraint(_in("status", STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(2048))
    served_model_name: Mapped[str] = mapped_column(String(256))
    credential_ref: Mapped[str | None] = mapped_column(String(512))
    context_length: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DomainModel(Base):
    """A domain's view of one deployment: the alias tenants use, and per-domain limits."""

    __tablename__ = "domain_models"
    __table_args__ = (UniqueConstraint("domain_id", "alias"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(128))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="RESTRICT"), index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    requests_per_minute: Mapped[int | None]
    tokens_per_minute: Mapped[int | None]
    max_tokens_cap: Mapped[int | None]
    max_prompt_tokens: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    domain: Mapped[Domain] = relationship(back_populates="models")
    deployment: Mapped[Deployment] = relationship()


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    allowed_aliases: Mapped[list[Any] | None]
    requests_per_minute: Mapped[int | None]
    tokens_per_minute: Mapped[int | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    rotated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]

    domain: Mapped[Domain] = relationship()


class GuardrailPolicy(Base):
    __tablename__ = "guardrail_policies"
    __table_args__ = (
        UniqueConstraint("domain_id", "version"),
        # At most one active version per domain, whatever the concurrency.
        Index(
            "uq_guardrail_policies_one_active",
            "domain_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    version: Mapped[int]
    config: Mapped[dict[str, Any]]
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(256))


class IdentityProvider(Base):
    """A tenant's JWT issuer: asymmetric algorithms only, keys from a JWKS URL or given statically."""

    __tablename__ = "identity_providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(512), unique=True)
    audience: Mapped[str] = mapped_column(String(512))
    jwks_url: Mapped[str | None] = mapped_column(String(2048))
    static_keys: Mapped[list[Any] | None]
    algorithms: Mapped[list[Any]]
    domain_claim: Mapped[str] = mapped_column(String(128))
    domain_claim_value: Mapped[str] = mapped_column(String(256))
    aliases_claim: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UsageRecord(Base):
    """One request's metadata. Never prompt or completion text."""

    __tablename__ = "usage_records"
    __table_args__ = (Index(None, "domain_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    key_id: Mapped[str | None] = mapped_column(String(32), index=True)
    alias: Mapped[str] = mapped_column(String(128))
    deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id", ondelete="SET NULL"))
    prompt_tokens: Mapped[int] = mapped_column(default=0)
    completion_tokens: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(32))
    status_code: Mapped[int]
    latency_ms: Mapped[int]
    guardrail_rule_ids: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Who did what to which object: before/after of non-secret fields only."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    actor: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(128))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
