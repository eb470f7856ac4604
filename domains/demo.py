"""The demo domain that `teecube serve --demo` seeds (idempotent)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domains.deployments import add_deployment
from domains.grants import grant_model
from domains.keys import create_key, list_keys
from domains.models import Deployment, Domain, DomainModel
from domains.tenants import create_domain

DEMO_DOMAIN = "demo"
DEMO_DEPLOYMENT = "smollm2-135m"
DEMO_ALIAS = "smollm2"
DEMO_ENGINE_URL = "http://127.0.0.1:8001"
DEMO_SERVED_MODEL = "SmolLM2-135M-Instruct"


def seed_demo(session: Session, actor: str, pepper: bytes) -> tuple[list[str], str | None]:
    """Create what is missing of the demo setup. Returns (what was done, a new key's secret or None)."""
    done: list[str] = []
    if session.scalars(select(Domain).where(Domain.name == DEMO_DOMAIN)).first() is None:
        create_domain(session, DEMO_DOMAIN, actor)
        done.append(f"created domain {DEMO_DOMAIN}")
    if session.scalars(select(Deployment).where(Deployment.name == DEMO_DEPLOYMENT)).first() is None:
        add_deployment(
            session,
            DEMO_DEPLOYMENT,
            "teecube",
            DEMO_ENGINE_URL,
            DEMO_SERVED_MODEL,
            actor,
            context_length=8192,
        )
        done.append(f"added deployment {DEMO_DEPLOYMENT} ({DEMO_ENGINE_URL})")
    grant = session.scalars(
        select(DomainModel).join(Domain).where(Domain.name == DEMO_DOMAIN, DomainModel.alias == DEMO_ALIAS)
    ).first()
    if grant is None:
        grant_model(session, DEMO_DOMAIN, DEMO_ALIAS, DEMO_DEPLOYMENT, actor)
        done.append(f"granted {DEMO_ALIAS} -> {DEMO_DEPLOYMENT} to {DEMO_DOMAIN}")
    secret = None
    if not list_keys(session, DEMO_DOMAIN):
        key, secret = create_key(session, DEMO_DOMAIN, actor, name="demo", pepper=pepper)
        done.append(f"created key {key.key_id} for {DEMO_DOMAIN}")
    return done, secret
