"""Grants: which deployments a domain sees, under which alias, with which limits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domains import audit, validate
from domains.deployments import get_deployment
from domains.errors import NotFound
from domains.models import DomainModel
from domains.tenants import get_domain


def grant_model(
    session: Session,
    domain_name: str,
    alias: str,
    deployment_name: str,
    actor: str,
    *,
    enabled: bool = True,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
    max_tokens_cap: int | None = None,
    max_prompt_tokens: int | None = None,
) -> DomainModel:
    """Grant a deployment to a domain as `alias`; granting an existing alias replaces it."""
    domain = get_domain(session, domain_name, lock=True)
    deployment = get_deployment(session, deployment_name)
    validate.alias(alias)
    values = {
        "deployment_id": deployment.id,
        "enabled": bool(enabled),
        "requests_per_minute": validate.positive(requests_per_minute, "requests_per_minute"),
        "tokens_per_minute": validate.positive(tokens_per_minute, "tokens_per_minute"),
        "max_tokens_cap": validate.positive(max_tokens_cap, "max_tokens_cap"),
        "max_prompt_tokens": validate.positive(max_prompt_tokens, "max_prompt_tokens"),
    }
    grant = session.scalars(
        select(DomainModel).where(DomainModel.domain_id == domain.id, DomainModel.alias == alias)
    ).one_or_none()
    before = audit.snapshot(grant) if grant is not None else None
    if grant is None:
        grant = DomainModel(domain_id=domain.id, alias=alias, **values)
        session.add(grant)
    else:
        for key, value in values.items():
            setattr(grant, key, value)
    session.flush()
    audit.record(
        session,
        actor,
        "grant.set",
        "domain_model",
        f"{domain.name}/{alias}",
        before=before,
        after=audit.snapshot(grant),
    )
    return grant


def revoke_model(session: Session, domain_name: str, alias: str, actor: str) -> None:
    """Remove an alias from a domain: requests naming it get 'model not found' from then on."""
    domain = get_domain(session, domain_name, lock=True)
    grant = session.scalars(
        select(DomainModel).where(DomainModel.domain_id == domain.id, DomainModel.alias == alias)
    ).one_or_none()
    if grant is None:
        raise NotFound(f"domain {domain_name!r} has no model {alias!r}")
    before = audit.snapshot(grant)
    session.delete(grant)
    session.flush()
    audit.record(session, actor, "grant.revoke", "domain_model", f"{domain.name}/{alias}", before=before)


def list_grants(session: Session, domain_name: str | None = None) -> list[DomainModel]:
    stmt = select(DomainModel).order_by(DomainModel.domain_id, DomainModel.alias)
    if domain_name is not None:
        stmt = stmt.where(DomainModel.domain_id == get_domain(session, domain_name).id)
    return list(session.scalars(stmt))


def domain_aliases(session: Session, domain_id: int) -> set[str]:
    return set(session.scalars(select(DomainModel.alias).where(DomainModel.domain_id == domain_id)))
