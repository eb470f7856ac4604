"""Guardrail policies: versioned JSON config per domain, exactly one active version.

A partial unique index (`WHERE active`) makes two active versions impossible; the domain row
lock serialises version numbering and activation so concurrent callers queue, not fail.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from domains import audit
from domains.errors import Invalid, NotFound
from domains.models import GuardrailPolicy
from domains.tenants import get_domain

MAX_CONFIG_BYTES = 256 * 1024


def _summary(policy: GuardrailPolicy) -> dict[str, Any]:
    return {"domain_id": policy.domain_id, "version": policy.version, "active": policy.active}


def check_config(config: dict[str, Any]) -> dict[str, Any]:
    """The one validation of a policy config, for `teecube admin policy set` and the admin API alike:
    plain JSON, bounded size, and compiled by the proxy's guardrail compiler, so a config the proxy
    could not enforce is never stored. Raises `PolicyConfigError` (a ValueError naming the field)."""
    if not isinstance(config, dict):
        raise Invalid("guardrail policy config must be a JSON object")
    try:
        encoded = json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise Invalid(f"guardrail policy config is not plain JSON: {exc}") from None
    if len(encoded) > MAX_CONFIG_BYTES:
        raise Invalid(f"guardrail policy config is larger than {MAX_CONFIG_BYTES} bytes")
    plain: dict[str, Any] = json.loads(encoded)
    from proxy.guardrails.policy import compile_policy  # the enforcer is the schema

    compile_policy(plain)
    return plain


def create_policy_version(
    session: Session, domain: str | int, config: dict[str, Any], actor: str, *, activate: bool = False
) -> GuardrailPolicy:
    """Store the next version of a domain's policy (inactive unless `activate`)."""
    config = check_config(config)
    dom = get_domain(session, domain, lock=True)
    latest = session.scalar(
        select(func.max(GuardrailPolicy.version)).where(GuardrailPolicy.domain_id == dom.id)
    )
    policy = GuardrailPolicy(
        domain_id=dom.id, version=(latest or 0) + 1, config=config, active=False, created_by=actor
    )
    session.add(policy)
    session.flush()
    audit.record(
        session,
        actor,
        "policy.create",
        "guardrail_policy",
        f"{dom.name}/v{policy.version}",
        after={**_summary(policy), "config": config},
    )
    if activate:
        activate_policy_version(session, dom.id, policy.version, actor)
    return policy


def activate_policy_version(session: Session, domain: str | int, version: int, actor: str) -> GuardrailPolicy:
    dom = get_domain(session, domain, lock=True)
    target = session.scalars(
        select(GuardrailPolicy).where(GuardrailPolicy.domain_id == dom.id, GuardrailPolicy.version == version)
    ).one_or_none()
    if target is None:
        raise NotFound(f"domain {dom.name!r} has no guardrail policy version {version}")
    if target.active:
        return target
    previous = session.scalar(
        select(GuardrailPolicy.version).where(GuardrailPolicy.domain_id == dom.id, GuardrailPolicy.active)
    )
    # Deactivate first, then activate: the partial unique index checks each statement.
    session.execute(
        update(GuardrailPolicy)
        .where(GuardrailPolicy.domain_id == dom.id, GuardrailPolicy.active)
        .values(active=False)
        .execution_options(synchronize_session="fetch")
    )
    session.execute(
        update(GuardrailPolicy)
        .where(GuardrailPolicy.id == target.id)
        .values(active=True)
        .execution_options(synchronize_session="fetch")
    )
    session.flush()
    audit.record(
        session,
        actor,
        "policy.activate",
        "guardrail_policy",
        f"{dom.name}/v{version}",
        before={"domain_id": dom.id, "active_version": previous},
        after={"domain_id": dom.id, "active_version": version},
    )
    return target


def get_active_policy(session: Session, domain: str | int) -> GuardrailPolicy:
    dom_id = domain if isinstance(domain, int) else get_domain(session, domain).id
    policy = session.scalars(
        select(GuardrailPolicy).where(GuardrailPolicy.domain_id == dom_id, GuardrailPolicy.active)
    ).one_or_none()
    if policy is None:
        raise NotFound(f"domain {domain!r} has no active guardrail policy")
    return policy


def list_policy_versions(session: Session, domain: str | int) -> list[GuardrailPolicy]:
    dom = get_domain(session, domain)
    stmt = (
        select(GuardrailPolicy).where(GuardrailPolicy.domain_id == dom.id).order_by(GuardrailPolicy.version)
    )
    return list(session.scalars(stmt))
