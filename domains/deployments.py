"""Deployments: the served models an operator registers (upstream URL is operator-set only)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domains import audit, validate
from domains.errors import Conflict, Invalid, NotFound
from domains.models import DEPLOYMENT_KINDS, Deployment


def get_deployment(session: Session, name: str) -> Deployment:
    deployment = session.scalars(select(Deployment).where(Deployment.name == name)).one_or_none()
    if deployment is None:
        raise NotFound(f"deployment {name!r} not found")
    return deployment


def add_deployment(
    session: Session,
    name: str,
    kind: str,
    url: str,
    served_model_name: str,
    actor: str,
    *,
    credential_ref: str | None = None,
    context_length: int | None = None,
) -> Deployment:
    validate.name(name, "deployment name")
    if kind not in DEPLOYMENT_KINDS:
        raise Invalid(f"deployment kind must be one of {', '.join(DEPLOYMENT_KINDS)}")
    if not served_model_name or len(served_model_name) > 256:
        raise Invalid("served model name must be 1-256 characters")
    if session.scalars(select(Deployment.id).where(Deployment.name == name)).first() is not None:
        raise Conflict(f"deployment {name!r} already exists")
    deployment = Deployment(
        name=name,
        kind=kind,
        url=validate.upstream_url(url),
        served_model_name=served_model_name,
        credential_ref=validate.credential_ref(credential_ref),
        context_length=validate.positive(context_length, "context_length"),
    )
    session.add(deployment)
    session.flush()
    audit.record(session, actor, "deployment.add", "deployment", name, after=audit.snapshot(deployment))
    return deployment


def list_deployments(session: Session) -> list[Deployment]:
    return list(session.scalars(select(Deployment).order_by(Deployment.name)))


def set_deployment_status(session: Session, name: str, status: str, actor: str) -> Deployment:
    if status not in ("active", "disabled"):
        raise Invalid("status must be active or disabled")
    deployment = get_deployment(session, name)
    if deployment.status != status:
        before = audit.snapshot(deployment)
        deployment.status = status
        session.flush()
        audit.record(
            session,
            actor,
            f"deployment.{'enable' if status == 'active' else 'disable'}",
            "deployment",
            name,
            before=before,
            after=audit.snapshot(deployment),
        )
    return deployment


_UNSET: object = object()


def update_deployment(
    session: Session,
    name: str,
    actor: str,
    *,
    url: str | None = None,
    served_model_name: str | None = None,
    credential_ref: str | object | None = _UNSET,
    context_length: int | object | None = _UNSET,
) -> Deployment:
    """Change a deployment's upstream; only the fields given change (audited if anything did)."""
    deployment = get_deployment(session, name)
    before = audit.snapshot(deployment)
    if url is not None:
        deployment.url = validate.upstream_url(url)
    if served_model_name is not None:
        if not served_model_name or len(served_model_name) > 256:
            raise Invalid("served model name must be 1-256 characters")
        deployment.served_model_name = served_model_name
    if credential_ref is not _UNSET:
        deployment.credential_ref = validate.credential_ref(credential_ref)  # type: ignore[arg-type]
    if context_length is not _UNSET:
        deployment.context_length = validate.positive(context_length, "context_length")  # type: ignore[arg-type]
    after = audit.snapshot(deployment)
    if after != before:
        session.flush()
        audit.record(session, actor, "deployment.update", "deployment", name, before=before, after=after)
    return deployment
