"""Verify a parsed TDX quote: signatures, QE binding, PCK chain to the pinned Intel root,
and (with collateral) the TCB status.

Cryptographic failures raise (VerificationError subclasses); everything that was
established is recorded as checks on the Verdict.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from attestation import certs
from attestation.claims import Verdict, VerificationError
from attestation.roots import intel_sgx_root
from attestation.tdx.abi import INTEL_QE_MRSIGNER, INTEL_QE_VENDOR_ID, TD_QE_ISVPRODID, Quote
from attestation.tdx.collateral import SignedJson, TdxCollateral
from attestation.tdx.tcb import TcbError, parse_pck_extension, qe_identity_status, tdx_tcb_status

TCB_SIGNING_CN = "Intel SGX TCB Signing"


class QuoteSignatureError(VerificationError):
    """A signature inside the quote does not verify."""


class QeIdentityError(VerificationError):
    """The QE report is not from Intel's TD quoting enclave (MRSIGNER / ISVPRODID)."""


class CollateralSignatureError(VerificationError):
    """TCB Info or QE Identity is not signed by Intel."""


def _p256_key(xy: bytes) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + xy)
    except ValueError as e:
        raise QuoteSignatureError("attestation key is not a P-256 point") from e


def _verify_p256(key: ec.EllipticCurvePublicKey, raw_sig: bytes, data: bytes, what: str) -> None:
    if not isinstance(key.curve, ec.SECP256R1):
        raise QuoteSignatureError(f"{what}: key is not P-256")
    try:
        key.verify(certs.ecdsa_raw_to_der(raw_sig), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as e:
        raise QuoteSignatureError(f"{what}: signature does not verify") from e


@dataclass(frozen=True, slots=True)
class VerifiedQuote:
    quote: Quote
    pck_chain: certs.ChainResult


def verify_quote(
    quote: Quote,
    verdict: Verdict,
    *,
    roots: list[x509.Certificate] | None = None,
    crls: list[x509.CertificateRevocationList] | None = None,
    now: datetime | None = None,
) -> VerifiedQuote:
    """Steps 1-4: quote signature, QE report binding, PCK signature, PCK chain (+CRLs)."""
    now = certs.as_utc(now) if now is not None else certs.utcnow()
    roots = roots if roots is not None else [intel_sgx_root()]
    if quote.header.qe_vendor_id != INTEL_QE_VENDOR_ID:
        raise VerificationError(f"QE vendor id {quote.header.qe_vendor_id.hex()} is not Intel's")
    ak = _p256_key(quote.attestation_key)
    _verify_p256(ak, quote.signature, quote.signed_data, "quote")
    verdict.add("quote_signature", True, "ECDSA-P256/SHA-256 by the attestation key over header‖body")

    cd = quote.certification
    binding = hashlib.sha256(quote.attestation_key + cd.qe_auth_data).digest()
    if cd.qe_report.report_data != binding + bytes(32):
        raise QuoteSignatureError("QE report REPORTDATA != SHA-256(attestation key ‖ QE auth data) ‖ 0*32")
    verdict.add("qe_report_binding", True, "QE REPORTDATA = SHA-256(attestation key ‖ QE auth data)")

    chain = certs.load_pem_certificates(cd.pck_cert_chain.rstrip(b"\x00"))
    pck = chain[0]
    try:
        pck_key = pck.public_key()
    except certs.DECODE_ERRORS as e:
        raise certs.CertificateError(f"PCK public key malformed: {e}") from e
    if not isinstance(pck_key, ec.EllipticCurvePublicKey):
        raise QuoteSignatureError("PCK key is not ECDSA")
    _verify_p256(pck_key, cd.qe_report_signature, cd.qe_report.raw, "QE report")
    verdict.add("qe_report_signature", True, "ECDSA-P256/SHA-256 by the PCK key over the QE report")
    # Without this a PCK-signed report of any enclave (not Intel's QE) could certify the
    # attestation key; collateral's QE Identity says the same, but collateral is optional.
    qe = cd.qe_report
    if qe.mr_signer != INTEL_QE_MRSIGNER or qe.isv_prod_id != TD_QE_ISVPRODID:
        raise QeIdentityError(
            f"QE report MRSIGNER {qe.mr_signer.hex()} ISVPRODID {qe.isv_prod_id} is not Intel's TD "
            f"quoting enclave ({INTEL_QE_MRSIGNER.hex()}, {TD_QE_ISVPRODID})"
        )
    verdict.add("qe_identity_intel", True, "QE report from Intel's TD quoting enclave (MRSIGNER, ISVPRODID)")

    # CRL signatures are checked here; their currency is collateral freshness (see
    # evaluate_collateral), decided by policy.
    result = certs.verify_chain(chain, roots, now=now, crls=crls or (), check_crl_time=False)
    names = " → ".join(certs.common_name(c) for c in result.certificates)
    pck_ext = parse_pck_extension(pck)  # a PCK certificate, not just any Intel-issued one
    verdict.add("pck_chain", True, f"{names}; valid at {now:%Y-%m-%dT%H:%M:%SZ}")
    verdict.claims.update(fmspc=pck_ext.fmspc.hex(), pce_svn=pck_ext.pce_svn, cpu_svn=pck_ext.cpu_svn.hex(),
                          pck_sgx_tcb_components=list(pck_ext.sgx_components))
    if crls is not None:  # collateral given: both revocation lists are required
        covered = {crl.issuer for crl in crls}
        leaf_ok = pck.issuer in covered
        verdict.add("pck_crls", leaf_ok,
                    f"{result.crls_checked} CRL(s) verified, no certificate revoked; "
                    + ("PCK issuer's CRL present" if leaf_ok
                       else f"no CRL from {pck.issuer.rfc4514_string()} in collateral"))
        root_ok = result.root.subject in covered
        verdict.add("root_crl", root_ok,
                    "Intel SGX Root CA's CRL present" if root_ok
                    else f"no CRL from {result.root.subject.rfc4514_string()} in collateral")
    return VerifiedQuote(quote, result)


def _verify_signed_json(doc: SignedJson, signer: x509.Certificate) -> None:
    key = signer.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise CollateralSignatureError("TCB signing key is not ECDSA")
    try:
        _verify_p256(key, doc.signature, doc.raw, doc.key)
    except QuoteSignatureError as e:
        raise CollateralSignatureError(f"{doc.key}: not signed by Intel SGX TCB Signing") from e


def evaluate_collateral(
    vq: VerifiedQuote,
    collateral: TdxCollateral,
    verdict: Verdict,
    *,
    roots: list[x509.Certificate] | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Step 5: verify collateral signatures and derive TCB statuses.

    Records checks `tcb_info`, `qe_identity`, `tcb_status`, `qe_tcb_status`; returns the
    list of expired collateral items (for the `collateral_current` decision, which policy
    makes). Collateral that is not signed by Intel raises CollateralSignatureError.
    """
    now = certs.as_utc(now) if now is not None else certs.utcnow()
    roots = roots if roots is not None else [intel_sgx_root()]
    quote = vq.quote
    expired: list[str] = []
    if not collateral.tcb_signing_chain:
        raise CollateralSignatureError("collateral has no TCB signing chain")
    # Signatures and issuer links are checked now; the signing cert's dates are collateral
    # freshness (reported, decided by policy), as in Intel's QVL.
    signing = certs.verify_chain(collateral.tcb_signing_chain, roots, now=now, crls=collateral.crls,
                                 check_time=False, check_crl_time=False)
    # Only Intel's TCB signing key may sign TCB Info / QE Identity (not, say, a PCK key).
    if certs.common_name(signing.leaf) != TCB_SIGNING_CN or len(signing.certificates) != 2:
        raise CollateralSignatureError(
            f"collateral signer {signing.leaf.subject.rfc4514_string()} is not the {TCB_SIGNING_CN} "
            "certificate issued directly by the root"
        )
    for c in signing.certificates:
        try:
            certs.check_validity(c, now)
        except certs.CertificateError as e:
            expired.append(str(e))
    for crl in collateral.crls:
        nxt = crl.next_update_utc
        if nxt is None:
            expired.append(f"CRL of {crl.issuer.rfc4514_string()} has no nextUpdate")
        elif now > nxt or now < crl.last_update_utc:
            expired.append(f"CRL of {crl.issuer.rfc4514_string()} current "
                           f"{crl.last_update_utc:%Y-%m-%d}..{nxt:%Y-%m-%d}")

    pck = parse_pck_extension(vq.pck_chain.leaf)
    info = collateral.tcb_info_for(pck.fmspc)
    if info is None:
        verdict.add("tcb_info", False, f"no TCB Info for FMSPC {pck.fmspc.hex()}")
    else:
        _verify_signed_json(info.signed, signing.leaf)
        verdict.add("tcb_info", True, f"TCB Info FMSPC {info.fmspc.hex()} eval #{info.evaluation_number}, "
                    f"signed by Intel SGX TCB Signing")
        issued = verdict.claims.setdefault("collateral_issued", {})
        issued["tcb_info"] = f"{info.issue_date:%Y-%m-%dT%H:%M:%SZ}"
        if not info.issue_date <= now <= info.next_update:
            expired.append(f"TCB Info {info.issue_date:%Y-%m-%d}..{info.next_update:%Y-%m-%d}")
        try:
            st = tdx_tcb_status(info, pck, quote.body.tee_tcb_svn, quote.body.mr_signer_seam,
                                quote.body.seam_attributes)
        except TcbError as e:
            verdict.claims["tcb_status"] = "NotSupported"
            verdict.add("tcb_level", False, str(e))
        else:
            verdict.claims.update(tcb_status=st.status, tcb_date=st.tcb_date,
                                  advisory_ids=list(st.advisory_ids))
            verdict.add("tcb_level", True, st.detail)

    qe_id = collateral.qe_identity
    if qe_id is None:
        verdict.add("qe_identity", False, "no QE Identity in collateral")
    else:
        _verify_signed_json(qe_id.signed, signing.leaf)
        verdict.claims.setdefault("collateral_issued", {})["qe_identity"] = (
            f"{qe_id.issue_date:%Y-%m-%dT%H:%M:%SZ}")
        if not qe_id.issue_date <= now <= qe_id.next_update:
            expired.append(f"QE Identity {qe_id.issue_date:%Y-%m-%d}..{qe_id.next_update:%Y-%m-%d}")
        try:
            qst = qe_identity_status(qe_id, quote.certification.qe_report)
        except TcbError as e:
            verdict.claims["qe_tcb_status"] = "NotSupported"
            verdict.add("qe_identity", False, str(e))
        else:
            verdict.claims["qe_tcb_status"] = qst.status
            verdict.add("qe_identity", True, f"TD_QE identity eval #{qe_id.evaluation_number} matches; "
                        f"{qst.detail}")
    return expired
