"""Console plumbing: page registration behind a session, CSRF on every POST, security headers.

Every console response carries a strict Content-Security-Policy (no script at all, styles
from our own static file only), `no-store`, and framing denied. A POST without the session's
CSRF token is refused (403) before its form is acted on; a form that cannot be read (over
MAX_FORM_BYTES, not UTF-8, an unknown charset) is a 413 or 400 page, never a 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from domains import keys
from domains.cli_format import _cell
from domains.errors import DomainError, NotFound
from proxy.auth.failures import FailureThrottle
from proxy.console.sessions import COOKIE, ConsoleSession, SessionStore
from proxy.console.verdict_cache import VerdictCache
from proxy.guardrails import PolicyConfigError
from proxy.state import DIRECTORY

BASE = "/console"
ACTOR = "console:operator"
MAX_FORM_BYTES = 256 * 1024
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class ConsoleState:
    sessions: SessionStore
    throttle: FailureThrottle
    env: jinja2.Environment
    engine_samples: dict[str, tuple[float, dict[str, float]]] = field(default_factory=dict)
    verdicts: VerdictCache = field(default_factory=VerdictCache)  # the attestation page's


CONSOLE = web.AppKey("console", ConsoleState)
routes = web.RouteTableDef()
Page = Callable[[web.Request, ConsoleSession], Awaitable[web.StreamResponse]]


class Refused(Exception):
    """An action the domain layer refused: shown to the operator as a message."""


class FormUnreadable(Exception):
    """A POST body that is not a form this console reads; `status` is the page's status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def is_compressed(request: web.Request) -> bool:
    """Whether the request names a Content-Encoding other than identity."""
    return request.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")


async def read_form(request: web.Request) -> MultiDictProxy[Any]:
    """The POST's form fields, at most MAX_FORM_BYTES of UTF-8 (the console's forms are far smaller)."""
    too_large = FormUnreadable(413, f"The form is too large (at most {MAX_FORM_BYTES // 1024} KiB).")
    if (request.content_length or 0) > MAX_FORM_BYTES:
        raise too_large
    if is_compressed(request):  # browsers never compress a form; a garbage one could stall the decoder
        raise FormUnreadable(415, "The form must not be compressed (Content-Encoding).")
    try:
        if not request.content_type.startswith("multipart/") and len(await request.read()) > MAX_FORM_BYTES:
            raise too_large  # a chunked body has no length up front; read() caches it for post()
        return await request.post()
    except web.HTTPRequestEntityTooLarge:
        raise too_large from None
    except (ValueError, LookupError):  # bytes that are not UTF-8 (or the charset named), a charset unknown
        raise FormUnreadable(400, "The form could not be read: it must be UTF-8 text.") from None


def refused_page(
    request: web.Request, session: ConsoleSession | None, exc: FormUnreadable
) -> web.StreamResponse:
    return secure(render(request, "refused.jinja", session, status=exc.status, message=str(exc)))


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every response under /console carries the headers, errors too (404, 405, 413, 500)."""
    if request.path == BASE or request.path.startswith(BASE + "/"):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["cell"] = _cell
    env.globals["base"] = BASE
    return env


def secure(response: web.StreamResponse) -> web.StreamResponse:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


def render(request: web.Request, template: str, session: ConsoleSession | None, status: int = 200,
           **context: Any) -> web.Response:
    state = request.app[CONSOLE]
    flashes = []
    if session is not None:
        flashes, session.flashes = session.flashes, []
    html = state.env.get_template(template).render(
        session=session, flashes=flashes, path=request.path, **context
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, **SECURITY_HEADERS})


def _tenant_key_valid(request: web.Request, session: ConsoleSession) -> Awaitable[bool]:
    factory = request.app["session_factory"]

    def check() -> bool:
        with factory() as s:
            try:
                key = keys.get_key(s, session.key_id or "")
            except NotFound:
                return False
            expired = key.expires_at is not None and key.expires_at <= datetime.now(UTC)
            rotated = key.rotated_at is not None and key.rotated_at >= session.started
            mine = key.domain_id == session.domain_id
            active = key.domain.status == "active"  # a disabled domain's keys stop here as on the API
            return key.revoked_at is None and not expired and not rotated and mine and active

    return asyncio.to_thread(check)


def current_session(request: web.Request) -> ConsoleSession | None:
    return request.app[CONSOLE].sessions.get(request.cookies.get(COOKIE))


def page(method: str, path: str, role: str) -> Callable[[Page], Page]:
    """Register a console page for `role` ("operator", "tenant" or "any" signed-in user)."""

    def register(handler: Page) -> Page:
        async def guarded(request: web.Request) -> web.StreamResponse:
            session = current_session(request)
            if session is None:
                return redirect(f"{BASE}/login")
            if session.role == "tenant" and not await _tenant_key_valid(request, session):
                request.app[CONSOLE].sessions.drop(request.cookies.get(COOKIE))
                return redirect(f"{BASE}/login")
            if role != "any" and session.role != role:
                return secure(render(request, "denied.jinja", session, status=403))
            if method == "POST":
                try:
                    form = await read_form(request)
                except FormUnreadable as exc:
                    return refused_page(request, session, exc)
                if not session.csrf_ok(str(form.get("csrf", ""))):
                    return secure(render(request, "denied.jinja", session, status=403, csrf=True))
            return secure(await handler(request, session))

        guarded.__name__ = handler.__name__
        routes.route(method, BASE + path)(guarded)
        return handler

    return register


def _message(exc: Exception) -> str | None:
    if isinstance(exc, DomainError):
        return str(exc)
    if isinstance(exc, PolicyConfigError):
        return f"config.{exc}"
    if isinstance(exc, DataError):
        return "A value is too long or malformed for its field."
    if isinstance(exc, IntegrityError):
        return "The change conflicts with the current state; retry."
    return None


async def act(request: web.Request, action: Callable[[Session], Any], *, changes: bool = True) -> Any:
    """One unit of work in a worker thread; a refusal from `domains/` becomes `Refused`."""
    factory = request.app["session_factory"]

    def work() -> Any:
        with factory.begin() as s:
            return action(s)

    try:
        result = await asyncio.to_thread(work)
    except Exception as exc:
        message = _message(exc)
        if message is None:
            raise
        raise Refused(message) from None
    if changes:
        request.app[DIRECTORY].invalidate()
    return result
