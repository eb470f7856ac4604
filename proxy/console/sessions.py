"""Console sessions: random ids in an in-memory store, each with its role, expiry and CSRF token.

The cookie carries only the session id (HttpOnly, Secure, SameSite=Strict, Path=/console/).
Nothing is derivable from it; logout and expiry delete the server-side entry. One principal (the
operator token, or one API key) holds at most MAX_PER_PRINCIPAL sessions, its oldest going first,
so a tenant signing in over and over cannot fill the store and push the operator's session out.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

COOKIE = "teecube_console"
DEFAULT_TTL = 8 * 3600
MAX_SESSIONS = 10_000
MAX_PER_PRINCIPAL = 32  # browsers and tabs of one operator or one key


@dataclass(slots=True)
class ConsoleSession:
    role: str  # "operator" or "tenant"
    expires: float  # time.monotonic() deadline
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    domain_id: int | None = None  # tenant sessions only
    domain_name: str | None = None
    key_id: str | None = None
    flashes: list[tuple[str, str]] = field(default_factory=list)  # (kind, message) for the next page
    # (domain, a new key's secret): its domain's next page only
    secret_once: tuple[str, str] | None = field(default=None, repr=False)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))  # a key rotated since ends it

    def csrf_ok(self, presented: str | None) -> bool:
        return hmac.compare_digest((presented or "").encode(), self.csrf.encode())


class SessionStore:
    def __init__(self, ttl: float = DEFAULT_TTL, max_sessions: int = MAX_SESSIONS,
                 per_principal: int = MAX_PER_PRINCIPAL) -> None:
        self.ttl = ttl
        self._max = max_sessions
        self._per_principal = per_principal
        self._sessions: dict[str, ConsoleSession] = {}

    def create(self, role: str, **fields: object) -> tuple[str, ConsoleSession]:
        now = time.monotonic()
        principal = (role, fields.get("key_id"))
        mine = [k for k, v in self._sessions.items() if (v.role, v.key_id) == principal]
        while len(mine) >= self._per_principal:  # this principal's oldest goes, nobody else's
            oldest = min(mine, key=lambda k: self._sessions[k].expires)
            del self._sessions[oldest]
            mine.remove(oldest)
        if len(self._sessions) >= self._max:
            self._sessions = {k: v for k, v in self._sessions.items() if v.expires > now}
            if len(self._sessions) >= self._max:  # still full: the oldest goes
                del self._sessions[min(self._sessions, key=lambda k: self._sessions[k].expires)]
        sid = secrets.token_urlsafe(32)
        session = ConsoleSession(role=role, expires=now + self.ttl, **fields)  # type: ignore[arg-type]
        self._sessions[sid] = session
        return sid, session

    def get(self, sid: str | None) -> ConsoleSession | None:
        if not sid or len(sid) > 128:
            return None
        session = self._sessions.get(sid)
        if session is None:
            return None
        if session.expires <= time.monotonic():
            del self._sessions[sid]
            return None
        return session

    def drop(self, sid: str | None) -> None:
        if sid:
            self._sessions.pop(sid, None)

    def expire_all(self) -> None:
        """Every session ends now (tests; an operator rotating the token)."""
        for session in self._sessions.values():
            session.expires = 0.0
