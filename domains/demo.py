"""The demo domain that `teecube serve --demo` seeds (idempotent)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domains.deployments import add_deployment, update_deployment
from domains.grants import grant_model
from domains.keys import create_key, list_keys
from domains.models import Deployment, Domain, DomainModel, UsageRecord, utcnow
from domains.tenants import create_domain

DEMO_DOMAIN = "demo"
DEMO_DEPLOYMENT = "smollm2-135m"
DEMO_ALIAS = "smollm2"
DEMO_ENGINE_URL = "http://127.0.0.1:8001"
DEMO_SERVED_MODEL = "SmolLM2-135M-Instruct"
DEMO_CONTEXT_LENGTH = 8192


def seed_demo(
    session: Session,
    actor: str,
    pepper: bytes,
    *,
    engine_url: str = DEMO_ENGINE_URL,
    served_model_name: str = DEMO_SERVED_MODEL,
    credential_ref: str | None = None,
    fresh_key: bool = False,
) -> tuple[list[str], str | None]:
    """Create what is missing of the demo setup; point the demo deployment at `engine_url`.

    A key is created when the demo domain has none, or always with `fresh_key` (earlier demo
    keys stay valid). Returns (what was done, the new key's secret or None).
    """
    done: list[str] = []
    if session.scalars(select(Domain).where(Domain.name == DEMO_DOMAIN)).first() is None:
        create_domain(session, DEMO_DOMAIN, actor)
        done.append(f"created domain {DEMO_DOMAIN}")
    deployment = session.scalars(select(Deployment).where(Deployment.name == DEMO_DEPLOYMENT)).first()
    if deployment is None:
        add_deployment(
            session,
            DEMO_DEPLOYMENT,
            "teecube",
            engine_url,
            served_model_name,
            actor,
            credential_ref=credential_ref,
            context_length=DEMO_CONTEXT_LENGTH,
        )
        done.append(f"added deployment {DEMO_DEPLOYMENT} ({engine_url})")
    elif (deployment.url, deployment.served_model_name, deployment.credential_ref) != (
        engine_url,
        served_model_name,
        credential_ref,
    ):
        update_deployment(
            session,
            DEMO_DEPLOYMENT,
            actor,
            url=engine_url,
            served_model_name=served_model_name,
            credential_ref=credential_ref,
        )
        done.append(f"pointed deployment {DEMO_DEPLOYMENT} at {engine_url}")
    grant = session.scalars(
        select(DomainModel).join(Domain).where(Domain.name == DEMO_DOMAIN, DomainModel.alias == DEMO_ALIAS)
    ).first()
    if grant is None:
        grant_model(session, DEMO_DOMAIN, DEMO_ALIAS, DEMO_DEPLOYMENT, actor)
        done.append(f"granted {DEMO_ALIAS} -> {DEMO_DEPLOYMENT} to {DEMO_DOMAIN}")
    seed_sample_usage(session)
    secret = None
    if fresh_key or not list_keys(session, DEMO_DOMAIN):
        key, secret = create_key(session, DEMO_DOMAIN, actor, name="demo", pepper=pepper)
        done.append(f"created key {key.key_id} for {DEMO_DOMAIN}")
    return done, secret


def seed_sample_usage(session: Session, hours: int = 24) -> int:
    """A day of sample usage for the demo domain (metadata rows only), when it has none yet.

    So the console's charts are not empty on a fresh demo. Request ids start with `sample-`.
    """
    domain = session.scalars(select(Domain).where(Domain.name == DEMO_DOMAIN)).one()
    if session.scalar(select(func.count()).where(UsageRecord.domain_id == domain.id)):
        return 0
    deployment_id = session.scalars(select(Deployment.id).where(Deployment.name == DEMO_DEPLOYMENT)).first()
    now = utcnow()
    rows = []
    for hour in range(hours):
        for n in range(2 + (hour * 7) % 5):  # a deterministic, uneven load
            status, code, rules = "ok", 200, None
            if n == 3:
                status, code = "rate_limited", 429
            elif n == 4:
                rules = "pii.email"
            rows.append(UsageRecord(
                request_id=f"sample-{hour:02d}-{n}", domain_id=domain.id, key_id=None, alias=DEMO_ALIAS,
                deployment_id=deployment_id, prompt_tokens=0 if code == 429 else 40 + 13 * n + hour,
                completion_tokens=0 if code == 429 else 60 + 17 * ((hour + n) % 6), status=status,
                status_code=code, latency_ms=120 + 35 * n, guardrail_rule_ids=rules,
                created_at=now - timedelta(hours=hour, minutes=7 * n),
            ))
    session.add_all(rows)
    return len(rows)
