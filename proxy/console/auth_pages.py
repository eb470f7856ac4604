"""Sign in (operator token or a tenant's API key), sign out.

Failed sign-ins are throttled per client address like API-key failures. The login form has
its own CSRF token (double-submit: a SameSite=Strict cookie and a hidden field must agree).
"""

from __future__ import annotations

import hmac
import math
import secrets

from aiohttp import web

from proxy.auth import client_address
from proxy.console.sessions import COOKIE
from proxy.console.web import (
    BASE,
    CONSOLE,
    FormUnreadable,
    current_session,
    read_form,
    redirect,
    refused_page,
    render,
    routes,
    secure,
)
from proxy.state import CONFIG, DIRECTORY

LOGIN_COOKIE = "teecube_console_login"
MAX_CREDENTIAL_CHARS = 4096


def _set_cookie(response: web.StreamResponse, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=f"{BASE}/", httponly=True, secure=True,
                        samesite="Strict")


def _login_page(request: web.Request, status: int = 200, error: str | None = None) -> web.StreamResponse:
    token = secrets.token_urlsafe(32)
    operator = bool(request.app[CONFIG].operator_token)
    response = render(request, "login.jinja", None, status=status, csrf=token, error=error,
                      operator_login=operator)
    _set_cookie(response, LOGIN_COOKIE, token, 600)
    return secure(response)


@routes.get(BASE)
@routes.get(f"{BASE}/")
async def home(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    if session is None:
        return redirect(f"{BASE}/login")
    return redirect(f"{BASE}/domains" if session.role == "operator" else f"{BASE}/my")


@routes.get(f"{BASE}/login")
async def login_form(request: web.Request) -> web.StreamResponse:
    return _login_page(request)


@routes.post(f"{BASE}/login")
async def login(request: web.Request) -> web.StreamResponse:
    state = request.app[CONSOLE]
    client = client_address(request)
    wait = await state.throttle.blocked_for(client)
    if wait:
        response = _login_page(request, 429, f"Too many failed sign-ins. Retry in {math.ceil(wait)} s.")
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    try:
        form = await read_form(request)
    except FormUnreadable as exc:
        return _login_page(request, exc.status, str(exc))
    expected = request.cookies.get(LOGIN_COOKIE, "")
    presented = str(form.get("csrf", ""))
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        return _login_page(request, 403, "The form expired; please sign in again.")
    credential = str(form.get("credential", "")).strip()[:MAX_CREDENTIAL_CHARS]
    operator_token = request.app[CONFIG].operator_token or ""
    if credential.startswith("sk-"):
        key = await request.app[DIRECTORY].resolve_key(credential)
        if key is not None:
            sid, _ = state.sessions.create(
                "tenant", domain_id=key.domain_id, domain_name=key.domain_name, key_id=key.key_id
            )
            return _signed_in(sid, f"{BASE}/my", state.sessions.ttl)
    # not a tenant key (an operator token may start with "sk-" too)
    if operator_token and hmac.compare_digest(credential.encode(), operator_token.encode()):
        sid, _ = state.sessions.create("operator")
        return _signed_in(sid, f"{BASE}/domains", state.sessions.ttl)
    await state.throttle.failed(client)
    return _login_page(request, 401, "That operator token or API key is not valid.")


def _signed_in(sid: str, location: str, ttl: float) -> web.StreamResponse:
    response = redirect(location)
    _set_cookie(response, COOKIE, sid, int(ttl))
    response.del_cookie(LOGIN_COOKIE, path=f"{BASE}/")
    return response


@routes.post(f"{BASE}/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    try:
        form = await read_form(request)
    except FormUnreadable as exc:
        return refused_page(request, session, exc)
    if session is not None and session.csrf_ok(str(form.get("csrf", ""))):
        request.app[CONSOLE].sessions.drop(request.cookies.get(COOKIE))
    elif session is not None:
        return secure(render(request, "denied.jinja", session, status=403, csrf=True))
    response = redirect(f"{BASE}/login")
    response.del_cookie(COOKIE, path=f"{BASE}/")
    return response


@routes.get(f"{BASE}/static/console.css")
async def stylesheet(request: web.Request) -> web.StreamResponse:
    from proxy.console.web import TEMPLATES

    css = (TEMPLATES.parent / "static" / "console.css").read_text()
    return secure(web.Response(text=css, content_type="text/css"))
