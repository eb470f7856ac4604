"""One admin API route per operator action, generated from `domains.operator_actions.ACTIONS`.

URL path parts and (for GET and DELETE) the query string are text; other bodies are JSON objects.
Both are checked by the action's typed input (`domains.operator_actions.parse`), the same check
`teecube admin` and the console run, so a bad value gets the same message, naming the field in
`param`. A create answers 201; a result carrying a secret is sent with `Cache-Control: no-store`.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from domains.operator_actions import ACTIONS, Action, ActionInvalid, Context, parse
from proxy.errors import bad_request
from proxy.routes.admin.body import read_object
from proxy.routes.admin.common import Handler, listing, one, route, run_in_session
from proxy.state import CONFIG

PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def path_fields(path: str) -> list[str]:
    return PLACEHOLDER.findall(path)


async def _input(request: web.Request, action: Action, in_path: list[str]) -> Any:
    raw: dict[str, Any] = {}
    if request.method in ("GET", "DELETE"):
        raw.update(request.query)
        source = "form"  # empty query values mean "not given"
    else:
        raw.update(await read_object(request))
        source = "json"
    for name in in_path:
        if name in raw:  # a path part is not a body field
            raise bad_request(f"Unknown field '{name}'.", param=name, code="unknown_field")
        raw[name] = request.match_info[name]
    try:
        return parse(action.input, raw, source, text=in_path)
    except ActionInvalid as exc:
        raise bad_request(str(exc), param=exc.param, code=exc.code) from None


def _handler(action: Action, path: str) -> Handler:
    in_path = path_fields(path)

    async def handle(request: web.Request) -> web.Response:
        inp = await _input(request, action, in_path)
        context = Context(pepper=request.app[CONFIG].pepper if action.needs_pepper else None)

        def work(s: Session, actor: str) -> Any:
            return action.run(s, actor, inp, context)

        result = await run_in_session(request, work, changes=action.changes)
        if action.listing:
            return listing(result)
        return one(result, status=action.status, secret=action.secret)

    handle.__name__ = action.name.replace(".", "_")
    return handle


for _action in ACTIONS:
    for _method, _path in (_action.http, *_action.also_http):
        route(_method, _path)(_handler(_action, _path))
