"""Operator pages: domains (limits, grants, keys, identity providers) and deployments.

Each form calls the same `domains/` function the admin API and `teecube admin` call, as
actor `console:operator`; each change writes its audit event there and drops the caches.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from domains import deployments, grants, idp, keys, policies, tenants
from domains.cli_format import as_dict
from domains.errors import NotFound
from domains.models import DEPLOYMENT_KINDS, FAIL_MODES
from proxy.console.sessions import ConsoleSession
from proxy.console.web import ACTOR, BASE, Refused, act, form_int, form_str, page, redirect, render
from proxy.state import CONFIG

DOMAIN_LIMITS = ("requests_per_minute", "tokens_per_minute", "max_tokens_cap")
DOMAIN_CAPS = ("max_body_bytes", "max_messages", "max_n")
MAX_KEY_DAYS = 3650


async def _done(request: web.Request, session: ConsoleSession, location: str, action: Any,
                message: str) -> web.Response:
    try:
        await act(request, action)
        session.flashes.append(("ok", message))
    except Refused as exc:
        session.flashes.append(("error", str(exc)))
    return redirect(location)


# ---- domains -----------------------------------------------------------------------------------


@page("GET", "/domains", "operator")
async def domains_page(request: web.Request, session: ConsoleSession) -> web.Response:
    rows = await act(request, lambda s: [as_dict(d) for d in tenants.list_domains(s)], changes=False)
    return render(request, "domains.jinja", session, domains=rows, fail_modes=FAIL_MODES)


@page("POST", "/domains", "operator")
async def domain_create(request: web.Request, session: ConsoleSession) -> web.Response:
    form = await request.post()
    try:
        name = form_str(form, "name") or ""
        limits = {f: form_int(form, f) for f in DOMAIN_LIMITS}
    except Refused as exc:
        session.flashes.append(("error", str(exc)))
        return redirect(f"{BASE}/domains")
    return await _done(request, session, f"{BASE}/domains",
                       lambda s: tenants.create_domain(s, name, ACTOR, **limits), f"Created domain {name}.")


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
    secret, session.secret_once = session.secret_once, None
    return render(request, "domain.jinja", session, secret=secret, fail_modes=FAIL_MODES,
                  now=datetime.now(UTC), findings=None, **detail)


@page("POST", "/domains/{name}/settings", "operator")
async def domain_update(request: web.Request, session: ConsoleSession) -> web.Response:
    name = request.match_info["name"]
    form = await request.post()
    here = f"{BASE}/domains/{name}"
    try:
        changes: dict[str, Any] = {f: form_int(form, f) for f in DOMAIN_LIMITS}
        for cap in DOMAIN_CAPS:
            value = form_int(form, cap)
            if value is not None:
                changes[cap] = value
        mode = form_str(form, "guardrail_fail_mode")
        if mode:
            changes["guardrail_fail_mode"] = mode
    except Refused as exc:
        session.flashes.append(("error", str(exc)))
        return redirect(here)
    return await _done(request, session, here,
                       lambda s: tenants.update_domain(s, name, ACTOR, **changes),
                       "Saved the domain's limits.")


@page("POST", "/domains/{name}/status", "operator")
async def domain_status(request: web.Request, session: ConsoleSession) -> web.Response:
    name = request.match_info["name"]
    enable = (await request.post()).get("enable") == "1"
    change = tenants.enable_domain if enable else tenants.disable_domain
    return await _done(request, session, f"{BASE}/domains/{name}", lambda s: change(s, name, ACTOR),
                       f"{'Enabled' if enable else 'Disabled'} domain {name}.")


# ---- grants ------------------------------------------------------------------------------------


@page("POST", "/domains/{name}/grants", "operator")
async def grant(request: web.Request, session: ConsoleSession) -> web.Response:
    name = request.match_info["name"]
    form = await request.post()
    here = f"{BASE}/domains/{name}"
    try:
        alias, deployment = form_str(form, "alias") or "", form_str(form, "deployment") or ""
        limits: dict[str, Any] = {f: form_int(form, f) for f in (*DOMAIN_LIMITS, "max_prompt_tokens")}
        limits["enabled"] = form.get("enabled") == "1"
    except Refused as exc:
        session.flashes.append(("error", str(exc)))
        return redirect(here)
    return await _done(request, session, here,
                       lambda s: grants.grant_model(s, name, alias, deployment, ACTOR, **limits),
                       f"Granted {alias} → {deployment}.")


@page("POST", "/domains/{name}/grants/revoke", "operator")
async def revoke_grant(request: web.Request, session: ConsoleSession) -> web.Response:
    name = request.match_info["name"]
    alias = str((await request.post()).get("alias", ""))
    return await _done(request, session, f"{BASE}/domains/{name}",
                       lambda s: grants.revoke_model(s, name, alias, ACTOR), f"Revoked alias {alias}.")


# ---- keys --------------------------------------------------------------------------------------


@page("POST", "/domains/{name}/keys", "operator")
async def key_create(request: web.Request, session: ConsoleSession) -> web.Response:
    name = request.match_info["name"]
    form = await request.post()
    here = f"{BASE}/domains/{name}"
    pepper = request.app[CONFIG].pepper
    try:
        days = form_int(form, "expires_in_days")
        if days is not None and not 0 < days <= MAX_KEY_DAYS:
            raise Refused("expires_in_days must be between 1 and 3650")
        expires = datetime.now(UTC) + timedelta(days=days) if days else None
        aliases_raw = form_str(form, "allowed_aliases")
        aliases = [a.strip() for a in aliases_raw.split(",") if a.strip()] if aliases_raw else None
        fields = {"name": form_str(form, "key_name"), "allowed_aliases": aliases, "expires_at": expires,
                  "rpm": form_int(form, "requests_per_minute"), "tpm": form_int(form, "tokens_per_minute")}
        key, secret = await act(request, lambda s: keys.create_key(s, name, ACTOR, pepper=pepper, **fields))
    except Refused as exc:
        session.flashes.append(("error", str(exc)))
        return redirect(here)
    session.secret_once = secret
    session.flashes.append(("ok", f"Created key {key.key_id}. Copy its secret now: it is shown once."))
    return redirect(here)


@page("POST", "/keys/{key_id}/rotate", "operator")
async def key_rotate(request: web.Request, session: ConsoleSession) -> web.Response:
    key_id = request.match_info["key_id"]
    pepper = request.app[CONFIG].pepper

    def action(s: Session) -> tuple[str, str]:
        key, secret = keys.rotate_key(s, key_id, ACTOR, pepper=pepper)
        return tenants.get_domain(s, key.domain_id).name, secret

    try:
        domain, secret = await act(request, action)
    except Refused as exc:
        session.flashes.append(("error", str(exc)))
        return redirect(f"{BASE}/domains")
    session.secret_once = secret
    session.flashes.append(("ok", f"Rotated key {key_id}: the old secret no longer works. Copy the new one."))
    return redirect(f"{BASE}/domains/{domain}")


@page("POST", "/keys/{key_id}/revoke", "operator")
async def key_revoke(request: web.Request, session: ConsoleSession) -> web.Response:
    key_id = request.match_info["key_id"]

    def action(s: Session) -> str:
        key = keys.revoke_key(s, key_id, ACTOR)
        return tenants.get_domain(s, key.domain_id).name

    try:
        domain = await act(request, action)
    except Refused as exc:
        session.flashes.append(("error", str(exc)))
        return redirect(f"{BASE}/domains")
    session.flashes.append(("ok", f"Revoked key {key_id}."))
    return redirect(f"{BASE}/domains/{domain}")


# ---- deployments -------------------------------------------------------------------------------


@page("GET", "/deployments", "operator")
async def deployments_page(request: web.Request, session: ConsoleSession) -> web.Response:
    from proxy.console.health import probe_all

    rows = await act(request, lambda s: [as_dict(d) for d in deployments.list_deployments(s)], changes=False)
    health = await probe_all(request.app, rows)
    return render(request, "deployments.jinja", session, deployments=rows, kinds=DEPLOYMENT_KINDS,
                  health=health)


@page("POST", "/deployments", "operator")
async def deployment_add(request: web.Request, session: ConsoleSession) -> web.Response:
    form = await request.post()
    here = f"{BASE}/deployments"
    try:
        name, kind = form_str(form, "name") or "", form_str(form, "kind") or ""
        url, served = form_str(form, "url") or "", form_str(form, "served_model_name") or ""
        extra = {"credential_ref": form_str(form, "credential_ref"),
                 "context_length": form_int(form, "context_length")}
    except Refused as exc:
        session.flashes.append(("error", str(exc)))
        return redirect(here)
    return await _done(request, session, here,
                       lambda s: deployments.add_deployment(s, name, kind, url, served, ACTOR, **extra),
                       f"Registered deployment {name}.")


@page("POST", "/deployments/{name}/status", "operator")
async def deployment_status(request: web.Request, session: ConsoleSession) -> web.Response:
    name = request.match_info["name"]
    status = "active" if (await request.post()).get("enable") == "1" else "disabled"
    return await _done(request, session, f"{BASE}/deployments",
                       lambda s: deployments.set_deployment_status(s, name, status, ACTOR),
                       f"Deployment {name} is {status}.")


@page("GET", "/deployments/{name}", "operator")
async def deployment_page(request: web.Request, session: ConsoleSession) -> web.Response:
    name = request.match_info["name"]
    try:
        row = await act(request, lambda s: as_dict(deployments.get_deployment(s, name)), changes=False)
    except Refused as exc:
        return render(request, "not_found.jinja", session, status=404, message=str(exc))
    return render(request, "deployment.jinja", session, deployment=row)


@page("POST", "/deployments/{name}", "operator")
async def deployment_update(request: web.Request, session: ConsoleSession) -> web.Response:
    name = request.match_info["name"]
    form = await request.post()
    here = f"{BASE}/deployments/{name}"
    try:
        changes = {"url": form_str(form, "url"), "served_model_name": form_str(form, "served_model_name"),
                   "credential_ref": form_str(form, "credential_ref"),
                   "context_length": form_int(form, "context_length")}
    except Refused as exc:
        session.flashes.append(("error", str(exc)))
        return redirect(here)
    return await _done(request, session, here,
                       lambda s: deployments.update_deployment(s, name, ACTOR, **changes),
                       f"Saved deployment {name}.")


# ---- identity providers ------------------------------------------------------------------------

PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----[A-Za-z0-9+/=\s]+-----END [A-Z ]+-----")


def _static_keys(raw: str | None) -> list[Any] | None:
    """PEM blocks pasted one after another, or a JSON list of PEM strings and JWK objects."""
    if not raw:
        return None
    if raw.lstrip().startswith("["):
        try:
            keys_ = json.loads(raw)
        except ValueError:
            raise Refused("static keys: not a valid JSON list") from None
        return keys_ if isinstance(keys_, list) else None
    blocks = PEM_BLOCK.findall(raw)
    if not blocks:
        raise Refused("static keys must be PEM public keys or a JSON list of keys")
    return blocks


@page("POST", "/domains/{name}/idps", "operator")
async def idp_add(request: web.Request, session: ConsoleSession) -> web.Response:
    name = request.match_info["name"]
    form = await request.post()
    here = f"{BASE}/domains/{name}"
    try:
        algorithms = [a.strip() for a in (form_str(form, "algorithms") or "").split(",") if a.strip()]
        required = ("issuer", "audience", "domain_claim", "domain_claim_value")
        fields = {f: form_str(form, f) or "" for f in required}
        extra = {"jwks_url": form_str(form, "jwks_url"), "aliases_claim": form_str(form, "aliases_claim"),
                 "static_keys": _static_keys(form_str(form, "static_keys"))}
    except Refused as exc:
        session.flashes.append(("error", str(exc)))
        return redirect(here)
    return await _done(
        request, session, here,
        lambda s: idp.add_identity_provider(s, name, ACTOR, algorithms=algorithms, **fields, **extra),
        f"Added identity provider {fields['issuer']}.",
    )


@page("POST", "/domains/{name}/idps/remove", "operator")
async def idp_remove(request: web.Request, session: ConsoleSession) -> web.Response:
    name = request.match_info["name"]
    issuer = str((await request.post()).get("issuer", ""))

    def action(s: Session) -> None:
        found = idp.get_identity_provider(s, issuer)
        if found is None or found.domain_id != tenants.get_domain(s, name).id:
            raise NotFound(f"identity provider {issuer!r} not found in domain {name!r}")
        idp.remove_identity_provider(s, issuer, ACTOR)

    return await _done(request, session, f"{BASE}/domains/{name}", action,
                       f"Removed identity provider {issuer}.")
