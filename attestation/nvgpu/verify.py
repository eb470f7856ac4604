"""Verify a parsed GPU report: device chain to the pinned NVIDIA root, the SPDM signature,
the FWID against the leaf's TCG DICE TcbInfo, the nonce, and golden measurements from RIMs.

Cryptographic failures raise (VerificationError subclasses); comparisons that a person
should see item by item (nonce, RIM measurements) become checks on the Verdict.
"""

from __future__ import annotations

import hmac
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from attestation import certs
from attestation.claims import ParseError, Verdict, VerificationError
from attestation.nvgpu.abi import OPAQUE_NVDEC0_STATUS, AttestationReport
from attestation.nvgpu.rim import Rim, verify_rim
from attestation.roots import nvidia_device_root, nvidia_rim_root

TCG_DICE_TCBINFO_OID = "2.23.133.5.4.1"
NVDEC0_RIM_INDEX = 35  # skipped when the report says NVDEC0 is disabled (NVIDIA attestation-sdk)
NVDEC0_STATUS_DISABLED = b"\x55"


class ReportSignatureError(VerificationError):
    """The SPDM MEASUREMENTS signature does not verify with the leaf key."""


class FwidMismatch(VerificationError):
    """The report's FWID differs from the FWID certified in the leaf certificate."""


_HASH_ALG_ARC = "2.16.840.1.101.3.4.2."  # NIST hash algorithm OIDs (sha256/384/512 ...)


def _find_fwids(items: list[certs.Tlv], out: list[bytes]) -> None:
    for item in items:
        if not item.constructed:
            continue
        inner = certs.der_items(item.value)
        if (
            len(inner) == 2
            and inner[0].tag == 0x06
            and inner[1].tag == 0x04
            and certs.der_oid(inner[0].value).startswith(_HASH_ALG_ARC)
        ):
            out.append(inner[1].value)
        else:
            _find_fwids(inner, out)


def dice_fwids(cert: x509.Certificate) -> list[bytes]:
    """FWID digests ({hashAlg, digest} pairs) in the leaf's 2.23.133.5.4.1 extension.

    TCG DICE TcbInfo puts them in `[6] fwids`; NVIDIA's GSP FMC leaf carries
    SEQUENCE {INTEGER, SubjectPublicKeyInfo, FWID}. Both are found by walking the
    structure for SEQUENCE {OID in 2.16.840.1.101.3.4.2, OCTET STRING}.
    """
    try:
        ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(TCG_DICE_TCBINFO_OID))
    except x509.ExtensionNotFound as e:
        raise ParseError("leaf certificate has no TCG DICE TcbInfo extension") from e
    except certs.DECODE_ERRORS as e:
        raise ParseError(f"leaf certificate extensions malformed: {e}") from e
    if not isinstance(ext.value, x509.UnrecognizedExtension):
        raise ParseError("leaf certificate TCG DICE TcbInfo extension is not raw DER")
    out: list[bytes] = []
    try:
        _find_fwids(certs.der_items(ext.value.value), out)
    except certs.CertificateError as e:
        raise ParseError(f"TCG DICE TcbInfo malformed: {e}") from e
    return out


def verify_report_signature(report: AttestationReport, leaf: x509.Certificate) -> None:
    """ECDSA P-384 / SHA-384 by the leaf's key over request ‖ response-without-signature."""
    try:
        key = leaf.public_key()
    except certs.DECODE_ERRORS as e:
        raise ReportSignatureError(f"leaf public key malformed: {e}") from e
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP384R1):
        raise ReportSignatureError("leaf key is not ECDSA P-384")
    try:
        key.verify(certs.ecdsa_raw_to_der(report.response.signature), report.signed_data,
                   ec.ECDSA(hashes.SHA384()))
    except InvalidSignature as e:
        raise ReportSignatureError("SPDM MEASUREMENTS signature does not verify with the leaf key") from e


@dataclass(frozen=True, slots=True)
class VerifiedReport:
    report: AttestationReport
    chain: certs.ChainResult


def verify_report(
    report: AttestationReport,
    cert_chain_pem: bytes,
    verdict: Verdict,
    *,
    roots: list[x509.Certificate] | None = None,
    now: datetime | None = None,
) -> VerifiedReport:
    roots = roots if roots is not None else [nvidia_device_root()]
    now = certs.as_utc(now) if now is not None else certs.utcnow()
    chain = certs.load_pem_certificates(cert_chain_pem)
    # Cheapest rejection first: the report signature by the (not yet trusted) leaf, then
    # the chain that makes the leaf trusted. Both must pass before anything is recorded.
    verify_report_signature(report, chain[0])
    result = certs.verify_chain(chain, roots, now=now)
    names = " → ".join(certs.common_name(c) for c in result.certificates)
    verdict.add("device_chain", True, f"{names}; valid at {now:%Y-%m-%dT%H:%M:%SZ}")
    verdict.add("report_signature", True, "ECDSA-P384/SHA-384 by the leaf over request ‖ response")

    fwid = report.fwid
    certified = dice_fwids(result.leaf)
    if fwid is None:
        raise FwidMismatch("report has no FWID opaque field")
    if fwid not in certified:
        raise FwidMismatch(f"report FWID {fwid.hex()} not in leaf FWIDs {[f.hex() for f in certified]}")
    verdict.add("fwid", True, f"report FWID {fwid.hex()[:16]}… = leaf TCG DICE TcbInfo FWID")
    return VerifiedReport(report, result)


