"""Guardrail policies: versions, an editor that validates as the admin API does, and "try it".

A new version is compiled with the proxy's guardrail compiler before it is stored (exactly
the admin API's order), so the editor refuses what the API refuses, naming the field. "Try
it" scans a sample text with the edited config and lists the findings: rule ids, counts and
whether the request would be blocked. The sample is neither stored, logged nor echoed back.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from domains import policies, tenants
from domains.cli_format import as_dict
from domains.errors import NotFound
from proxy.console.sessions import ConsoleSession
from proxy.console.web import ACTOR, BASE, Refused, act, page, redirect, render
from proxy.guardrails import PolicyConfigError, compile_policy, scan_request

MAX_SAMPLE_CHARS = 20_000


def _versions(s: Session, name: str) -> dict[str, Any]:
    tenants.get_domain(s, name)
    versions = [as_dict(p) for p in policies.list_policy_versions(s, name)]
    try:
        active = policies.get_active_policy(s, name).config
    except NotFound:
        active = None
    return {"versions": versions, "active_config": active}


def _parse(raw: str) -> dict[str, Any]:
    try:
        config = json.loads(raw)
    except ValueError:
        raise Refused("The policy is not valid JSON.") from None
    if not isinstance(config, dict):
        raise Refused("The policy must be a JSON object.")
    return config


async def _page(request: web.Request, session: ConsoleSession, *, status: int = 200,
                editor: str | None = None, findings: dict[str, Any] | None = None) -> web.Response:
    name = request.match_info["name"]
    try:
        data = await act(request, lambda s: _versions(s, name), changes=False)
    except Refused as exc:
        return render(request, "not_found.jinja", session, status=404, message=str(exc))
    if editor is None:
        editor = json.dumps(data["active_config"] or {"version": 1, "rules": []}, indent=2)
    return render(request, "policies.jinja", session, status=status, domain=name, editor=editor,
                  findings=findings, **data)


@page("GET", "/domains/{name}/policies", "operator")
async def policies_page(request: web.Request, session: ConsoleSession) -> web.Response:
    return await _page(request, session)


@page("POST", "/domains/{name}/policies", "operator")
async def policy_create(request: web.Request, session: ConsoleSession) -> web.Response:
    name = request.match_info["name"]
    form = await request.post()
    raw = str(form.get("config", ""))
    activate = form.get("activate") == "1"

    def action(s: Session) -> int:
        compile_policy(config)  # PolicyConfigError names the field; nothing stored
        return policies.create_policy_version(s, name, config, ACTOR, activate=activate).version

    try:
        config = _parse(raw)
        version = await act(request, action)
    except Refused as exc:
        session.flashes.append(("error", str(exc)))
        return await _page(request, session, status=400, editor=raw)
    session.flashes.append(("ok", f"Stored version {version}{' (active)' if activate else ''}."))
    return redirect(f"{BASE}/domains/{name}/policies")


@page("POST", "/domains/{name}/policies/{version:\\d+}/activate", "operator")
async def policy_activate(request: web.Request, session: ConsoleSession) -> web.Response:
    name, version = request.match_info["name"], int(request.match_info["version"])
    try:
        await act(request, lambda s: policies.activate_policy_version(s, name, version, ACTOR))
        session.flashes.append(("ok", f"Version {version} is active."))
    except Refused as exc:
        session.flashes.append(("error", str(exc)))
    return redirect(f"{BASE}/domains/{name}/policies")


def scan_sample(config: dict[str, Any], sample: str) -> dict[str, Any]:
    """Findings of the policy's input stage on one user message: metadata only."""
    try:
        policy = compile_policy(config)
    except PolicyConfigError as exc:
        raise Refused(f"config.{exc}") from None
    body = {"messages": [{"role": "user", "content": sample[:MAX_SAMPLE_CHARS]}]}
    result = scan_request(policy, body, route="chat")
    actions = {r.id: r.input for r in policy.rules}
    counts = dict(result.counts)
    if result.blocked_rule:
        counts.setdefault(result.blocked_rule, 1)
    rows = [{"rule": rule, "count": n, "action": actions.get(rule, "limit")}
            for rule, n in sorted(counts.items())]
    return {"blocked": result.blocked_rule, "rows": rows, "chars": result.input_chars,
            "tokens": result.input_tokens}


@page("POST", "/domains/{name}/policies/try", "operator")
async def policy_try(request: web.Request, session: ConsoleSession) -> web.Response:
    form = await request.post()
    raw = str(form.get("config", ""))
    try:
        findings = scan_sample(_parse(raw), str(form.get("sample", "")))
    except Refused as exc:
        session.flashes.append(("error", str(exc)))
        return await _page(request, session, status=400, editor=raw)
    return await _page(request, session, editor=raw, findings=findings)
