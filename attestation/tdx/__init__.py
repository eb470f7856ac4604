"""Intel TDX quote verification: parse (abi) → verify (verify, collateral, tcb) → validate."""

from __future__ import annotations

from datetime import datetime

from cryptography import x509

from attestation.certs import as_utc, utcnow
from attestation.claims import Verdict
from attestation.tdx.abi import Quote, parse_quote
from attestation.tdx.collateral import TdxCollateral
from attestation.tdx.validate import TdxPolicy, body_claims, validate_quote
from attestation.tdx.verify import evaluate_collateral, verify_quote

__all__ = ["Quote", "TdxCollateral", "TdxPolicy", "check", "parse_quote"]


def check(
    quote: bytes,
    *,
    collateral: TdxCollateral | None = None,
    policy: TdxPolicy | None = None,
    now: datetime | None = None,
    roots: list[x509.Certificate] | None = None,
) -> Verdict:
    """Parse, verify and validate a TDX quote (v4 or v5).

    Raises ParseError / VerificationError when the quote cannot be trusted at all (bad
    structure, signature, QE binding, PCK chain to the pinned Intel SGX Root CA, revoked
    certificate, collateral not signed by Intel). Otherwise returns a Verdict whose
    checks include the TCB status (with collateral) and every policy expectation;
    `policy=None` means the production defaults of `TdxPolicy()`. `roots` replaces the
    pinned Intel root (tests only).
    """
    policy = policy if policy is not None else TdxPolicy()
    now = as_utc(now) if now is not None else utcnow()
    q = parse_quote(quote)
    verdict = Verdict("tdx")
    verdict.claims.update(body_claims(q))
    if q.trailing_bytes:
        verdict.claims["trailing_bytes"] = q.trailing_bytes
    vq = verify_quote(q, verdict, roots=roots, crls=collateral.crls if collateral else None, now=now)
    expired: list[str] = []
    if collateral is not None:
        expired = evaluate_collateral(vq, collateral, verdict, roots=roots, now=now)
    validate_quote(q, verdict, policy, collateral_given=collateral is not None, expired=expired, now=now)
    return verdict