def check_nonce(report: AttestationReport, nonce: bytes | None, verdict: Verdict, *, required: bool) -> None:
    if nonce is None:
        if required:
            verdict.add("nonce", False, "no expected nonce given: freshness not established")
        else:
            verdict.claims["nonce"] = "not checked (no nonce given; allowed by policy)"
        return
    ok = hmac.compare_digest(nonce, report.request.nonce)
    verdict.add("nonce", ok, f"request nonce {report.request.nonce.hex()} "
                f"{'==' if ok else '!='} expected {nonce.hex()}")


def check_ocsp(
    vr: VerifiedReport,
    ocsp_responses: Mapping[str, bytes] | None,
    verdict: Verdict,
    *,
    now: datetime | None = None,
) -> None:
    """OCSP for every chain certificate except the GPU-made leaf and the pinned root.

    Offline there are no responses: claims["ocsp"] says "not checked (offline)" and no
    check is recorded. `ocsp_responses` (serial as lower-case hex → DER OCSP response,
    fetched by the caller from ocsp.ndis.nvidia.com) is the online hook: each response is
    verified (`certs.check_ocsp_response`); a missing or bad one is a failed check.
    """
    if ocsp_responses is None:
        verdict.claims["ocsp"] = "not checked (offline)"
        return
    now = certs.as_utc(now) if now is not None else certs.utcnow()
    full = vr.chain.certificates
    for cert, issuer in itertools.pairwise(full[1:]):
        name = certs.common_name(cert)
        der = ocsp_responses.get(f"{cert.serial_number:x}")
        if der is None:
            verdict.add(f"ocsp[{name}]", False, f"no OCSP response for serial {cert.serial_number:x}")
            continue
        try:
            status = certs.check_ocsp_response(cert, issuer, der, now)
        except certs.CertificateError as e:
            verdict.add(f"ocsp[{name}]", False, str(e))
        else:
            verdict.add(f"ocsp[{name}]", True, f"OCSP {status}, signed for {issuer.subject.rfc4514_string()}")
    verdict.claims["ocsp"] = "checked"


def compare_rims(
    report: AttestationReport,
    rims: list[Rim],
    verdict: Verdict,
    *,
    roots: list[x509.Certificate] | None = None,
    now: datetime | None = None,
    require_complete: bool = False,
) -> list[int]:
    """Check RIM chains and versions, then every active golden measurement.

    Returns the RIM indices that do not match. RIM index i is SPDM block i+1; an index
    active in two RIMs is a conflict (failure). A RIM whose chain or XML signature does
    not verify raises (CertificateError / XmlSignatureError). With `require_complete` (a
    policy that requires appraisal) the RIMs must cover both the driver and the VBIOS the
    report names, as NVIDIA's verifier requires: one of them alone leaves the other's
    measurements unappraised.
    """
    roots = roots if roots is not None else [nvidia_rim_root()]
    golden: dict[int, tuple[str, tuple[bytes, ...]]] = {}
    for rim in rims:
        label = f"RIM {rim.name} {rim.colloquial_version}"
        chain = verify_rim(rim, roots, now=now)
        verdict.add(f"rim_chain[{rim.colloquial_version}]", True,
                    f"{label}: chain to {chain.root.subject.rfc4514_string()}")
        verdict.add(f"rim_signature[{rim.colloquial_version}]", True,
                    f"{label}: XMLDSig ecdsa-sha384 over C14N 1.1 by {chain.leaf.subject.rfc4514_string()}")
        versions = {report.driver_version, report.vbios_version}
        vok = rim.colloquial_version in versions
        verdict.add(f"rim_version[{rim.colloquial_version}]", vok,
                    f"{label} {'matches' if vok else 'matches neither'} driver {report.driver_version} "
                    f"/ VBIOS {report.vbios_version}")
        for idx, m in rim.active().items():
            if idx in golden:
                verdict.add("rim_conflict", False, f"index {idx} active in {golden[idx][0]} and {label}")
                continue
            golden[idx] = (label, m.alternatives)
    nvdec_disabled = report.opaque_field(OPAQUE_NVDEC0_STATUS) == NVDEC0_STATUS_DISABLED
    mismatched: list[int] = []
    matched = 0
    for idx in sorted(golden):
        if idx == NVDEC0_RIM_INDEX and nvdec_disabled:
            continue
        label, alts = golden[idx]
        measured = report.measurement(idx + 1)
        if measured is not None and measured in alts:
            matched += 1
        else:
            mismatched.append(idx)
            verdict.add(f"measurement[{idx}]", False,
                        f"{label} index {idx} (SPDM block {idx + 1}): measured "
                        f"{measured.hex() if measured else 'nothing'} not in RIM {[a.hex() for a in alts]}")
    verdict.claims["rim_matched"] = matched
    verdict.claims["rim_mismatched_indices"] = mismatched
    covered = {rim.colloquial_version for rim in rims}
    uncovered = [f"no RIM for the {what} {ver or '(version not reported)'}"
                 for what, ver in (("driver", report.driver_version), ("VBIOS", report.vbios_version))
                 if ver is None or ver not in covered] if require_complete else []
    verdict.add("measurements", not mismatched and not uncovered,
                f"{matched} of {matched + len(mismatched)} active RIM indices match"
                + (f"; mismatched {mismatched}" if mismatched else "")
                + ("".join(f"; {u}: its measurements are not appraised" for u in uncovered)))
    return mismatched
