"""Identity providers: a domain's JWT issuers. Asymmetric algorithms only; public keys only."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import select
from sqlalchemy.orm import Session

from domains import audit
from domains.errors import Conflict, Invalid, NotFound
from domains.models import IdentityProvider
from domains.tenants import get_domain

ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_PUBLIC_KTY = frozenset({"RSA", "EC", "OKP"})
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def _algorithms(algorithms: list[str]) -> list[str]:
    if not algorithms:
        raise Invalid("at least one algorithm is required")
    bad = [a for a in algorithms if a not in ALLOWED_ALGORITHMS]
    if bad:
        raise Invalid(
            f"algorithm(s) not allowed: {', '.join(map(str, bad))} (asymmetric only: RS*, PS*, ES*, EdDSA)"
        )
    return sorted(set(algorithms))


def _jwks_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        raise Invalid("jwks_url is not a valid URL") from None
    local_http = parts.scheme == "http" and parts.hostname in _LOOPBACK
    if not (parts.scheme == "https" or local_http) or not parts.hostname or "@" in parts.netloc:
        raise Invalid("jwks_url must be https:// (http:// only on loopback) without credentials")
    return url


def _static_key(key: Any) -> Any:
    if isinstance(key, str):
        try:
            load_pem_public_key(key.encode())
        except (ValueError, TypeError):
            raise Invalid("static key is not a PEM public key") from None
        return key
    if isinstance(key, dict):
        if key.get("kty") not in _PUBLIC_KTY:
            raise Invalid("static JWK must have kty RSA, EC or OKP")
        if _PRIVATE_JWK_MEMBERS & key.keys():
            raise Invalid("static JWK contains private key material; give the public key only")
        return key
    raise Invalid("static keys must be PEM strings or JWK objects")


def add_identity_provider(
    session: Session,
    domain_name: str,
    actor: str,
    *,
    issuer: str,
    audience: str,
    algorithms: list[str],
    domain_claim: str,
    domain_claim_value: str,
    jwks_url: str | None = None,
    static_keys: list[Any] | None = None,
    aliases_claim: str | None = None,
) -> IdentityProvider:
    domain = get_domain(session, domain_name)
    if (jwks_url is None) == (not static_keys):
        raise Invalid("give exactly one of jwks_url or static_keys")
    for field, value in (
        ("issuer", issuer),
        ("audience", audience),
        ("domain_claim", domain_claim),
        ("domain_claim_value", domain_claim_value),
    ):
        if not value or not isinstance(value, str):
            raise Invalid(f"{field} is required")
    if session.scalars(select(IdentityProvider.id).where(IdentityProvider.issuer == issuer)).first():
        raise Conflict(f"issuer {issuer!r} is already registered")
    idp = IdentityProvider(
        domain_id=domain.id,
        issuer=issuer,
        audience=audience,
        jwks_url=_jwks_url(jwks_url) if jwks_url is not None else None,
        static_keys=[_static_key(k) for k in static_keys] if static_keys else None,
        algorithms=_algorithms(algorithms),
        domain_claim=domain_claim,
        domain_claim_value=domain_claim_value,
        aliases_claim=aliases_claim or None,
    )
    session.add(idp)
    session.flush()
    audit.record(session, actor, "idp.add", "identity_provider", issuer, after=audit.snapshot(idp))
    return idp


def list_identity_providers(session: Session, domain_name: str | None = None) -> list[IdentityProvider]:
    stmt = select(IdentityProvider).order_by(IdentityProvider.issuer)
    if domain_name is not None:
        stmt = stmt.where(IdentityProvider.domain_id == get_domain(session, domain_name).id)
    return list(session.scalars(stmt))


def get_identity_provider(session: Session, issuer: str) -> IdentityProvider | None:
    """The provider for a token's `iss` (the proxy's JWT path starts here)."""
    return session.scalars(select(IdentityProvider).where(IdentityProvider.issuer == issuer)).one_or_none()


def remove_identity_provider(session: Session, issuer: str, actor: str) -> None:
    idp = get_identity_provider(session, issuer)
    if idp is None:
        raise NotFound(f"identity provider {issuer!r} not found")
    before = audit.snapshot(idp)
    session.delete(idp)
    session.flush()
    audit.record(session, actor, "idp.remove", "identity_provider", issuer, before=before)
