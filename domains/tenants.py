"""Domains (tenants): create, list, disable, enable, look up."""

from __future__ import annotations

import copy

from sqlalchemy import select
from sqlalchemy.orm import Session

from domains import audit, validate
from domains.errors import Conflict, Invalid, NotFound
from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY
from domains.models import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_MESSAGES,
    DEFAULT_MAX_N,
    FAIL_MODES,
    Domain,
    GuardrailPolicy,
)


def get_domain(session: Session, ref: str | int, *, lock: bool = False) -> Domain:
    """A domain by name or id; `lock` takes a row lock (PostgreSQL) to serialise per-domain changes."""
    column = Domain.id if isinstance(ref, int) else Domain.name
    stmt = select(Domain).where(column == ref)
    if lock:
        stmt = stmt.with_for_update()
    domain = session.scalars(stmt).one_or_none()
    if domain is None:
        raise NotFound(f"domain {ref!r} not found")
    return domain


def create_domain(
    session: Session,
    name: str,
    actor: str,
    *,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_messages: int = DEFAULT_MAX_MESSAGES,
    max_n: int = DEFAULT_MAX_N,
    max_tokens_cap: int | None = None,
    guardrail_fail_mode: str = "closed",
    shared_prefix_cache: bool = False,
    require_encrypted_requests: bool = False,
) -> Domain:
    """A new active domain with guardrail policy version 1 (the default) active."""
    validate.name(name, "domain name")
    if guardrail_fail_mode not in FAIL_MODES:
        raise Invalid(f"guardrail_fail_mode must be one of {', '.join(FAIL_MODES)}")
    if session.scalars(select(Domain.id).where(Domain.name == name)).first() is not None:
        raise Conflict(f"domain {name!r} already exists")
    domain = Domain(
        name=name,
        requests_per_minute=validate.positive(requests_per_minute, "requests_per_minute"),
        tokens_per_minute=validate.positive(tokens_per_minute, "tokens_per_minute"),
        max_body_bytes=validate.positive(max_body_bytes, "max_body_bytes"),
        max_messages=validate.positive(max_messages, "max_messages"),
        max_n=validate.positive(max_n, "max_n"),
        max_tokens_cap=validate.positive(max_tokens_cap, "max_tokens_cap"),
        guardrail_fail_mode=guardrail_fail_mode,
        shared_prefix_cache=validate.flag(shared_prefix_cache, "shared_prefix_cache"),
        require_encrypted_requests=validate.flag(require_encrypted_requests, "require_encrypted_requests"),
    )
    session.add(domain)
    session.flush()
    policy = GuardrailPolicy(
        domain_id=domain.id,
        version=1,
        config=copy.deepcopy(DEFAULT_GUARDRAIL_POLICY),
        active=True,
        created_by=actor,
    )
    session.add(policy)
    session.flush()
    audit.record(session, actor, "domain.create", "domain", domain.name, after=audit.snapshot(domain))
    return domain


def list_domains(session: Session) -> list[Domain]:
    return list(session.scalars(select(Domain).order_by(Domain.name)))


def _set_status(session: Session, name: str, actor: str, status: str) -> Domain:
    domain = get_domain(session, name, lock=True)
    if domain.status == status:
        return domain
    before = audit.snapshot(domain)
    domain.status = status
    session.flush()
    action = "domain.disable" if status == "disabled" else "domain.enable"
    audit.record(session, actor, action, "domain", name, before=before, after=audit.snapshot(domain))
    return domain


def disable_domain(session: Session, name: str, actor: str) -> Domain:
    """Disable a domain: its keys stop resolving at once (idempotent)."""
    return _set_status(session, name, actor, "disabled")


def enable_domain(session: Session, name: str, actor: str) -> Domain:
    return _set_status(session, name, actor, "active")


_LIMIT_FIELDS = ("requests_per_minute", "tokens_per_minute", "max_tokens_cap")
_CAP_FIELDS = ("max_body_bytes", "max_messages", "max_n")
_FLAG_FIELDS = ("shared_prefix_cache", "require_encrypted_requests")


def update_domain(session: Session, name: str, actor: str, **changes: int | str | bool | None) -> Domain:
    """Change a domain's limits, caps, flags or guardrail fail mode. Limits accept None (= no limit)."""
    unknown = set(changes) - {*_LIMIT_FIELDS, *_CAP_FIELDS, *_FLAG_FIELDS, "guardrail_fail_mode"}
    if unknown:
        raise Invalid(f"cannot change {', '.join(sorted(unknown))}")
    domain = get_domain(session, name, lock=True)
    before = audit.snapshot(domain)
    for field, value in changes.items():
        if field == "guardrail_fail_mode":
            if value not in FAIL_MODES:
                raise Invalid(f"guardrail_fail_mode must be one of {', '.join(FAIL_MODES)}")
        elif field in _FLAG_FIELDS:
            validate.flag(value, field)
        elif field in _CAP_FIELDS and value is None:
            raise Invalid(f"{field} cannot be unset")
        else:
            validate.positive(value, field)  # type: ignore[arg-type]
        setattr(domain, field, value)
    after = audit.snapshot(domain)
    if after != before:
        session.flush()
        audit.record(session, actor, "domain.update", "domain", name, before=before, after=after)
    return domain
