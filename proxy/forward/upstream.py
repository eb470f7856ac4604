"""Pooled HTTP clients for upstreams, one per operator-set base URL.

Upstream URLs come only from the operator's deployments (`domains/`), never from a
tenant. `unix:/path/to.sock` reaches the local engine over a Unix socket. Only the
headers built here are sent: never the tenant's Authorization or hop-by-hop headers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import aiohttp


class CredentialError(Exception):
    """The deployment's credential reference cannot be resolved."""


def resolve_credential(ref: str | None) -> str | None:
    """`env:NAME` or `file:/path`; the value never enters the database."""
    if not ref:
        return None
    scheme, _, rest = ref.partition(":")
    if scheme == "env":
        value = os.environ.get(rest)
    elif scheme == "file":
        try:
            value = Path(rest).read_text().strip()
        except OSError:
            value = None
    else:
        value = None
    if not value:
        raise CredentialError(f"credential reference {scheme}:… could not be resolved")
    return value


@dataclass(frozen=True, slots=True)
class Upstream:
    base_url: str  # http(s)://host:port[/prefix] or unix:/path
    credential_ref: str | None = None

    def endpoint(self, path: str) -> str:
        """Absolute URL for an OpenAI path such as `/v1/chat/completions`."""
        base = "http://localhost" if self.base_url.startswith("unix:") else self.base_url.rstrip("/")
        if base.endswith("/v1") and path.startswith("/v1/"):
            base = base[: -len("/v1")]
        return base + path

    def server_endpoint(self, path: str) -> str:
        """Absolute URL for a server path outside /v1, such as `/detokenize` or `/tokenizer`."""
        base = "http://localhost" if self.base_url.startswith("unix:") else self.base_url.rstrip("/")
        return base.removesuffix("/v1") + path


class UpstreamPool:
    """One keep-alive connection pool per upstream; closed with the app."""

    def __init__(self, *, connect_timeout: float = 5.0, read_timeout: float = 600.0) -> None:
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)

    def session(self, upstream: Upstream) -> aiohttp.ClientSession:
        sess = self._sessions.get(upstream.base_url)
        if sess is None or sess.closed:
            if upstream.base_url.startswith("unix:"):
                connector = aiohttp.UnixConnector(path=upstream.base_url[len("unix:"):], limit=0)
            else:
                connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=60, enable_cleanup_closed=True)
            sess = aiohttp.ClientSession(
                connector=connector,
                # One session serves every tenant: a cookie the upstream sets in answer to one
                # tenant must never ride along on another tenant's request.
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=self._timeout,
                auto_decompress=True,
                trust_env=False,
                skip_auto_headers=("User-Agent",),
            )
            self._sessions[upstream.base_url] = sess
        return sess

    def headers(self, upstream: Upstream, request_id: str) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "X-Request-Id": request_id}
        credential = resolve_credential(upstream.credential_ref)
        if credential:
            headers["Authorization"] = f"Bearer {credential}"
        return headers

    async def close(self) -> None:
        for sess in self._sessions.values():
            await sess.close()
        self._sessions.clear()
