"""The action behind each `teecube admin` command: (session, parsed args) -> what to print."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from domains import audit, deployments, grants, idp, keys, policies, tenants, usage
from domains.config import load_pepper
from domains.errors import Invalid
from domains.rows import as_dict

DOMAIN_COLUMNS = (
    "name",
    "status",
    "requests_per_minute",
    "tokens_per_minute",
    "max_tokens_cap",
    "created_at",
)
DEPLOYMENT_COLUMNS = (
    "name",
    "kind",
    "url",
    "served_model_name",
    "credential_ref",
    "context_length",
    "status",
)
GRANT_COLUMNS = (
    "domain",
    "alias",
    "deployment",
    "enabled",
    "requests_per_minute",
    "tokens_per_minute",
    "max_tokens_cap",
    "max_prompt_tokens",
)
KEY_COLUMNS = (
    "key_id",
    "domain",
    "name",
    "prefix",
    "allowed_aliases",
    "expires_at",
    "revoked_at",
    "created_at",
    "last_used_at",
)
IDP_COLUMNS = ("issuer", "domain", "audience", "algorithms", "jwks_url", "domain_claim", "domain_claim_value")
POLICY_COLUMNS = ("domain", "version", "active", "created_by", "created_at")
AUDIT_COLUMNS = ("id", "created_at", "actor", "action", "object_type", "object_id")


Out = tuple[Any, Sequence[str] | None]  # (JSON-ready data, table columns or None for a message dict)


def _domain_names(session: Session) -> dict[int, str]:
    return {d.id: d.name for d in tenants.list_domains(session)}


def _key_row(session: Session, key: Any, names: dict[int, str] | None = None) -> dict[str, Any]:
    names = names or _domain_names(session)
    return as_dict(key, domain=names.get(key.domain_id))


def domain_create(s: Session, a: argparse.Namespace) -> Out:
    d = tenants.create_domain(
        s,
        a.name,
        a.actor,
        requests_per_minute=a.rpm,
        tokens_per_minute=a.tpm,
        max_body_bytes=a.max_body_bytes,
        max_messages=a.max_messages,
        max_n=a.max_n,
        max_tokens_cap=a.max_tokens_cap,
        guardrail_fail_mode=a.guardrail_fail_mode,
        shared_prefix_cache=a.shared_prefix_cache,
    )
    return as_dict(d), DOMAIN_COLUMNS


def domain_list(s: Session, a: argparse.Namespace) -> Out:
    return [as_dict(d) for d in tenants.list_domains(s)], DOMAIN_COLUMNS


def domain_update(s: Session, a: argparse.Namespace) -> Out:
    changes: dict[str, Any] = {}
    for flag, field in (
        ("rpm", "requests_per_minute"),
        ("tpm", "tokens_per_minute"),
        ("max_tokens_cap", "max_tokens_cap"),
        ("max_body_bytes", "max_body_bytes"),
        ("max_messages", "max_messages"),
        ("max_n", "max_n"),
        ("guardrail_fail_mode", "guardrail_fail_mode"),
        ("shared_prefix_cache", "shared_prefix_cache"),
    ):
        if getattr(a, flag) is not None:
            changes[field] = getattr(a, flag)
    for field in a.unset or []:
        changes[field] = None
    return as_dict(tenants.update_domain(s, a.name, a.actor, **changes)), DOMAIN_COLUMNS


def domain_disable(s: Session, a: argparse.Namespace) -> Out:
    return as_dict(tenants.disable_domain(s, a.name, a.actor)), DOMAIN_COLUMNS


def domain_enable(s: Session, a: argparse.Namespace) -> Out:
    return as_dict(tenants.enable_domain(s, a.name, a.actor)), DOMAIN_COLUMNS


def deployment_add(s: Session, a: argparse.Namespace) -> Out:
    d = deployments.add_deployment(
        s,
        a.name,
        a.kind,
        a.url,
        a.served_model_name,
        a.actor,
        credential_ref=a.credential_ref,
        context_length=a.context_length,
    )
    return as_dict(d), DEPLOYMENT_COLUMNS


def deployment_update(s: Session, a: argparse.Namespace) -> Out:
    changes: dict[str, Any] = {"url": a.url, "served_model_name": a.served_model_name}
    if a.credential_ref is not None or a.clear_credential_ref:
        changes["credential_ref"] = None if a.clear_credential_ref else a.credential_ref
    if a.context_length is not None:
        changes["context_length"] = a.context_length
    return as_dict(deployments.update_deployment(s, a.name, a.actor, **changes)), DEPLOYMENT_COLUMNS


def deployment_status(s: Session, a: argparse.Namespace) -> Out:
    status = "disabled" if a.action == "disable" else "active"
    return as_dict(deployments.set_deployment_status(s, a.name, status, a.actor)), DEPLOYMENT_COLUMNS


def deployment_list(s: Session, a: argparse.Namespace) -> Out:
    return [as_dict(d) for d in deployments.list_deployments(s)], DEPLOYMENT_COLUMNS


def _grant_row(g: Any, names: dict[int, str]) -> dict[str, Any]:
    return as_dict(g, domain=names.get(g.domain_id), deployment=g.deployment.name)


def grant(s: Session, a: argparse.Namespace) -> Out:
    g = grants.grant_model(
        s,
        a.domain,
        a.alias,
        a.deployment,
        a.actor,
        enabled=not a.disabled,
        requests_per_minute=a.rpm,
        tokens_per_minute=a.tpm,
        max_tokens_cap=a.max_tokens_cap,
        max_prompt_tokens=a.max_prompt_tokens,
    )
    return _grant_row(g, _domain_names(s)), GRANT_COLUMNS


def revoke(s: Session, a: argparse.Namespace) -> Out:
    grants.revoke_model(s, a.domain, a.alias, a.actor)
    return {"domain": a.domain, "alias": a.alias, "revoked": True}, None


def models_list(s: Session, a: argparse.Namespace) -> Out:
    names = _domain_names(s)
    return [_grant_row(g, names) for g in grants.list_grants(s, a.domain)], GRANT_COLUMNS


def _pepper(a: argparse.Namespace) -> bytes:
    return load_pepper(a.pepper_file)


def key_create(s: Session, a: argparse.Namespace) -> Out:
    expires_at = a.expires_at or (datetime.now(UTC) + a.expires_in if a.expires_in else None)
    key, secret = keys.create_key(
        s,
        a.domain,
        a.actor,
        name=a.name,
        allowed_aliases=a.models,
        expires_at=expires_at,
        rpm=a.rpm,
        tpm=a.tpm,
        pepper=_pepper(a),
    )
    return {"key": _key_row(s, key), "secret": secret}, KEY_COLUMNS


def key_rotate(s: Session, a: argparse.Namespace) -> Out:
    key, secret = keys.rotate_key(s, a.key_id, a.actor, pepper=_pepper(a))
    return {"key": _key_row(s, key), "secret": secret}, KEY_COLUMNS


def key_list(s: Session, a: argparse.Namespace) -> Out:
    names = _domain_names(s)
    return [_key_row(s, k, names) for k in keys.list_keys(s, a.domain)], KEY_COLUMNS


def key_revoke(s: Session, a: argparse.Namespace) -> Out:
    return _key_row(s, keys.revoke_key(s, a.key_id, a.actor)), KEY_COLUMNS


def _read_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        return json.loads(text)
    except OSError as exc:
        raise Invalid(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise Invalid(f"{path} is not valid JSON: {exc}") from None


def idp_add(s: Session, a: argparse.Namespace) -> Out:
    static_keys = None
    if a.static_key_file:
        static_keys = []
        for path in a.static_key_file:
            text = Path(path).read_text()
            static_keys.append(json.loads(text) if text.lstrip().startswith("{") else text)
    p = idp.add_identity_provider(
        s,
        a.domain,
        a.actor,
        issuer=a.issuer,
        audience=a.audience,
        algorithms=a.algorithms,
        domain_claim=a.domain_claim,
        domain_claim_value=a.domain_claim_value,
        jwks_url=a.jwks_url,
        static_keys=static_keys,
        aliases_claim=a.aliases_claim,
    )
    return as_dict(p, domain=a.domain), IDP_COLUMNS


def idp_list(s: Session, a: argparse.Namespace) -> Out:
    names = _domain_names(s)
    return [
        as_dict(p, domain=names.get(p.domain_id)) for p in idp.list_identity_providers(s, a.domain)
    ], IDP_COLUMNS


def idp_remove(s: Session, a: argparse.Namespace) -> Out:
    idp.remove_identity_provider(s, a.issuer, a.actor)
    return {"issuer": a.issuer, "removed": True}, None


def policy_set(s: Session, a: argparse.Namespace) -> Out:
    p = policies.create_policy_version(s, a.domain, _read_json(a.file), a.actor, activate=a.activate)
    return as_dict(p, domain=a.domain), POLICY_COLUMNS


def policy_list(s: Session, a: argparse.Namespace) -> Out:
    return [as_dict(p, domain=a.domain) for p in policies.list_policy_versions(s, a.domain)], POLICY_COLUMNS


def policy_activate(s: Session, a: argparse.Namespace) -> Out:
    return as_dict(
        policies.activate_policy_version(s, a.domain, a.version, a.actor), domain=a.domain
    ), POLICY_COLUMNS


def policy_show(s: Session, a: argparse.Namespace) -> Out:
    return as_dict(policies.get_active_policy(s, a.domain), domain=a.domain), None


def audit_list(s: Session, a: argparse.Namespace) -> Out:
    return [as_dict(e) for e in audit.list_events(s, limit=a.limit)], AUDIT_COLUMNS


def usage_list(s: Session, a: argparse.Namespace) -> Out:
    rows = usage.usage_totals(s, domain=a.domain, since=a.since, until=a.until, limit=a.limit)
    return rows, usage.USAGE_COLUMNS
