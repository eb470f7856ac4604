"""SEV-SNP verification: signatures and certificate chains to pinned roots.

ARK -> ASK/ASVK -> VCEK/VLEK are RSASSA-PSS with SHA-384, MGF1-SHA-384, salt 48; the
report is ECDSA P-384 with SHA-384 over bytes 0x000-0x29F. Each function raises a
specific `VerificationError` subclass; nothing returns a boolean to forget.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from attestation.claims import VerificationError
from attestation.snp.abi import SIG_ALGO_ECDSA_P384_SHA384, Report, TcbVersion
from attestation.snp.kds import OID_RSASSA_PSS, OID_SHA384, EndorsementCert

PSS_SHA384 = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)


class ChainError(VerificationError):
    """A certificate is not signed by its issuer, or is outside its validity window."""


class ReportSignatureError(VerificationError):
    """The report signature does not verify with the endorsement key."""


class TcbMismatch(VerificationError):
    """The endorsement certificate was issued for a different TCB or chip."""


def common_name(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else "?"


def _rsa_key(cert: x509.Certificate) -> rsa.RSAPublicKey:
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ChainError(f"{common_name(cert)}: not an RSA key")
    return key


def verify_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """`cert` (ARK or ASK) is signed by `issuer` with RSASSA-PSS SHA-384."""
    if cert.signature_algorithm_oid != SignatureAlgorithmOID.RSASSA_PSS:
        raise ChainError(f"{common_name(cert)}: signature is not RSASSA-PSS")
    if cert.issuer != issuer.subject:
        raise ChainError(
            f"{common_name(cert)} names issuer {cert.issuer.rfc4514_string()}, not {common_name(issuer)}"
        )
    try:
        _rsa_key(issuer).verify(cert.signature, cert.tbs_certificate_bytes, PSS_SHA384, hashes.SHA384())
    except InvalidSignature as e:
        raise ChainError(f"{common_name(cert)} is not signed by {common_name(issuer)}") from e


def verify_endorsement_cert(ek: EndorsementCert, ask: x509.Certificate) -> None:
    """The V[CL]EK's TBS bytes are signed by the ASK/ASVK (read without x509 loaders)."""
    if ek.signature_algorithm != OID_RSASSA_PSS or ek.pss is None:
        raise ChainError("endorsement certificate is not RSASSA-PSS signed")
    if (ek.pss.hash_oid, ek.pss.mgf_hash_oid, ek.pss.salt_length) != (OID_SHA384, OID_SHA384, 48):
        raise ChainError(f"endorsement certificate PSS parameters are not SHA-384/MGF1-SHA-384/48: {ek.pss}")
    if ek.issuer_cn != common_name(ask):
        raise ChainError(f"endorsement certificate issuer {ek.issuer_cn!r} is not {common_name(ask)!r}")
    try:
        _rsa_key(ask).verify(ek.signature, ek.tbs, PSS_SHA384, hashes.SHA384())
    except InvalidSignature as e:
        raise ChainError(f"endorsement certificate is not signed by {common_name(ask)}") from e


def check_validity(name: str, not_before: datetime, not_after: datetime, now: datetime) -> None:
    if not not_before <= now <= not_after:
        raise ChainError(f"{name} is valid {not_before:%Y-%m-%d}…{not_after:%Y-%m-%d}, not at {now:%Y-%m-%d}")


def check_cert_validity(cert: x509.Certificate, now: datetime) -> None:
    check_validity(common_name(cert), cert.not_valid_before_utc, cert.not_valid_after_utc, now)


def endorsement_key(ek: EndorsementCert) -> ec.EllipticCurvePublicKey:
    key = serialization.load_der_public_key(ek.spki_der)
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP384R1):
        raise ReportSignatureError("endorsement key is not ECDSA P-384")
    return key


def verify_report_signature(report: Report, ek: EndorsementCert) -> None:
    if report.signature_algo != SIG_ALGO_ECDSA_P384_SHA384:
        raise ReportSignatureError(f"signature algorithm {report.signature_algo} is not ECDSA P-384/SHA-384")
    sig = encode_dss_signature(report.signature_r, report.signature_s)
    try:
        endorsement_key(ek).verify(sig, report.signed_bytes, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature as e:
        raise ReportSignatureError("report signature does not verify with the endorsement key") from e


def verify_tcb(report: Report, ek: EndorsementCert, product: str) -> TcbVersion:
    """REPORTED_TCB (decoded with `product`'s layout) equals the certificate's SPLs."""
    tcb = report.tcb("reported", product)
    cert_spls = ek.spls()
    mismatches = [f"{k} {v}≠{cert_spls.get(k)}" for k, v in tcb.parts().items() if cert_spls.get(k) != v]
    if mismatches:
        raise TcbMismatch(f"REPORTED_TCB ({tcb}) differs from the certificate: {', '.join(mismatches)}")
    return tcb


def verify_chip_id(report: Report, ek: EndorsementCert) -> None:
    """A VCEK's hwID equals CHIP_ID (8 bytes on Turin, the rest of CHIP_ID zero)."""
    hwid = ek.hwid
    if hwid is None:
        raise TcbMismatch("VCEK has no hwID extension")
    if report.chip_id[: len(hwid)] != hwid or any(report.chip_id[len(hwid) :]):
        raise TcbMismatch(f"CHIP_ID {report.chip_id.hex()[:16]}… is not the VCEK's hwID {hwid.hex()[:16]}…")


class RevokedError(VerificationError):
    """AMD's CRL for the product line revokes the ASK/ASVK or the endorsement certificate."""


def verify_crl(crl_der: bytes, ark: x509.Certificate, ask: x509.Certificate, ek: EndorsementCert,
               now: datetime) -> str:
    """AMD KDS CRL: signed by the ARK (RSASSA-PSS SHA-384), current at `now`, revoking neither
    the ASK/ASVK nor the V[CL]EK (go-sev-guest `verifyCRL`)."""
    try:
        crl = x509.load_der_x509_crl(crl_der)
    except ValueError:
        try:
            crl = x509.load_pem_x509_crl(crl_der)
        except ValueError as e:
            raise ChainError(f"AMD CRL unreadable: {e}") from e
    if crl.issuer != ark.subject:
        raise ChainError(f"CRL issued by {crl.issuer.rfc4514_string()}, not {common_name(ark)}")
    try:
        _rsa_key(ark).verify(crl.signature, crl.tbs_certlist_bytes, PSS_SHA384, hashes.SHA384())
    except InvalidSignature as e:
        raise ChainError(f"CRL is not signed by {common_name(ark)}") from e
    nxt = crl.next_update_utc
    if nxt is None or not crl.last_update_utc <= now <= nxt:
        raise ChainError(f"AMD CRL of {common_name(ark)} is not current on {now:%Y-%m-%d}")
    # VCEKs all have serial 0, so only a VLEK (or a future VCEK) can be listed by serial.
    listed = [(ask.serial_number, common_name(ask))]
    if ek.serial:
        listed.append((ek.serial, ek.subject_cn or "VLEK"))
    try:
        for serial, name in listed:
            entry = crl.get_revoked_certificate_by_serial_number(serial)
            if entry is not None:
                when = entry.revocation_date_utc
                raise RevokedError(f"{name} (serial {serial:x}) revoked on {when:%Y-%m-%d}")
    except ValueError as e:
        raise ChainError(f"AMD CRL unreadable: {e}") from e
    return f"Not revoked: AMD CRL of {common_name(ark)} ({len(crl)} entries, until {nxt:%Y-%m-%d})"
