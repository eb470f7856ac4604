"""Guardrail policies and the audit log: `teecube admin policy|audit`.

A new policy version is checked by `domains.policies.check_config` (the proxy's guardrail compiler)
before it is stored, the same check as `teecube admin policy set`: an invalid policy never reaches
the database.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from domains import audit, policies
from domains.rows import as_dict
from proxy.errors import bad_request
from proxy.routes.admin.body import read_fields
from proxy.routes.admin.common import listing, one, route, run_in_session

POLICY_CREATE = {"config": "object", "activate": "bool"}
DEFAULT_AUDIT_LIMIT = 50
MAX_AUDIT_LIMIT = 1000


@route("GET", "/admin/v1/domains/{name}/guardrail-policies")
async def list_policies(request: web.Request) -> web.Response:
    domain = request.match_info["name"]

    def action(s: Session, _actor: str) -> list[dict[str, Any]]:
        return [as_dict(p, domain=domain) for p in policies.list_policy_versions(s, domain)]

    return listing(await run_in_session(request, action, changes=False))


@route("POST", "/admin/v1/domains/{name}/guardrail-policies")
async def create_policy(request: web.Request) -> web.Response:
    domain = request.match_info["name"]
    body = await read_fields(request, POLICY_CREATE, required=("config",))
    config, activate = body["config"], body.get("activate", False)

    def action(s: Session, actor: str) -> dict[str, Any]:
        policy = policies.create_policy_version(s, domain, config, actor, activate=activate)
        return as_dict(policy, domain=domain)

    return one(await run_in_session(request, action), status=201)


@route("POST", r"/admin/v1/domains/{name}/guardrail-policies/{version:\d+}/activate")
async def activate_policy(request: web.Request) -> web.Response:
    domain = request.match_info["name"]
    version = int(request.match_info["version"])

    def action(s: Session, actor: str) -> dict[str, Any]:
        return as_dict(policies.activate_policy_version(s, domain, version, actor), domain=domain)

    return one(await run_in_session(request, action))


@route("GET", "/admin/v1/domains/{name}/guardrail-policies/active")
async def active_policy(request: web.Request) -> web.Response:
    domain = request.match_info["name"]
    return one(
        await run_in_session(
            request,
            lambda s, _a: as_dict(policies.get_active_policy(s, domain), domain=domain),
            changes=False,
        )
    )


@route("GET", "/admin/v1/audit")
async def list_audit(request: web.Request) -> web.Response:
    raw = request.query.get("limit", str(DEFAULT_AUDIT_LIMIT))
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6 and 1 <= int(raw) <= MAX_AUDIT_LIMIT):
        raise bad_request(
            f"limit must be an integer from 1 to {MAX_AUDIT_LIMIT}.", param="limit", code="invalid_request"
        )
    limit = int(raw)
    return listing(
        await run_in_session(
            request, lambda s, _a: [as_dict(e) for e in audit.list_events(s, limit=limit)], changes=False
        )
    )
