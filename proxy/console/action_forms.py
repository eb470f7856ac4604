"""The console's operator forms, generated from the action table (`domains.operator_actions`).

`fields()` (a template global) gives the inputs of an action's form: label, input type, current
or default value, choices. Each POST form route runs the action's typed input check (`parse`, the
same as `teecube admin` and the admin API) and the action itself as `console:operator`, then shows
its message and goes to its page. Policy set and validate have their own pages (policy_pages.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web
from sqlalchemy.orm import Session

from domains.operator_actions import ACTIONS, BY_NAME, UNSET, Action, ActionInvalid, Context, FieldSpec, parse
from proxy.console.sessions import ConsoleSession
from proxy.console.web import ACTOR, BASE, Refused, act, page, redirect
from proxy.state import CONFIG

OWN_PAGES = {"policy.set", "policy.validate"}  # forms that re-render an editor: policy_pages.py
PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")


@dataclass(frozen=True)
class FieldView:
    name: str
    label: str
    help: str
    input: str  # text, numeric, checkbox, select, textarea, password
    value: str
    required: bool
    options: Sequence[str] = ()
    placeholder: str = ""


def path_fields(action: Action) -> list[str]:
    return PLACEHOLDER.findall(action.console[1])


def _shown(value: Any) -> str:
    if value is None or value is UNSET:
        return ""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _input(spec: FieldSpec, options: Sequence[str]) -> str:
    if spec.meta.secret:
        return "password"
    if spec.kind == "bool":
        return "checkbox"
    if spec.choices or options:
        return "select"
    if spec.kind in ("object", "keys"):
        return "textarea"
    return "numeric" if spec.kind == "int" else "text"


def fields(
    name: str, values: Mapping[str, Any] | None = None, options: Mapping[str, Sequence[str]] | None = None
) -> list[FieldView]:
    """The inputs of action `name`'s form, with `values` (e.g. the row being edited) filled in."""
    action = BY_NAME[name]
    skip = set(path_fields(action))
    out = []
    for spec in action.fields:
        if spec.name in skip:
            continue
        opts = (options or {}).get(spec.name) or spec.choices
        value = (values or {}).get(spec.name, spec.default)
        out.append(
            FieldView(
                spec.name,
                spec.label,
                spec.meta.help,
                _input(spec, opts),
                _shown(value),
                spec.required,
                tuple(opts),
                spec.meta.placeholder,
            )
        )
    return out


def _flat(result: Any) -> dict[str, Any]:
    if isinstance(result, dict) and isinstance(result.get("key"), dict):
        return dict(result["key"])
    return dict(result) if isinstance(result, dict) else {}


def _where(template: str, values: Mapping[str, Any]) -> str:
    """The page to go to next: names from the URL, the input and the result, quoted."""
    try:
        return BASE + template.format(**{k: quote(str(v), safe="") for k, v in values.items()})
    except (KeyError, IndexError):
        return f"{BASE}/domains"


def form_input(action: Action, request: web.Request, form: Mapping[str, Any]) -> Any:
    """The form's values (and the URL's) as the action's input; a bad value is `Refused`."""
    known = {s.name for s in action.fields}
    in_path = [n for n in path_fields(action) if n in known]  # the page's domain, when not an input
    raw = {k: str(v) for k, v in form.items() if k in known and k not in in_path}
    raw.update({n: request.match_info[n] for n in in_path})
    try:
        return parse(action.input, raw, "form", text=in_path)
    except ActionInvalid as exc:
        raise Refused(str(exc)) from None


def _handler(action: Action) -> Any:
    async def handle(request: web.Request, session: ConsoleSession) -> web.Response:
        form = await request.post()
        here: dict[str, Any] = {n: request.match_info[n] for n in path_fields(action)}
        context = Context(pepper=request.app[CONFIG].pepper if action.needs_pepper else None)
        try:
            inp = form_input(action, request, form)

            def work(s: Session) -> Any:
                return action.run(s, ACTOR, inp, context)

            result = await act(request, work, changes=action.changes)
        except Refused as exc:
            session.flashes.append(("error", str(exc)))
            return redirect(_where(action.then, here))
        done = {**here, **{f.name: getattr(inp, f.name) for f in action.fields}, **_flat(result)}
        if action.secret:
            session.secret_once = (str(result["key"]["domain"]), result["secret"])
        session.flashes.append(("ok", action.done.format(**done)))
        return redirect(_where(action.then, done))

    handle.__name__ = action.name.replace(".", "_")
    return handle


def register() -> None:
    for action in ACTIONS:
        method, path = action.console
        if method == "POST" and action.name not in OWN_PAGES:
            page(method, path, "operator")(_handler(action))


register()
