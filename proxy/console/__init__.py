"""The web console under `/console/`: server-rendered pages for operators and tenants.

`mount_console(app)` adds its routes and state to the proxy's application. Operators sign in
with the operator token, tenants with an API key; see docs/console/ and the README.
"""

from __future__ import annotations

from aiohttp import web

from proxy.auth.failures import FailureThrottle
from proxy.console import (
    action_forms,
    auth_pages,
    operator_pages,
    policy_pages,
    status_pages,
    tenant_pages,
    usage_pages,
)
from proxy.console.sessions import SessionStore
from proxy.console.web import CONSOLE, ConsoleState, environment, routes, security_headers

LOGIN_FAILURE_LIMIT = 10  # failed sign-ins per client address per minute

__all__ = ["CONSOLE", "action_forms", "auth_pages", "mount_console", "operator_pages", "policy_pages",
           "status_pages", "tenant_pages", "usage_pages"]


def mount_console(app: web.Application) -> None:
    env = environment()
    env.globals["fields"] = action_forms.fields  # form inputs from the action table
    app[CONSOLE] = ConsoleState(SessionStore(), FailureThrottle(limit=LOGIN_FAILURE_LIMIT), env)
    app.add_routes(routes)
    app.on_response_prepare.append(security_headers)
