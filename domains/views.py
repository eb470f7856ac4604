"""Read-only views the proxy routes with: a domain's models, its request caps, the trusted JWT
issuers and guardrail-model deployments. Plain values, safe to cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domains.models import Deployment, Domain, DomainModel, IdentityProvider


@dataclass(frozen=True, slots=True)
class ModelGrant:
    """One alias of one domain, resolved to its deployment. A plain value, safe to cache."""

    alias: str
    deployment_id: int
    deployment_name: str
    kind: str
    url: str
    served_model_name: str
    credential_ref: str | None
    context_length: int | None
    enabled: bool  # the grant is enabled and the deployment is active
    rpm: int | None
    tpm: int | None
    max_tokens_cap: int | None
    max_prompt_tokens: int | None


@dataclass(frozen=True, slots=True)
class DomainSettings:
    domain_id: int
    name: str
    active: bool
    rpm: int | None
    tpm: int | None
    max_body_bytes: int
    max_messages: int
    max_n: int
    max_tokens_cap: int | None
    guardrail_fail_mode: str
    shared_prefix_cache: bool = False
    require_encrypted_requests: bool = False


def domain_view(session: Session, domain_id: int) -> dict[str, ModelGrant]:
    """alias -> ModelGrant for every model granted to the domain (deny anything not in it)."""
    rows = session.execute(
        select(DomainModel, Deployment)
        .join(Deployment, DomainModel.deployment_id == Deployment.id)
        .where(DomainModel.domain_id == domain_id)
        .order_by(DomainModel.alias)
    ).all()
    return {
        grant.alias: ModelGrant(
            alias=grant.alias,
            deployment_id=dep.id,
            deployment_name=dep.name,
            kind=dep.kind,
            url=dep.url,
            served_model_name=dep.served_model_name,
            credential_ref=dep.credential_ref,
            context_length=dep.context_length,
            enabled=grant.enabled and dep.status == "active",
            rpm=grant.requests_per_minute,
            tpm=grant.tokens_per_minute,
            max_tokens_cap=grant.max_tokens_cap,
            max_prompt_tokens=grant.max_prompt_tokens,
        )
        for grant, dep in rows
    }


def domain_settings(session: Session, domain_id: int) -> DomainSettings | None:
    d = session.get(Domain, domain_id)
    if d is None:
        return None
    return DomainSettings(
        domain_id=d.id,
        name=d.name,
        active=d.status == "active",
        rpm=d.requests_per_minute,
        tpm=d.tokens_per_minute,
        max_body_bytes=d.max_body_bytes,
        max_messages=d.max_messages,
        max_n=d.max_n,
        max_tokens_cap=d.max_tokens_cap,
        guardrail_fail_mode=d.guardrail_fail_mode,
        shared_prefix_cache=d.shared_prefix_cache,
        require_encrypted_requests=d.require_encrypted_requests,
    )


@dataclass(frozen=True, slots=True)
class IssuerConfig:
    """A JWT issuer trusted for one active domain (`teecube admin idp add`)."""

    issuer: str
    audience: str
    algorithms: tuple[str, ...]
    domain_id: int
    domain_name: str
    domain_claim: str
    domain_claim_value: str
    aliases_claim: str | None = None
    jwks_url: str | None = None
    static_keys: tuple[Any, ...] = ()


def issuer_configs(session: Session) -> list[IssuerConfig]:
    rows = session.execute(
        select(IdentityProvider, Domain)
        .join(Domain, IdentityProvider.domain_id == Domain.id)
        .where(Domain.status == "active")
    ).all()
    return [
        IssuerConfig(
            issuer=idp.issuer,
            audience=idp.audience,
            algorithms=tuple(idp.algorithms),
            domain_id=dom.id,
            domain_name=dom.name,
            domain_claim=idp.domain_claim,
            domain_claim_value=idp.domain_claim_value,
            aliases_claim=idp.aliases_claim,
            jwks_url=idp.jwks_url,
            static_keys=tuple(idp.static_keys or ()),
        )
        for idp, dom in rows
    ]


def guard_deployment(session: Session, name: str) -> tuple[str, str | None, str, str] | None:
    """(url, credential_ref, served_model_name, status) of a guardrail model's deployment."""
    dep = session.scalars(select(Deployment).where(Deployment.name == name)).one_or_none()
    if dep is None:
        return None
    return dep.url, dep.credential_ref, dep.served_model_name, dep.status
