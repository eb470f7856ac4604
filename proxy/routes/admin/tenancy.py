"""Domains, deployments and grants: `teecube admin domain|deployment|grant|revoke|models`."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from domains import deployments, grants, tenants
from domains.rows import as_dict
from proxy.routes.admin.body import read_fields
from proxy.routes.admin.common import listing, one, route, run_in_session

_LIMITS = {"requests_per_minute": "int?", "tokens_per_minute": "int?", "max_tokens_cap": "int?"}
DOMAIN_CREATE = {
    "name": "str",
    **_LIMITS,
    "max_body_bytes": "int",
    "max_messages": "int",
    "max_n": "int",
    "guardrail_fail_mode": "str",
    "shared_prefix_cache": "bool",  # off by default: see docs/proxy.md for the risk
}
DOMAIN_UPDATE = {
    **_LIMITS,
    "max_body_bytes": "int",
    "max_messages": "int",
    "max_n": "int",
    "guardrail_fail_mode": "str",
    "shared_prefix_cache": "bool",  # off by default: see docs/proxy.md for the risk
}
DEPLOYMENT_CREATE = {
    "name": "str",
    "kind": "str",
    "url": "str",
    "served_model_name": "str",
    "credential_ref": "str?",
    "context_length": "int?",
}
DEPLOYMENT_UPDATE = {
    "url": "str",
    "served_model_name": "str",
    "credential_ref": "str?",
    "context_length": "int?",
}
GRANT = {"deployment": "str", "enabled": "bool", **_LIMITS, "max_prompt_tokens": "int?"}


def _grant_row(session: Session, grant: Any) -> dict[str, Any]:
    domain = tenants.get_domain(session, grant.domain_id)
    return as_dict(grant, domain=domain.name, deployment=grant.deployment.name)


def _grant_rows(session: Session, domain: str | None) -> list[dict[str, Any]]:
    names = {d.id: d.name for d in tenants.list_domains(session)}
    return [
        as_dict(g, domain=names.get(g.domain_id), deployment=g.deployment.name)
        for g in grants.list_grants(session, domain)
    ]


# ---- domains ---------------------------------------------------------------------------------


@route("GET", "/admin/v1/domains")
async def list_domains(request: web.Request) -> web.Response:
    return listing(
        await run_in_session(
            request, lambda s, _a: [as_dict(d) for d in tenants.list_domains(s)], changes=False
        )
    )


@route("POST", "/admin/v1/domains")
async def create_domain(request: web.Request) -> web.Response:
    body = await read_fields(request, DOMAIN_CREATE, required=("name",))
    name = body.pop("name")
    row = await run_in_session(
        request, lambda s, actor: as_dict(tenants.create_domain(s, name, actor, **body))
    )
    return one(row, status=201)


@route("GET", "/admin/v1/domains/{name}")
async def get_domain(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    return one(
        await run_in_session(request, lambda s, _a: as_dict(tenants.get_domain(s, name)), changes=False)
    )


@route("PATCH", "/admin/v1/domains/{name}")
async def update_domain(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    body = await read_fields(request, DOMAIN_UPDATE)
    return one(
        await run_in_session(request, lambda s, actor: as_dict(tenants.update_domain(s, name, actor, **body)))
    )


@route("POST", "/admin/v1/domains/{name}/disable")
async def disable_domain(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    return one(
        await run_in_session(request, lambda s, actor: as_dict(tenants.disable_domain(s, name, actor)))
    )


@route("POST", "/admin/v1/domains/{name}/enable")
async def enable_domain(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    return one(await run_in_session(request, lambda s, actor: as_dict(tenants.enable_domain(s, name, actor))))


# ---- deployments -----------------------------------------------------------------------------


@route("GET", "/admin/v1/deployments")
async def list_deployments(request: web.Request) -> web.Response:
    return listing(
        await run_in_session(
            request, lambda s, _a: [as_dict(d) for d in deployments.list_deployments(s)], changes=False
        )
    )


@route("POST", "/admin/v1/deployments")
async def add_deployment(request: web.Request) -> web.Response:
    body = await read_fields(
        request, DEPLOYMENT_CREATE, required=("name", "kind", "url", "served_model_name")
    )

    name, kind, url, served = (body.pop(f) for f in ("name", "kind", "url", "served_model_name"))

    def action(s: Session, actor: str) -> dict[str, Any]:
        return as_dict(deployments.add_deployment(s, name, kind, url, served, actor, **body))

    return one(await run_in_session(request, action), status=201)


@route("GET", "/admin/v1/deployments/{name}")
async def get_deployment(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    return one(
        await run_in_session(
            request, lambda s, _a: as_dict(deployments.get_deployment(s, name)), changes=False
        )
    )


@route("PATCH", "/admin/v1/deployments/{name}")
async def update_deployment(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    body = await read_fields(request, DEPLOYMENT_UPDATE)
    return one(
        await run_in_session(
            request, lambda s, actor: as_dict(deployments.update_deployment(s, name, actor, **body))
        )
    )


async def _deployment_status(request: web.Request, status: str) -> web.Response:
    name = request.match_info["name"]
    return one(
        await run_in_session(
            request, lambda s, actor: as_dict(deployments.set_deployment_status(s, name, status, actor))
        )
    )


@route("POST", "/admin/v1/deployments/{name}/disable")
async def disable_deployment(request: web.Request) -> web.Response:
    return await _deployment_status(request, "disabled")


@route("POST", "/admin/v1/deployments/{name}/enable")
async def enable_deployment(request: web.Request) -> web.Response:
    return await _deployment_status(request, "active")


# ---- grants ------------------------------------------------------------------------------------


@route("GET", "/admin/v1/grants")
async def list_all_grants(request: web.Request) -> web.Response:
    domain = request.query.get("domain")
    return listing(await run_in_session(request, lambda s, _a: _grant_rows(s, domain), changes=False))


@route("GET", "/admin/v1/domains/{name}/models")
async def list_grants(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    return listing(await run_in_session(request, lambda s, _a: _grant_rows(s, name), changes=False))


@route("PUT", "/admin/v1/domains/{name}/models/{alias:.+}")
async def grant_model(request: web.Request) -> web.Response:
    name, alias = request.match_info["name"], request.match_info["alias"]
    body = await read_fields(request, GRANT, required=("deployment",))
    deployment = body.pop("deployment")

    def action(s: Session, actor: str) -> dict[str, Any]:
        return _grant_row(s, grants.grant_model(s, name, alias, deployment, actor, **body))

    return one(await run_in_session(request, action))


@route("DELETE", "/admin/v1/domains/{name}/models/{alias:.+}")
async def revoke_model(request: web.Request) -> web.Response:
    name, alias = request.match_info["name"], request.match_info["alias"]
    await run_in_session(request, lambda s, actor: grants.revoke_model(s, name, alias, actor))
    return one({"domain": name, "alias": alias, "deleted": True})
