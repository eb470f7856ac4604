"""JWTs from a domain's identity provider.

Per issuer: the operator pins the audience, the algorithms (asymmetric only) and
the keys (static, or a JWKS URL the operator set). The token's header never picks
the algorithm family or a key location: `jku`/`x5u` are ignored, an unknown `kid`
is refused (after at most one JWKS refresh per interval), and `exp`, `iat`, `iss`,
`aud` are required.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from domains.views import IssuerConfig  # re-exported: the record lives with the other views

log = logging.getLogger("teecube.proxy.auth")

ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
JWKS_REFRESH_INTERVAL = 30.0
MAX_TOKEN_BYTES = 16 * 1024


class JwtRejected(Exception):
    """The token is not acceptable. The reason is for logs; tenants get the uniform 401."""


@dataclass(frozen=True, slots=True)
class JwtIdentity:
    issuer: str
    subject: str
    domain_id: int
    domain_name: str
    allowed_aliases: frozenset[str] | None


def _key_from(item: Any) -> tuple[str | None, Any]:
    """(kid, public key object) from a PEM string or a public JWK."""
    if isinstance(item, str):
        return None, load_pem_public_key(item.encode())
    if isinstance(item, dict):
        if item.get("kty") not in ("RSA", "EC", "OKP"):
            raise JwtRejected("non-asymmetric JWK")
        return item.get("kid"), jwt.PyJWK(item).key
    raise JwtRejected("unusable key")


class _KeySet:
    def __init__(self, cfg: IssuerConfig) -> None:
        self.cfg = cfg
        self.by_kid: dict[str | None, list[Any]] = {}
        self.fetched_at = 0.0
        if cfg.static_keys:
            for item in cfg.static_keys:
                kid, key = _key_from(item)
                self.by_kid.setdefault(kid, []).append(key)

    def candidates(self, kid: str | None) -> list[Any]:
        if kid is not None:
            return list(self.by_kid.get(kid, []))
        # No kid: only acceptable when the issuer has keys without kids.
        return list(self.by_kid.get(None, []))

    async def refresh(self, http: aiohttp.ClientSession) -> None:
        if not self.cfg.jwks_url or time.monotonic() - self.fetched_at < JWKS_REFRESH_INTERVAL:
            return
        self.fetched_at = time.monotonic()
        try:
            async with http.get(
                self.cfg.jwks_url, allow_redirects=False, timeout=aiohttp.ClientTimeout(total=5)
            ) as resp:
                if resp.status != 200:
                    log.warning("jwks fetch failed issuer=%s status=%s", self.cfg.issuer, resp.status)
                    return
                raw = await resp.content.read(256 * 1024 + 1)
            if len(raw) > 256 * 1024:
                log.warning("jwks too large issuer=%s", self.cfg.issuer)
                return
            keys: dict[str | None, list[Any]] = {}
            for jwk in json.loads(raw).get("keys", []):
                try:
                    kid, key = _key_from(jwk)
                except (JwtRejected, jwt.PyJWTError, ValueError):
                    continue
                keys.setdefault(kid, []).append(key)
            self.by_kid = keys
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("jwks fetch failed issuer=%s error=%s", self.cfg.issuer, type(exc).__name__)


class JwtVerifier:
    def __init__(self, http: aiohttp.ClientSession | None = None, *, leeway: float = 30.0) -> None:
        self._http = http
        self._leeway = leeway
        self._issuers: dict[str, _KeySet] = {}

    def configure(self, issuers: list[IssuerConfig]) -> None:
        """Replace the issuer table, keeping fetched JWKS for issuers whose config is unchanged."""
        table: dict[str, _KeySet] = {}
        for cfg in issuers:
            bad = [a for a in cfg.algorithms if a not in ASYMMETRIC]
            if bad or not cfg.algorithms:
                log.error("issuer %s skipped: non-asymmetric algorithms configured", cfg.issuer)
                continue
            old = self._issuers.get(cfg.issuer)
            try:
                table[cfg.issuer] = old if old is not None and old.cfg == cfg else _KeySet(cfg)
            except (JwtRejected, ValueError, jwt.PyJWTError):
                log.error("issuer %s skipped: unusable static key", cfg.issuer)
        self._issuers = table

    async def verify(self, token: str) -> JwtIdentity:
        if len(token) > MAX_TOKEN_BYTES:
            raise JwtRejected("token too large")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise JwtRejected("malformed") from None
        issuer = unverified.get("iss")
        keyset = self._issuers.get(issuer) if isinstance(issuer, str) else None
        if keyset is None:
            raise JwtRejected("unknown issuer")
        cfg = keyset.cfg
        alg = header.get("alg")
        if alg not in cfg.algorithms:
            raise JwtRejected("algorithm not allowed for issuer")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise JwtRejected("bad kid")
        keys = keyset.candidates(kid)
        if not keys and self._http is not None:
            await keyset.refresh(self._http)
            keys = keyset.candidates(kid)
        if not keys:
            raise JwtRejected("unknown kid")
        claims = None
        for key in keys:
            try:
                claims = jwt.decode(
                    token,
                    key=key,
                    algorithms=list(cfg.algorithms),
                    audience=cfg.audience,
                    issuer=cfg.issuer,
                    leeway=self._leeway,
                    options={"require": ["exp", "iat", "iss", "aud"]},
                )
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError:
                raise JwtRejected("invalid claims or signature") from None
        if claims is None:
            raise JwtRejected("bad signature")
        if str(claims.get(cfg.domain_claim)) != cfg.domain_claim_value:
            raise JwtRejected("token is for another domain")
        aliases: frozenset[str] | None = None
        if cfg.aliases_claim:
            # Deny by default: an issuer configured to scope tokens by a claim gets no token without it
            # (an explicit empty list is a token that may use no model).
            raw = claims.get(cfg.aliases_claim)
            if raw is None:
                raise JwtRejected("missing aliases claim")
            if isinstance(raw, list) and all(isinstance(a, str) for a in raw):
                aliases = frozenset(raw)
            elif isinstance(raw, str):
                aliases = frozenset(raw.split())
            else:
                raise JwtRejected("bad aliases claim")
        subject = claims.get("sub")
        return JwtIdentity(
            issuer=cfg.issuer,
            subject=subject if isinstance(subject, str) else "",
            domain_id=cfg.domain_id,
            domain_name=cfg.domain_name,
            allowed_aliases=aliases,
        )
