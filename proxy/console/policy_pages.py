"""Guardrail policies: versions, an editor that validates as the admin API does, and "try it".

The editor stores a version with the `policy.set` action and "try it" checks the config with
`policy.validate` (the same typed input and guardrail compiler as `teecube admin` and the admin
API), so the editor refuses what the API refuses, naming the field; on a refusal the editor is
shown again as typed. "Try it" then scans a sample text with the config and lists the findings:
rule ids, counts and whether the request would be blocked. The sample is neither stored, logged
nor echoed back. Activating a version is a generated form (action_forms.py).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from domains import policies, tenants
from domains.errors import NotFound
from domains.operator_actions import BY_NAME, Context
from domains.rows import as_dict
from proxy.console.action_forms import form_input
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


async def _page(request: web.Request, session: ConsoleSession, *, status: int = 200,
                editor: str | None = None, findings: dict[str, Any] | None = None) -> web.Response:
    name = request.match_info["domain"]
    try:
        data = await act(request, lambda s: _versions(s, name), changes=False)
    except Refused as exc:
        return render(request, "not_found.jinja", session, status=404, message=str(exc))
    if editor is None:
        editor = json.dumps(data["active_config"] or {"version": 1, "rules": []}, indent=2)
    return render(request, "policies.jinja", session, status=status, domain=name, editor=editor,
                  findings=findings, **data)


@page("GET", "/domains/{domain}/policies", "operator")
async def policies_page(request: web.Request, session: ConsoleSession) -> web.Response:
    return await _page(request, session)


@page("POST", "/domains/{domain}/policies", "operator")
async def policy_create(request: web.Request, session: ConsoleSession) -> web.Response:
    action = BY_NAME["policy.set"]
    form = await request.post()
    raw = str(form.get("config", ""))
    try:
        inp = form_input(action, request, form)
        row = await act(request, lambda s: action.run(s, ACTOR, inp, Context()))
    except Refused as exc:
        session.flashes.append(("error", str(exc)))
        return await _page(request, session, status=400, editor=raw)
    session.flashes.append(("ok", f"Stored version {row['version']}{' (active)' if inp.activate else ''}."))
    return redirect(f"{BASE}/domains/{inp.domain}/policies")


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


@page("POST", "/domains/{domain}/policies/try", "operator")
async def policy_try(request: web.Request, session: ConsoleSession) -> web.Response:
    action = BY_NAME["policy.validate"]
    form = await request.post()
    raw = str(form.get("config", ""))
    try:
        inp = form_input(action, request, form)
        await act(request, lambda s: action.run(s, ACTOR, inp, Context()), changes=False)
        findings = scan_sample(inp.config, str(form.get("sample", "")))
    except Refused as exc:
        session.flashes.append(("error", str(exc)))
        return await _page(request, session, status=400, editor=raw)
    return await _page(request, session, editor=raw, findings=findings)
