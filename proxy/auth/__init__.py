"""Who is calling: an API key (`sk-tc-…`) or a JWT from the domain's identity provider."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from aiohttp import web

from proxy.addresses import limit_key
from proxy.auth.failures import FailureThrottle
from proxy.auth.jwt_auth import JwtRejected, JwtVerifier
from proxy.directory import Directory
from proxy.errors import ApiError, invalid_api_key

log = logging.getLogger("teecube.proxy.auth")
MAX_CREDENTIAL_CHARS = 16 * 1024


@dataclass(frozen=True, slots=True)
class Principal:
    domain_id: int
    domain_name: str
    key_id: str | None  # None for JWT callers
    subject: str  # key id or "jwt:<issuer>#<sub>" — for audit and usage, never a secret
    allowed_aliases: frozenset[str] | None  # None = every alias the domain has
    rpm: int | None = None
    tpm: int | None = None


def bearer_token(request: web.Request) -> str | None:
    """The bearer credential, or None when it is absent or malformed: a repeated Authorization
    header, a scheme other than Bearer, or anything but printable ASCII (aiohttp hands invalid
    UTF-8 on as surrogate escapes, which no key or token can contain)."""
    headers = request.headers.getall("Authorization", [])
    if len(headers) != 1:
        return None
    scheme, _, value = headers[0].partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or not value.isascii() or not value.isprintable():
        return None
    return value


def client_address(request: web.Request) -> str:
    """The client's key for per-address throttles: its IPv4 address, or its IPv6 /64
    (`proxy.addresses`)."""
    return limit_key(request.remote or "unknown")


async def raise_if_throttled(throttle: FailureThrottle, client: str) -> None:
    wait = await throttle.blocked_for(client)
    if wait:
        raise ApiError(
            429,
            "Too many failed authentication attempts. Please retry later.",
            code="too_many_auth_failures",
            headers={"Retry-After": str(math.ceil(wait))},
        )


class Authenticator:
    def __init__(self, directory: Directory, jwt_verifier: JwtVerifier, throttle: FailureThrottle) -> None:
        self.directory = directory
        self.jwt = jwt_verifier
        self.throttle = throttle

    async def authenticate(self, request: web.Request) -> Principal:
        """A valid credential always passes, whatever its address did before: many clients may
        share one address behind a balancer. Only the failing path is throttled: once an address
        has failed too often, its failures get 429 with Retry-After instead of 401."""
        client = client_address(request)
        principal = await self._identify(bearer_token(request))
        if principal is not None:
            return principal
        await self.throttle.failed(client)
        await raise_if_throttled(self.throttle, client)
        raise invalid_api_key()


    async def _identify(self, credential: str | None) -> Principal | None:
        if not credential or len(credential) > MAX_CREDENTIAL_CHARS:
            # Malformed input still costs one key lookup, like every other failure.
            await self.directory.resolve_key(credential or "")
            return None
        if credential.count(".") == 2 and not credential.startswith("sk-"):
            self.jwt.configure(await self.directory.issuers())
            try:
                ident = await self.jwt.verify(credential)
            except JwtRejected as exc:
                log.info("jwt rejected: %s", exc)
                return None
            settings = await self.directory.settings(ident.domain_id)
            if settings is None or not settings.active:
                return None
            return Principal(
                domain_id=ident.domain_id,
                domain_name=ident.domain_name,
                key_id=None,
                subject=f"jwt:{ident.issuer}#{ident.subject}"[:128],
                allowed_aliases=ident.allowed_aliases,
            )
        key = await self.directory.resolve_key(credential)
        if key is None:
            return None
        return Principal(
            domain_id=key.domain_id,
            domain_name=key.domain_name,
            key_id=key.key_id,
            subject=key.key_id,
            allowed_aliases=frozenset(key.allowed_aliases) if key.allowed_aliases is not None else None,
            rpm=key.rpm,
            tpm=key.tpm,
        )
