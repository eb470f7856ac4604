"""API keys and identity providers: `teecube admin key|idp`.

A key's secret is in the create and rotate responses only (with `Cache-Control: no-store`);
it is never stored, listed, logged or audited. The pepper comes from the proxy's config.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from domains import idp, keys, tenants
from domains.rows import as_dict
from proxy.errors import bad_request
from proxy.routes.admin.body import read_fields
from proxy.routes.admin.common import listing, one, route, run_in_session
from proxy.state import CONFIG

KEY_CREATE = {
    "name": "str?",
    "allowed_aliases": "str_list?",
    "expires_at": "time?",
    "expires_in_seconds": "int?",
    "requests_per_minute": "int?",
    "tokens_per_minute": "int?",
}
IDP_CREATE = {
    "issuer": "str",
    "audience": "str",
    "algorithms": "str_list",
    "domain_claim": "str",
    "domain_claim_value": "str",
    "aliases_claim": "str?",
    "jwks_url": "str?",
    "static_keys": "key_list?",
}
MAX_EXPIRY_SECONDS = 10 * 365 * 24 * 3600


def _key_row(session: Session, key: Any) -> dict[str, Any]:
    return as_dict(key, domain=tenants.get_domain(session, key.domain_id).name)


def _expiry(body: dict[str, Any]) -> datetime | None:
    seconds = body.pop("expires_in_seconds", None)
    at = body.pop("expires_at", None)
    if seconds is not None and at is not None:
        raise bad_request(
            "Give expires_at or expires_in_seconds, not both.",
            param="expires_in_seconds",
            code="invalid_request",
        )
    if seconds is not None:
        if not 0 < seconds <= MAX_EXPIRY_SECONDS:
            raise bad_request(
                "expires_in_seconds must be between 1 and 10 years.", param="expires_in_seconds"
            )
        return datetime.now(UTC) + timedelta(seconds=seconds)
    return at


# ---- keys --------------------------------------------------------------------------------------


@route("GET", "/admin/v1/keys")
async def list_keys(request: web.Request) -> web.Response:
    domain = request.query.get("domain")
    return listing(
        await run_in_session(
            request, lambda s, _a: [_key_row(s, k) for k in keys.list_keys(s, domain)], changes=False
        )
    )


@route("GET", "/admin/v1/keys/{key_id}")
async def get_key(request: web.Request) -> web.Response:
    key_id = request.match_info["key_id"]
    return one(
        await run_in_session(request, lambda s, _a: _key_row(s, keys.get_key(s, key_id)), changes=False)
    )


@route("POST", "/admin/v1/domains/{name}/keys")
async def create_key(request: web.Request) -> web.Response:
    domain = request.match_info["name"]
    body = await read_fields(request, KEY_CREATE)
    expires_at = _expiry(body)
    pepper = request.app[CONFIG].pepper

    def action(s: Session, actor: str) -> dict[str, Any]:
        key, secret = keys.create_key(
            s,
            domain,
            actor,
            name=body.get("name"),
            allowed_aliases=body.get("allowed_aliases"),
            expires_at=expires_at,
            rpm=body.get("requests_per_minute"),
            tpm=body.get("tokens_per_minute"),
            pepper=pepper,
        )
        return {"key": _key_row(s, key), "secret": secret}

    return one(await run_in_session(request, action), status=201, secret=True)


@route("POST", "/admin/v1/keys/{key_id}/revoke")
async def revoke_key(request: web.Request) -> web.Response:
    key_id = request.match_info["key_id"]
    return one(await run_in_session(request, lambda s, actor: _key_row(s, keys.revoke_key(s, key_id, actor))))


@route("POST", "/admin/v1/keys/{key_id}/rotate")
async def rotate_key(request: web.Request) -> web.Response:
    key_id = request.match_info["key_id"]
    pepper = request.app[CONFIG].pepper

    def action(s: Session, actor: str) -> dict[str, Any]:
        key, secret = keys.rotate_key(s, key_id, actor, pepper=pepper)
        return {"key": _key_row(s, key), "secret": secret}

    return one(await run_in_session(request, action), secret=True)


# ---- identity providers ------------------------------------------------------------------------


def _idp_rows(session: Session, domain: str | None) -> list[dict[str, Any]]:
    names = {d.id: d.name for d in tenants.list_domains(session)}
    return [as_dict(p, domain=names.get(p.domain_id)) for p in idp.list_identity_providers(session, domain)]


@route("GET", "/admin/v1/identity-providers")
async def list_all_identity_providers(request: web.Request) -> web.Response:
    domain = request.query.get("domain")
    return listing(await run_in_session(request, lambda s, _a: _idp_rows(s, domain), changes=False))


@route("GET", "/admin/v1/domains/{name}/identity-providers")
async def list_identity_providers(request: web.Request) -> web.Response:
    domain = request.match_info["name"]
    return listing(await run_in_session(request, lambda s, _a: _idp_rows(s, domain), changes=False))


@route("POST", "/admin/v1/domains/{name}/identity-providers")
async def add_identity_provider(request: web.Request) -> web.Response:
    domain = request.match_info["name"]
    required = ("issuer", "audience", "algorithms", "domain_claim", "domain_claim_value")
    body = await read_fields(request, IDP_CREATE, required=required)

    def action(s: Session, actor: str) -> dict[str, Any]:
        return as_dict(idp.add_identity_provider(s, domain, actor, **body), domain=domain)

    return one(await run_in_session(request, action), status=201)


@route("DELETE", "/admin/v1/identity-providers")
async def remove_identity_provider(request: web.Request) -> web.Response:
    issuer = request.query.get("issuer")
    if not issuer:
        raise bad_request("The issuer query parameter is required.", param="issuer", code="invalid_request")
    await run_in_session(request, lambda s, actor: idp.remove_identity_provider(s, issuer, actor))
    return one({"issuer": issuer, "deleted": True})
