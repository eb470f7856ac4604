"""`teecube admin …` (operator actions) and `teecube db …` (migrations).

Errors are one line on stderr: exit 1 for a refused action, 2 for bad usage. Never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from domains import cli_actions as act
from domains import db
from domains.cli_format import table, to_json
from domains.config import database_url
from domains.errors import DomainError, Invalid


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _os_user() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (containers)
        return f"uid{os.getuid()}"


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database-url", help="default: $TEECUBE_DATABASE_URL or sqlite file var/teecube.db")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument(
        "--actor",
        default=f"cli:{_os_user()}",
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


# ---- parser ----------------------------------------------------------------------------------

Action = Callable[[Session, argparse.Namespace], act.Out]


def _leaf(group: Any, name: str, func: Action, common: argparse.ArgumentParser, help_: str) -> _Parser:
    p: _Parser = group.add_parser(name, parents=[common], help=help_, description=help_)
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
    p = _leaf(dom, "create", act.domain_create, common, "create a domain (guardrail policy v1 active)")
    p.add_argument("name")
    _limits(p)
    p.add_argument("--max-body-bytes", type=_int, default=1024 * 1024)
    p.add_argument("--max-messages", type=_int, default=256)
    p.add_argument("--max-n", type=_int, default=8)
    p.add_argument("--guardrail-fail-mode", choices=("closed", "open"), default="closed")
    p.add_argument(
        "--shared-prefix-cache", action=argparse.BooleanOptionalAction, default=False,
        help="share this domain's prompts in the engine's prefix cache with every other sharing domain "
        "(faster repeated prefixes; RISK: a tenant can then learn by timing whether another tenant sent "
        "a prompt). Default: isolated per domain",
    )
    p = _leaf(
        dom, "update", act.domain_update, common, "change a domain's limits and caps (given flags only)"
    )
    p.add_argument("name")
    _limits(p)
    p.add_argument("--max-body-bytes", type=_int)
    p.add_argument("--max-messages", type=_int)
    p.add_argument("--max-n", type=_int)
    p.add_argument("--guardrail-fail-mode", choices=("closed", "open"))
    p.add_argument(
        "--shared-prefix-cache", action=argparse.BooleanOptionalAction, default=None,
        help="share this domain's prompts in the engine's prefix cache with every other sharing domain "
        "(faster repeated prefixes; RISK: a tenant can then learn by timing whether another tenant sent "
        "a prompt). Default: isolated per domain",
    )
    p.add_argument(
        "--unset",
        action="append",
        choices=("requests_per_minute", "tokens_per_minute", "max_tokens_cap"),
        help="remove a limit (repeatable)",
    )
    _leaf(dom, "list", act.domain_list, common, "list domains")
    _leaf(dom, "disable", act.domain_disable, common, "disable a domain: its keys stop working").add_argument(
        "name"
    )
    _leaf(dom, "enable", act.domain_enable, common, "re-enable a domain").add_argument("name")

    dep = top.add_parser("deployment", help="served models").add_subparsers(dest="action", required=True)
    p = _leaf(dep, "add", act.deployment_add, common, "register a served model")
    p.add_argument("name")
    p.add_argument("--kind", required=True, choices=("teecube", "openai", "ollama"))
    p.add_argument("--url", required=True, help="http(s)://host:port[/path] or unix:/path.sock")
    p.add_argument("--served-model-name", required=True)
    p.add_argument("--credential-ref", help="env:VAR or file:/path (a reference, never the credential)")
    p.add_argument("--context-length", type=_int)
    p = _leaf(
        dep, "update", act.deployment_update, common, "change a deployment's upstream (given fields only)"
    )
    p.add_argument("name")
    p.add_argument("--url")
    p.add_argument("--served-model-name")
    cred = p.add_mutually_exclusive_group()
    cred.add_argument("--credential-ref")
    cred.add_argument("--clear-credential-ref", action="store_true")
    p.add_argument("--context-length", type=_int)
    _leaf(dep, "disable", act.deployment_status, common, "stop routing to a deployment").add_argument("name")
    _leaf(dep, "enable", act.deployment_status, common, "route to a deployment again").add_argument("name")
    _leaf(dep, "list", act.deployment_list, common, "list deployments")

    p = _leaf(top, "grant", act.grant, common, "grant a deployment to a domain under an alias (replaces)")
    p.add_argument("--domain", required=True)
    p.add_argument("--alias", required=True)
    p.add_argument("--deployment", required=True)
    p.add_argument("--disabled", action="store_true", help="grant but keep disabled")
    _limits(p, prompt=True)
    p = _leaf(top, "revoke", act.revoke, common, "remove an alias from a domain")
    p.add_argument("--domain", required=True)
    p.add_argument("--alias", required=True)
    _leaf(top, "models", act.models_list, common, "list grants").add_argument("--domain")

    key = top.add_parser("key", help="API keys").add_subparsers(dest="action", required=True)
    p = _leaf(key, "create", act.key_create, common, "create a key; the secret is printed once")
    p.add_argument("--domain", required=True)
    p.add_argument("--name")
    p.add_argument("--models", type=_csv, help="comma-separated aliases (default: all of the domain's)")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--expires-in", type=_duration)
    when.add_argument("--expires-at", type=_timestamp)
    p.add_argument("--rpm", type=_int)
    p.add_argument("--tpm", type=_int)
    p.add_argument("--pepper-file", help="default: $TEECUBE_PEPPER, $TEECUBE_PEPPER_FILE or var/pepper")
    _leaf(key, "list", act.key_list, common, "list keys (never secrets)").add_argument("--domain")
    _leaf(key, "revoke", act.key_revoke, common, "revoke a key").add_argument("key_id")
    p = _leaf(
        key, "rotate", act.key_rotate, common, "new secret for the same key_id; the old one stops working"
    )
    p.add_argument("key_id")
    p.add_argument("--pepper-file")

    ip = top.add_parser("idp", help="JWT identity providers").add_subparsers(dest="action", required=True)
    p = _leaf(ip, "add", act.idp_add, common, "trust a JWT issuer for a domain")
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
    _leaf(ip, "list", act.idp_list, common, "list identity providers").add_argument("--domain")
    _leaf(ip, "remove", act.idp_remove, common, "remove an identity provider").add_argument("issuer")

    pol = top.add_parser("policy", help="guardrail policies").add_subparsers(dest="action", required=True)
    p = _leaf(pol, "set", act.policy_set, common, "store a new policy version from a JSON file ('-' = stdin)")
    p.add_argument("--domain", required=True)
    p.add_argument("--file", required=True)
    p.add_argument("--activate", action="store_true")
    _leaf(pol, "list", act.policy_list, common, "list policy versions").add_argument(
        "--domain", required=True
    )
    p = _leaf(pol, "activate", act.policy_activate, common, "make a version the active one")
    p.add_argument("--domain", required=True)
    p.add_argument("--version", type=_int, required=True)
    _leaf(pol, "show", act.policy_show, common, "print the active policy").add_argument(
        "--domain", required=True
    )

    p = _leaf(top, "usage", act.usage_list, common, "requests and tokens per day, domain, model and key")
    p.add_argument("--domain", help="one domain only")
    p.add_argument("--since", type=_timestamp, help="from this time (ISO 8601, UTC if no zone)")
    p.add_argument("--until", type=_timestamp, help="before this time")
    p.add_argument("--limit", type=_int, default=1000, help="at most this many rows (newest days first)")

    aud = top.add_parser("audit", help="audit log").add_subparsers(dest="action", required=True)
    _leaf(aud, "list", act.audit_list, common, "latest audit events").add_argument(
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
    common = _Parser(add_help=False)
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
