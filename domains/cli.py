"""`teecube admin …` (operator actions) and `teecube db …` (migrations).

Errors are one line on stderr: exit 1 for a refused action, 2 for bad usage. Never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from domains import audit, db, deployments, grants, idp, keys, policies, tenants
from domains.cli_format import as_dict, table, to_json
from domains.config import database_url, load_pepper
from domains.errors import DomainError, Invalid

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


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database-url", help="default: $TEECUBE_DATABASE_URL or sqlite file var/teecube.db")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument(
        "--actor",
        default=f"cli:{os.environ.get('USER') or getpass.getuser()}",
        help="operator identity recorded in the audit log (default cli:$USER)",
    )
    return common


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _duration(value: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([smhd])", value)
    if not match:
        raise argparse.ArgumentTypeError("duration like 30d, 12h, 15m")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})


def _timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("ISO 8601 time, e.g. 2027-01-31T00:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ---- actions: each takes (session, args) and returns what to print ----------------------------

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


# ---- parser ----------------------------------------------------------------------------------

Action = Callable[[Session, argparse.Namespace], Out]


def _leaf(group: Any, name: str, func: Action, common: argparse.ArgumentParser, help_: str) -> _Parser:
    p = group.add_parser(name, parents=[common], help=help_, description=help_)
    p.set_defaults(func=func)
    return p


def _limits(p: argparse.ArgumentParser, *, prompt: bool = False) -> None:
    p.add_argument("--rpm", type=_int, help="requests per minute")
    p.add_argument("--tpm", type=_int, help="tokens per minute")
    p.add_argument("--max-tokens-cap", type=_int, help="largest max_tokens a request may ask for")
    if prompt:
        p.add_argument("--max-prompt-tokens", type=_int)


def _admin_parser() -> _Parser:
    common = _common()
    root = _Parser(prog="teecube admin", description="Operator actions. Every change is audited.")
    top = root.add_subparsers(dest="group", required=True, parser_class=_Parser)

    dom = top.add_parser("domain", help="tenants").add_subparsers(dest="action", required=True)
    p = _leaf(dom, "create", domain_create, common, "create a domain (guardrail policy v1 active)")
    p.add_argument("name")
    _limits(p)
    p.add_argument("--max-body-bytes", type=_int, default=1024 * 1024)
    p.add_argument("--max-messages", type=_int, default=256)
    p.add_argument("--max-n", type=_int, default=8)
    p.add_argument("--guardrail-fail-mode", choices=("closed", "open"), default="closed")
    p = _leaf(dom, "update", domain_update, common, "change a domain's limits and caps (given flags only)")
    p.add_argument("name")
    _limits(p)
    p.add_argument("--max-body-bytes", type=_int)
    p.add_argument("--max-messages", type=_int)
    p.add_argument("--max-n", type=_int)
    p.add_argument("--guardrail-fail-mode", choices=("closed", "open"))
    p.add_argument(
        "--unset",
        action="append",
        choices=("requests_per_minute", "tokens_per_minute", "max_tokens_cap"),
        help="remove a limit (repeatable)",
    )
    _leaf(dom, "list", domain_list, common, "list domains")
    _leaf(dom, "disable", domain_disable, common, "disable a domain: its keys stop working").add_argument(
        "name"
    )
    _leaf(dom, "enable", domain_enable, common, "re-enable a domain").add_argument("name")

    dep = top.add_parser("deployment", help="served models").add_subparsers(dest="action", required=True)
    p = _leaf(dep, "add", deployment_add, common, "register a served model")
    p.add_argument("name")
    p.add_argument("--kind", required=True, choices=("teecube", "openai", "ollama"))
    p.add_argument("--url", required=True, help="http(s)://host:port[/path] or unix:/path.sock")
    p.add_argument("--served-model-name", required=True)
    p.add_argument("--credential-ref", help="env:VAR or file:/path (a reference, never the credential)")
    p.add_argument("--context-length", type=_int)
    p = _leaf(dep, "update", deployment_update, common, "change a deployment's upstream (given fields only)")
    p.add_argument("name")
    p.add_argument("--url")
    p.add_argument("--served-model-name")
    cred = p.add_mutually_exclusive_group()
    cred.add_argument("--credential-ref")
    cred.add_argument("--clear-credential-ref", action="store_true")
    p.add_argument("--context-length", type=_int)
    _leaf(dep, "disable", deployment_status, common, "stop routing to a deployment").add_argument("name")
    _leaf(dep, "enable", deployment_status, common, "route to a deployment again").add_argument("name")
    _leaf(dep, "list", deployment_list, common, "list deployments")

    p = _leaf(top, "grant", grant, common, "grant a deployment to a domain under an alias (replaces)")
    p.add_argument("--domain", required=True)
    p.add_argument("--alias", required=True)
    p.add_argument("--deployment", required=True)
    p.add_argument("--disabled", action="store_true", help="grant but keep disabled")
    _limits(p, prompt=True)
    p = _leaf(top, "revoke", revoke, common, "remove an alias from a domain")
    p.add_argument("--domain", required=True)
    p.add_argument("--alias", required=True)
    _leaf(top, "models", models_list, common, "list grants").add_argument("--domain")

    key = top.add_parser("key", help="API keys").add_subparsers(dest="action", required=True)
    p = _leaf(key, "create", key_create, common, "create a key; the secret is printed once")
    p.add_argument("--domain", required=True)
    p.add_argument("--name")
    p.add_argument("--models", type=_csv, help="comma-separated aliases (default: all of the domain's)")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--expires-in", type=_duration)
    when.add_argument("--expires-at", type=_timestamp)
    p.add_argument("--rpm", type=_int)
    p.add_argument("--tpm", type=_int)
    p.add_argument("--pepper-file", help="default: $TEECUBE_PEPPER, $TEECUBE_PEPPER_FILE or var/pepper")
    _leaf(key, "list", key_list, common, "list keys (never secrets)").add_argument("--domain")
    _leaf(key, "revoke", key_revoke, common, "revoke a key").add_argument("key_id")
    p = _leaf(key, "rotate", key_rotate, common, "new secret for the same key_id; the old one stops working")
    p.add_argument("key_id")
    p.add_argument("--pepper-file")

    ip = top.add_parser("idp", help="JWT identity providers").add_subparsers(dest="action", required=True)
    p = _leaf(ip, "add", idp_add, common, "trust a JWT issuer for a domain")
    p.add_argument("--domain", required=True)
    p.add_argument("--issuer", required=True)
    p.add_argument("--audience", required=True)
    p.add_argument("--algorithms", type=_csv, required=True, help="e.g. RS256,ES256 (asymmetric only)")
    p.add_argument("--domain-claim", required=True)
    p.add_argument("--domain-claim-value", required=True)
    p.add_argument("--aliases-claim")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--jwks-url")
    src.add_argument("--static-key-file", action="append", help="PEM or JWK public key file (repeatable)")
    _leaf(ip, "list", idp_list, common, "list identity providers").add_argument("--domain")
    _leaf(ip, "remove", idp_remove, common, "remove an identity provider").add_argument("issuer")

    pol = top.add_parser("policy", help="guardrail policies").add_subparsers(dest="action", required=True)
    p = _leaf(pol, "set", policy_set, common, "store a new policy version from a JSON file ('-' = stdin)")
    p.add_argument("--domain", required=True)
    p.add_argument("--file", required=True)
    p.add_argument("--activate", action="store_true")
    _leaf(pol, "list", policy_list, common, "list policy versions").add_argument("--domain", required=True)
    p = _leaf(pol, "activate", policy_activate, common, "make a version the active one")
    p.add_argument("--domain", required=True)
    p.add_argument("--version", type=_int, required=True)
    _leaf(pol, "show", policy_show, common, "print the active policy").add_argument("--domain", required=True)

    aud = top.add_parser("audit", help="audit log").add_subparsers(dest="action", required=True)
    _leaf(aud, "list", audit_list, common, "latest audit events").add_argument(
        "--limit", type=_int, default=50
    )
    return root


def _render(data: Any, columns: Sequence[str] | None, as_json: bool) -> str:
    if as_json:
        return to_json(data)
    if columns is None:
        return "\n".join(f"{k}: {v}" for k, v in data.items()) if isinstance(data, dict) else str(data)
    if isinstance(data, dict) and "secret" in data:
        return (
            f"{table([data['key']], columns)}\n\nsecret: {data['secret']}\n"
            "Store it now: it will not be shown again."
        )
    return table(data if isinstance(data, list) else [data], columns)


def _open(url: str | None) -> Engine:
    engine = db.make_engine(database_url(url))
    at = db.current(engine)
    if at != db.head():
        engine.dispose()
        raise Invalid(f"database is at revision {at or 'none'}, not {db.head()}: run `teecube db upgrade`")
    return engine


def _fail(message: str, code: int) -> int:
    first = (message.strip().splitlines() or ["error"])[0]
    print(f"teecube: error: {first}", file=sys.stderr)
    return code


def admin_main(argv: list[str]) -> int:
    try:
        args = _admin_parser().parse_args(argv)
    except UsageError as exc:
        return _fail(str(exc), 2)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    try:
        engine = _open(args.database_url)
        try:
            with db.session_factory(engine).begin() as session:
                data, columns = args.func(session, args)
        finally:
            engine.dispose()
    except DomainError as exc:
        return _fail(str(exc), 1)
    except IntegrityError as exc:
        return _fail(f"conflict: {exc.orig}", 1)
    except SQLAlchemyError as exc:
        return _fail(f"database error: {getattr(exc, 'orig', None) or exc}", 1)
    except OSError as exc:
        return _fail(f"{exc.filename or ''}: {exc.strerror}", 1)
    except ValueError as exc:
        return _fail(str(exc), 1)
    print(_render(data, columns, args.json))
    return 0


def _db_parser() -> _Parser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database-url", help="default: $TEECUBE_DATABASE_URL or sqlite file var/teecube.db")
    common.add_argument("--json", action="store_true")
    root = _Parser(prog="teecube db", description="Database migrations.")
    sub = root.add_subparsers(dest="action", required=True, parser_class=_Parser)
    sub.add_parser("upgrade", parents=[common], help="migrate up (default: head)").add_argument(
        "revision", nargs="?", default="head"
    )
    sub.add_parser(
        "downgrade", parents=[common], help="migrate down to REVISION (e.g. base, -1)"
    ).add_argument("revision")
    sub.add_parser("current", parents=[common], help="print the database's revision")
    return root


def db_main(argv: list[str]) -> int:
    try:
        args = _db_parser().parse_args(argv)
    except UsageError as exc:
        return _fail(str(exc), 2)
    except SystemExit as exc:
        return int(exc.code or 0)
    url = database_url(args.database_url)
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        engine = db.make_engine(url)
        try:
            if args.action == "upgrade":
                db.upgrade(engine, args.revision)
            elif args.action == "downgrade":
                db.downgrade(engine, args.revision)
            revision = db.current(engine)
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        return _fail(f"database error: {getattr(exc, 'orig', None) or exc}", 1)
    except Exception as exc:  # alembic's CommandError and friends: one line, no traceback
        return _fail(f"{type(exc).__name__}: {exc}", 1)
    result = {"database": shown, "revision": revision, "head": db.head()}
    print(to_json(result) if args.json else f"{shown}: revision {revision or 'none'} (head {db.head()})")
    return 0
