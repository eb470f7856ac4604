"""The demo domain that `teecube serve --demo` seeds (idempotent)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domains.deployments import add_deployment, update_deployment
from domains.grants import grant_model
from domains.keys import create_key, list_keys
from domains.models import Deployment, Domain, DomainModel
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
    secret = None
    if fresh_key or not list_keys(session, DEMO_DOMAIN):
        key, secret = create_key(session, DEMO_DOMAIN, actor, name="demo", pepper=pepper)
        done.append(f"created key {key.key_id} for {DEMO_DOMAIN}")
    return done, secret
