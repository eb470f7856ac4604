"""NVIDIA Hopper GPU attestation: parse (abi, rim) → verify (verify) → validate."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from cryptography import x509

from attestation.certs import as_utc, utcnow
from attestation.claims import Verdict
from attestation.nvgpu.abi import AttestationReport, parse_report
from attestation.nvgpu.rim import Rim, parse_rim
from attestation.nvgpu.validate import GpuPolicy, report_claims, validate_report
from attestation.nvgpu.verify import check_nonce, check_ocsp, compare_rims, verify_report

__all__ = ["AttestationReport", "GpuPolicy", "Rim", "check", "parse_report", "parse_rim"]


def check(
    report: bytes,
    cert_chain_pem: bytes,
    *,
    nonce: bytes | None = None,
    rims: list[bytes] | None = None,
    policy: GpuPolicy | None = None,
    now: datetime | None = None,
    ocsp_responses: Mapping[str, bytes] | None = None,
    roots: list[x509.Certificate] | None = None,
    rim_roots: list[x509.Certificate] | None = None,
) -> Verdict:
    """Parse, verify and validate a GPU attestation report (SPDM request ‖ response).

    Raises ParseError / VerificationError when the report cannot be trusted at all (bad
    structure, chain not ending at the pinned NVIDIA Device Identity CA, bad signature,
    FWID not the certified one, RIM chain not to the CoRIM root). Otherwise returns a
    Verdict with the nonce, RIM measurement and policy checks. RIMs are checked for their
    chain to the pinned CoRIM root and their XML signature. OCSP is not run offline:
    claims["ocsp"] == "not checked (offline)" unless `ocsp_responses` (serial hex → DER
    response) is given, then each intermediate needs a good, current, correctly signed
    response. `roots` / `rim_roots` replace the pinned roots (tests only).
    """
    policy = policy if policy is not None else GpuPolicy()
    now = as_utc(now) if now is not None else utcnow()
    r = parse_report(report)
    verdict = Verdict("nvidia-gpu")
    verdict.claims.update(report_claims(r))
    if r.trailing_bytes:
        verdict.claims["trailing_bytes"] = r.trailing_bytes
    vr = verify_report(r, cert_chain_pem, verdict, roots=roots, now=now)
    check_ocsp(vr, ocsp_responses, verdict, now=now)
    check_nonce(r, nonce, verdict, required=policy.require_nonce)
    if rims:
        compare_rims(r, [parse_rim(b) for b in rims], verdict, roots=rim_roots, now=now,
                     require_complete=policy.require_measurement_appraisal and not policy.measurements)
    validate_report(r, verdict, policy, rims_given=bool(rims))
    return verdict
