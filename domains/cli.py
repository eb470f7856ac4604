"""`teecube admin …` (operator actions, generated from domains/operator_actions) and `teecube db …`.

Errors are one line on stderr: exit 1 for a refused action, 2 for bad usage. Never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from domains import db
from domains.cli_format import table, to_json
from domains.config import database_url, load_pepper
from domains.errors import DomainError, Invalid
from domains.operator_actions import ACTIONS, UNSET, Action, ActionInvalid, Context, FieldSpec, parse

DEST = "field_"  # argparse dest of an action's input field
METAVARS = {"int": "N", "duration": "DURATION", "time": "TIME", "str_list": "A,B"}
GROUP_HELP = {
    "domain": "tenants",
    "deployment": "served models",
    "key": "API keys",
    "idp": "JWT identity providers",
    "policy": "guardrail policies",
    "audit": "audit log",
}


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


def _flags(spec: FieldSpec) -> list[str]:
    return [*spec.meta.flags, spec.flag]


def _add_field(p: argparse.ArgumentParser, spec: FieldSpec) -> None:
    """One input field as a flag (or positional): argparse only collects strings; `parse()` checks."""
    notes = [spec.describe()] if spec.choices or spec.kind in ("int", "duration") else []
    if not spec.required and spec.default not in (None, UNSET, False):
        notes.append(f"default {spec.default}")
    help_ = (spec.meta.help + (f" ({'; '.join(notes)})" if notes else "")).replace("%", "%%")
    dest = DEST + spec.name  # apart from the common flags' dests (an audit filter is named actor)
    if spec.meta.positional:
        p.add_argument(dest, metavar=spec.name, help=help_)
        return
    names = _flags(spec)
    if spec.kind == "bool":
        on_off = p.add_mutually_exclusive_group()
        off = spec.meta.off_flag or f"--no-{spec.flag[2:]}"
        on_off.add_argument(*names, dest=dest, action="store_const", const=True, help=f"{help_}; {off}: off")
        on_off.add_argument(off, dest=dest, action="store_const", const=False, help=argparse.SUPPRESS)
        return
    if spec.meta.cli_files and spec.kind == "keys":
        p.add_argument(*names, dest=dest, action="append", metavar="FILE", help=help_ + " (repeatable)")
        return
    metavar = "FILE" if spec.meta.cli_files else METAVARS.get(spec.kind, spec.name.upper())
    p.add_argument(*names, dest=dest, required=spec.required, metavar=metavar, help=help_)


def _add_action(sub: Any, word: str, action: Action, common: argparse.ArgumentParser) -> None:
    p: _Parser = sub.add_parser(word, parents=[common], help=action.help, description=action.help)
    nullable = [s.name for s in action.fields if s.nullable and s.default is UNSET]
    for spec in action.fields:
        _add_field(p, spec)
    if nullable:
        p.add_argument("--unset", action="append", choices=nullable, help="set a field to null (repeatable)")
    if action.needs_pepper:
        p.add_argument("--pepper-file", help="default: $TEECUBE_PEPPER, $TEECUBE_PEPPER_FILE or var/pepper")
    p.set_defaults(action_def=action)


def _admin_parser() -> _Parser:
    """`teecube admin …`, generated from the action table."""
    common = _common()
    root = _Parser(prog="teecube admin", description="Operator actions. Every change is audited.")
    top = root.add_subparsers(dest="group", required=True, parser_class=_Parser)
    groups: dict[str, Any] = {}
    for action in ACTIONS:
        if len(action.cli) == 1:
            _add_action(top, action.cli[0], action, common)
            continue
        group, word = action.cli
        if group not in groups:
            groups[group] = top.add_parser(group, help=GROUP_HELP.get(group)).add_subparsers(
                dest="command", required=True, parser_class=_Parser
            )
        _add_action(groups[group], word, action, common)
    return root


def _read_text(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise Invalid(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise Invalid(f"cannot read {path}: not UTF-8 text") from None


def action_input(action: Action, args: argparse.Namespace) -> Any:
    """The parsed flags as the action's input dataclass (the same checks as the admin API's)."""
    raw: dict[str, Any] = {}
    for spec in action.fields:
        value = getattr(args, DEST + spec.name, None)
        if value is None:
            continue
        if spec.meta.cli_files:
            value = [_read_text(v) for v in value] if isinstance(value, list) else _read_text(value)
        raw[spec.name] = value
    for name in getattr(args, "unset", None) or []:
        if raw.get(name) is not None:  # both a value and --unset: which one was meant?
            spec = next(s for s in action.fields if s.name == name)
            raise UsageError(f"argument --unset: {name} is also given a value ({'/'.join(_flags(spec))})")
        raw[name] = None
    try:
        return parse(action.input, raw, "text")
    except ActionInvalid as exc:
        spec = next(s for s in action.fields if s.name == exc.param)
        where = spec.name if spec.meta.positional else "/".join(_flags(spec))
        raise UsageError(f"argument {where}: {exc}") from None


def _render(data: Any, action: Action, as_json: bool) -> str:
    if as_json:
        return to_json(data)
    columns = action.columns
    if columns is None:
        return "\n".join(f"{k}: {v}" for k, v in data.items()) if isinstance(data, dict) else str(data)
    if action.secret:
        return (
            f"{table([data['key']], columns)}\n\nsecret: {data['secret']}\n"
            "Store it now: it will not be shown again."
        )
    return table(data if isinstance(data, list) else [data], columns)


def _pepper(path: str | None) -> bytes:
    """--pepper-file when given (the flag wins over TEECUBE_PEPPER and TEECUBE_PEPPER_FILE, as
    --database-url does over TEECUBE_DATABASE_URL), else the environment's pepper."""
    return load_pepper(path, env={}) if path else load_pepper()


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
        action: Action = args.action_def
        inp = action_input(action, args)
    except UsageError as exc:
        return _fail(str(exc), 2)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except DomainError as exc:  # an unreadable --file
        return _fail(str(exc), 1)
    try:
        context = Context(pepper=_pepper(args.pepper_file) if action.needs_pepper else None)
        engine = _open(args.database_url)
        try:
            with db.session_factory(engine).begin() as session:
                data = action.run(session, args.actor, inp, context)
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
    print(_render(data, action, args.json))
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
    try:
        shown = make_url(url).render_as_string(hide_password=True)
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
