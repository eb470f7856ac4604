"""Operator pages: domains (limits, grants, keys, identity providers) and deployments.

The forms on these pages are generated from the action table and handled in action_forms.py:
each calls the same `domains/` function the admin API and `teecube admin` call.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from domains import deployments, grants, idp, keys, policies, tenants
from domains.errors import NotFound
from domains.rows import as_dict
from proxy.console.sessions import ConsoleSession
from proxy.console.web import Refused, act, page, render


@page("GET", "/domains", "operator")
async def domains_page(request: web.Request, session: ConsoleSession) -> web.Response:
    rows = await act(request, lambda s: [as_dict(d) for d in tenants.list_domains(s)], changes=False)
    return render(request, "domains.jinja", session, domains=rows)


def _domain_detail(s: Session, name: str) -> dict[str, Any]:
    domain = tenants.get_domain(s, name)
    active = None
    try:
        active = as_dict(policies.get_active_policy(s, name))
    except NotFound:  # no active policy
        active = None
    return {
        "domain": as_dict(domain),
        "grants": [as_dict(g, deployment=g.deployment.name) for g in grants.list_grants(s, name)],
        "keys": [as_dict(k) for k in keys.list_keys(s, name)],
        "idps": [as_dict(p) for p in idp.list_identity_providers(s, name)],
        "policies": [as_dict(p) for p in policies.list_policy_versions(s, name)],
        "active_policy": active,
        "deployments": [d.name for d in deployments.list_deployments(s)],
    }


@page("GET", "/domains/{name}", "operator")
async def domain_page(request: web.Request, session: ConsoleSession) -> web.Response:
    name = request.match_info["name"]
    try:
        detail = await act(request, lambda s: _domain_detail(s, name), changes=False)
    except Refused as exc:
        return render(request, "not_found.jinja", session, status=404, message=str(exc))
    once, session.secret_once = session.secret_once, None  # gone after any domain page: shown once
    secret = once[1] if once is not None and once[0] == name else None  # never on another domain's page
    return render(request, "domain.jinja", session, secret=secret, now=datetime.now(UTC), findings=None,
                  **detail)


@page("GET", "/deployments", "operator")
async def deployments_page(request: web.Request, session: ConsoleSession) -> web.Response:
    from proxy.console.health import probe_all

    rows = await act(request, lambda s: [as_dict(d) for d in deployments.list_deployments(s)], changes=False)
    health = await probe_all(request.app, rows)
    return render(request, "deployments.jinja", session, deployments=rows, health=health)


@page("GET", "/deployments/{name}", "operator")
async def deployment_page(request: web.Request, session: ConsoleSession) -> web.Response:
    name = request.match_info["name"]
    try:
        row = await act(request, lambda s: as_dict(deployments.get_deployment(s, name)), changes=False)
    except Refused as exc:
        return render(request, "not_found.jinja", session, status=404, message=str(exc))
    return render(request, "deployment.jinja", session, deployment=row)
