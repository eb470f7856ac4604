"""The `Action` record and what each operator action does (the table itself is `table.py`).

An `Action` names its input dataclass (`inputs.py`), the `domains/` function that performs it
(`run`), how its result is shown (table columns; a secret shown once), and its place in each
interface: the `teecube admin` words, the admin API route and the console route. `teecube admin`
(domains/cli.py), the admin API (proxy/routes/admin/actions.py) and the console
(proxy/console/action_forms.py) are generated from `table.ACTIONS`; tests/domains/test_operator_actions.py
checks that every action is reachable from all three.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from domains import audit, deployments, grants, idp, keys, policies, tenants, usage
from domains.errors import NotFound
from domains.operator_actions import inputs as i
from domains.operator_actions.fields import ActionInvalid, FieldSpec, given, specs
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


@dataclass(frozen=True)
class Context:
    """What an interface supplies besides the input: the key pepper (key create and rotate)."""

    pepper: bytes | None = None


Run = Callable[[Session, str, Any, Context], Any]


@dataclass(frozen=True)
class Action:
    name: str  # "domain.create": also the audit vocabulary's stem
    help: str
    input: type[Any]
    run: Run  # (session, actor, input, context) -> JSON-ready result
    cli: tuple[str, ...]  # `teecube admin` words
    http: tuple[str, str]  # admin API (method, path); GET and DELETE read the query string
    console: tuple[str, str]  # console (method, path under /console): a form (POST) or the page showing it
    columns: Sequence[str] | None = None  # table columns for people; None = a message dict
    status: int = 200  # HTTP status on success
    listing: bool = False  # a list: the API wraps it as {"object": "list", "data": [...]}
    secret: bool = False  # the result carries a secret shown once: {"key": ..., "secret": ...}
    needs_pepper: bool = False
    changes: bool = True  # False for reads
    done: str = ""  # console message after the form, formatted with the input's fields
    then: str = ""  # console page to show after the form (formatted likewise; default: the form's page)
    also_http: tuple[tuple[str, str], ...] = field(default=())  # further admin API routes

    @property
    def fields(self) -> list[FieldSpec]:
        return specs(self.input)


# ---- what each action does --------------------------------------------------------------------


def _names(s: Session) -> dict[int, str]:
    return {d.id: d.name for d in tenants.list_domains(s)}


def _key_row(s: Session, key: Any) -> dict[str, Any]:
    return as_dict(key, domain=tenants.get_domain(s, key.domain_id).name)


def _grant_row(g: Any, names: dict[int, str]) -> dict[str, Any]:
    return as_dict(g, domain=names.get(g.domain_id), deployment=g.deployment.name)


def domain_create(s: Session, actor: str, a: i.DomainCreate, _c: Context) -> Any:
    return as_dict(tenants.create_domain(s, a.name, actor, **given(a, "name")))


def domain_update(s: Session, actor: str, a: i.DomainUpdate, _c: Context) -> Any:
    return as_dict(tenants.update_domain(s, a.name, actor, **given(a, "name")))


def deployment_add(s: Session, actor: str, a: i.DeploymentAdd, _c: Context) -> Any:
    return as_dict(
        deployments.add_deployment(
            s,
            a.name,
            a.kind,
            a.url,
            a.served_model_name,
            actor,
            credential_ref=a.credential_ref,
            context_length=a.context_length,
        )
    )


def deployment_update(s: Session, actor: str, a: i.DeploymentUpdate, _c: Context) -> Any:
    return as_dict(deployments.update_deployment(s, a.name, actor, **given(a, "name")))


def grant(s: Session, actor: str, a: i.Grant, _c: Context) -> Any:
    g = grants.grant_model(
        s, a.domain, a.alias, a.deployment, actor, **given(a, "domain", "alias", "deployment")
    )
    return _grant_row(g, _names(s))


def grant_revoke(s: Session, actor: str, a: i.GrantRef, _c: Context) -> Any:
    grants.revoke_model(s, a.domain, a.alias, actor)
    return {"domain": a.domain, "alias": a.alias, "deleted": True}


def grant_list(s: Session, _actor: str, a: i.DomainFilter, _c: Context) -> Any:
    names = _names(s)
    return [_grant_row(g, names) for g in grants.list_grants(s, a.domain)]


def key_create(s: Session, actor: str, a: i.KeyCreate, c: Context) -> Any:
    expires_at = a.expires_at
    if a.expires_in_seconds is not None:
        expires_at = datetime.now(UTC) + timedelta(seconds=a.expires_in_seconds)
    key, secret = keys.create_key(
        s,
        a.domain,
        actor,
        name=a.name,
        allowed_aliases=a.allowed_aliases,
        expires_at=expires_at,
        rpm=a.requests_per_minute,
        tpm=a.tokens_per_minute,
        pepper=c.pepper,
    )
    return {"key": _key_row(s, key), "secret": secret}


def key_rotate(s: Session, actor: str, a: i.KeyRef, c: Context) -> Any:
    key, secret = keys.rotate_key(s, a.key_id, actor, pepper=c.pepper)
    return {"key": _key_row(s, key), "secret": secret}


def key_show(s: Session, _actor: str, a: i.KeyRef, _c: Context) -> Any:
    return _key_row(s, keys.get_key(s, a.key_id))


def key_revoke(s: Session, actor: str, a: i.KeyRef, _c: Context) -> Any:
    return _key_row(s, keys.revoke_key(s, a.key_id, actor))


def key_list(s: Session, _actor: str, a: i.DomainFilter, _c: Context) -> Any:
    names = _names(s)
    return [as_dict(k, domain=names.get(k.domain_id)) for k in keys.list_keys(s, a.domain)]


def idp_list(s: Session, _actor: str, a: i.DomainFilter, _c: Context) -> Any:
    names = _names(s)
    return [as_dict(p, domain=names.get(p.domain_id)) for p in idp.list_identity_providers(s, a.domain)]


def idp_add(s: Session, actor: str, a: i.IdpAdd, _c: Context) -> Any:
    return as_dict(idp.add_identity_provider(s, a.domain, actor, **given(a, "domain")), domain=a.domain)


def idp_remove(s: Session, actor: str, a: i.IdpRemove, _c: Context) -> Any:
    if a.domain is not None:
        found = idp.get_identity_provider(s, a.issuer)
        if found is None or found.domain_id != tenants.get_domain(s, a.domain).id:
            raise NotFound(f"identity provider {a.issuer!r} not found in domain {a.domain!r}")
    idp.remove_identity_provider(s, a.issuer, actor)
    return {"issuer": a.issuer, "deleted": True}


@contextmanager
def _config_field() -> Iterator[None]:
    """The guardrail compiler's refusal (a ValueError naming the field) as `config.<field>`, as
    every interface shows it."""
    try:
        yield
    except ValueError as exc:
        field = getattr(exc, "field", None)
        if field is None:
            raise
        raise ActionInvalid(f"config.{exc}", f"config.{field}") from None


def policy_set(s: Session, actor: str, a: i.PolicySet, _c: Context) -> Any:
    with _config_field():
        p = policies.create_policy_version(s, a.domain, a.config, actor, activate=a.activate)
    return as_dict(p, domain=a.domain)


def policy_validate(_s: Session, _actor: str, a: i.PolicyValidate, _c: Context) -> Any:
    with _config_field():
        policies.check_config(a.config)
    return {"valid": True}


def _read(f: Callable[..., Any], *args: str) -> Run:
    """A read action calling `f(session, *input fields)` and returning its row(s) as dicts."""

    def run(s: Session, _actor: str, a: Any, _c: Context) -> Any:
        found = f(s, *(getattr(a, n) for n in args))
        return [as_dict(r) for r in found] if isinstance(found, list) else as_dict(found)

    return run


def _change(f: Callable[..., Any], *args: str, extra: str | None = None) -> Run:
    """A change calling `f(session, *input fields, actor)`; `extra` adds the input's domain."""

    def run(s: Session, actor: str, a: Any, _c: Context) -> Any:
        row = as_dict(f(s, *(getattr(a, n) for n in args), actor))
        return {**row, "domain": getattr(a, extra)} if extra else row

    return run


def _policy_read(f: Callable[..., Any]) -> Run:
    def run(s: Session, _actor: str, a: Any, _c: Context) -> Any:
        found = f(s, a.domain)
        return (
            [as_dict(p, domain=a.domain) for p in found]
            if isinstance(found, list)
            else as_dict(found, domain=a.domain)
        )

    return run


def _deployment_status(status: str) -> Run:
    def run(s: Session, actor: str, a: i.DeploymentRef, _c: Context) -> Any:
        return as_dict(deployments.set_deployment_status(s, a.name, status, actor))

    return run


def _audit(s: Session, _actor: str, a: i.AuditQuery, _c: Context) -> Any:
    events = audit.list_events(s, limit=a.limit, actor=a.actor, action=a.action, object_type=a.object_type)
    return [as_dict(e) for e in events]


def _usage(s: Session, _actor: str, a: i.UsageQuery, _c: Context) -> Any:
    return usage.usage_totals(s, domain=a.domain, since=a.since, until=a.until, limit=a.limit)
