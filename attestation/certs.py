"""X.509 chain verification for vendor attestation roots (Intel SGX, NVIDIA).

Chains here are short and fixed by the vendors, so this module does only what those
chains need, with every algorithm named explicitly:

* signatures: ECDSA P-256/P-384 with SHA-256/384, RSA PKCS#1 v1.5 and RSA-PSS with
  SHA-256/384/512 (anything else is refused);
* the top of the chain must be one of the caller's pinned roots, compared by the
  SHA-256 of its SubjectPublicKeyInfo;
* validity windows against an injectable `now`;
* CRLs: signature by the issuer, thisUpdate/nextUpdate, serial lookup.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509 import ocsp
from cryptography.x509.oid import SignatureAlgorithmOID

from attestation.claims import VerificationError


class CertificateError(VerificationError):
    """A certificate, chain or CRL failed a check."""


class RevokedError(CertificateError):
    """A certificate in the chain is listed on a CRL."""


# What cryptography raises for malformed certificates/CRLs (some lazily, on first access):
# a duplicated extension or an unsupported general name surfaces only when extensions are read.
DECODE_ERRORS = (
    ValueError,
    TypeError,
    x509.InvalidVersion,
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)

_ECDSA: dict[x509.ObjectIdentifier, Callable[[], hashes.HashAlgorithm]] = {
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: hashes.SHA256,
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: hashes.SHA384,
}
_RSA_PKCS1: dict[x509.ObjectIdentifier, Callable[[], hashes.HashAlgorithm]] = {
    SignatureAlgorithmOID.RSA_WITH_SHA256: hashes.SHA256,
    SignatureAlgorithmOID.RSA_WITH_SHA384: hashes.SHA384,
    SignatureAlgorithmOID.RSA_WITH_SHA512: hashes.SHA512,
}
_PSS_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)
_CURVES = (ec.SECP256R1, ec.SECP384R1)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(t: datetime) -> datetime:
    """A naive datetime is taken as UTC."""
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def load_pem_certificates(data: bytes) -> list[x509.Certificate]:
    """All certificates in a PEM bundle, in file order. Raises CertificateError if none."""
    try:
        certs = x509.load_pem_x509_certificates(data)
    except DECODE_ERRORS as e:
        raise CertificateError(f"cannot parse PEM certificates: {e}") from e
    if not certs:
        raise CertificateError("no certificates in PEM data")
    return certs


def common_name(cert: x509.Certificate) -> str:
    """The subject CN, or the whole subject when there is none."""
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(cn[0].value) if cn else cert.subject.rfc4514_string()


def spki_sha256(cert: x509.Certificate) -> bytes:
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()


def fingerprint_sha256(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


def verify_signature(
    public_key: object,
    signature: bytes,
    data: bytes,
    algorithm_oid: x509.ObjectIdentifier,
    pss_params: object = None,
    pss_hash: hashes.HashAlgorithm | None = None,
) -> None:
    """Verify `signature` over `data` with an explicitly allow-listed algorithm."""
    try:
        if algorithm_oid in _ECDSA:
            if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
                public_key.curve, _CURVES
            ):
                raise CertificateError("ECDSA signature needs a P-256 or P-384 key")
            public_key.verify(signature, data, ec.ECDSA(_ECDSA[algorithm_oid]()))
        elif algorithm_oid in _RSA_PKCS1:
            if not isinstance(public_key, rsa.RSAPublicKey) or public_key.key_size < 2048:
                raise CertificateError("RSA signature needs an RSA key of at least 2048 bits")
            public_key.verify(signature, data, padding.PKCS1v15(), _RSA_PKCS1[algorithm_oid]())
        elif algorithm_oid == SignatureAlgorithmOID.RSASSA_PSS:
            if not isinstance(public_key, rsa.RSAPublicKey) or public_key.key_size < 2048:
                raise CertificateError("RSA-PSS signature needs an RSA key of at least 2048 bits")
            if not isinstance(pss_params, padding.PSS):
                raise CertificateError("RSA-PSS signature without parameters")
            if not isinstance(pss_hash, _PSS_HASHES):
                raise CertificateError("RSA-PSS hash not allowed")
            public_key.verify(signature, data, pss_params, pss_hash)
        else:
            raise CertificateError(f"signature algorithm {algorithm_oid.dotted_string} not allowed")
    except InvalidSignature as e:
        raise CertificateError("signature does not verify") from e


def verify_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """`cert` names `issuer` as its issuer and carries a valid signature by its key."""
    if cert.issuer != issuer.subject:
        raise CertificateError(
            f"issuer of {cert.subject.rfc4514_string()} is {cert.issuer.rfc4514_string()}, "
            f"not {issuer.subject.rfc4514_string()}"
        )
    try:
        verify_signature(
            issuer.public_key(),
            cert.signature,
            cert.tbs_certificate_bytes,
            cert.signature_algorithm_oid,
            cert.signature_algorithm_parameters,
            cert.signature_hash_algorithm,
        )
    except CertificateError as e:
        raise CertificateError(f"{cert.subject.rfc4514_string()}: {e}") from e


def check_signature_encoding(cert: x509.Certificate) -> None:
    """Refuse non-canonical outer encodings the parser tolerates (signature BIT STRING with
    unused bits), so one certificate has exactly one accepted byte string."""
    der = cert.public_bytes(serialization.Encoding.DER)
    items = der_items(der)
    if len(items) != 1 or items[0].tag != 0x30:
        raise CertificateError("certificate is not a single DER SEQUENCE")
    parts = der_items(items[0].value)
    if len(parts) != 3 or parts[2].tag != 0x03 or not parts[2].value or parts[2].value[0] != 0:
        raise CertificateError(f"{cert.subject.rfc4514_string()}: signature BIT STRING is not canonical")


def check_validity(cert: x509.Certificate, now: datetime) -> None:
    now = as_utc(now)
    if now < cert.not_valid_before_utc or now > cert.not_valid_after_utc:
        raise CertificateError(
            f"{cert.subject.rfc4514_string()} valid {cert.not_valid_before_utc:%Y-%m-%d}"
            f"..{cert.not_valid_after_utc:%Y-%m-%d}, not at {now:%Y-%m-%dT%H:%M:%SZ}"
        )


def _check_ca(cert: x509.Certificate) -> None:
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound as e:
        raise CertificateError(f"{cert.subject.rfc4514_string()} issues certificates but has no "
                               "BasicConstraints") from e
    if not bc.ca:
        raise CertificateError(f"{cert.subject.rfc4514_string()} is not a CA")


def verify_crl(
    crl: x509.CertificateRevocationList, issuer: x509.Certificate, now: datetime | None
) -> None:
    """The CRL is signed by `issuer` and (unless `now` is None) current at `now`."""
    if crl.issuer != issuer.subject:
        raise CertificateError(f"CRL issuer {crl.issuer.rfc4514_string()} is not "
                               f"{issuer.subject.rfc4514_string()}")
    try:
        verify_signature(issuer.public_key(), crl.signature, crl.tbs_certlist_bytes,
                         crl.signature_algorithm_oid, crl.signature_algorithm_parameters,
                         crl.signature_hash_algorithm)
    except CertificateError as e:
        raise CertificateError(f"CRL of {issuer.subject.rfc4514_string()}: {e}") from e
    if now is None:
        return
    now = as_utc(now)
    nxt = crl.next_update_utc
    if nxt is None:
        raise CertificateError(f"CRL of {issuer.subject.rfc4514_string()} has no nextUpdate")
    if now < crl.last_update_utc or now > nxt:
        raise CertificateError(
            f"CRL of {issuer.subject.rfc4514_string()} current {crl.last_update_utc:%Y-%m-%d}.."
            f"{nxt:%Y-%m-%d}, not at {now:%Y-%m-%d}"
        )


@dataclass(frozen=True, slots=True)
class ChainResult:
    """A verified chain, leaf first, ending at the pinned root it matched."""

    certificates: tuple[x509.Certificate, ...]
    root: x509.Certificate
    crls_checked: int

    @property
    def leaf(self) -> x509.Certificate:
        return self.certificates[0]


def verify_chain(
    chain: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    *,
    now: datetime | None = None,
    crls: Sequence[x509.CertificateRevocationList] = (),
    check_time: bool = True,
    check_crl_time: bool = True,
) -> ChainResult:
    """Verify `chain` (leaf first) up to one of the pinned `roots`.

    The chain may or may not include the root; if it does, the included root must be
    the pinned one (same SubjectPublicKeyInfo). Every issuer must be a CA. With
    `check_time` every certificate, root included, must be valid at `now`. Each CRL
    whose issuer is in the chain is verified (signature, and currency unless
    `check_crl_time` is false) and the certificates it covers must not be on it.
    Raises CertificateError (RevokedError) on failure, also for malformed certificates.
    """
    try:
        return _verify_chain(chain, roots, now=now, crls=crls, check_time=check_time,
                             check_crl_time=check_crl_time)
    except DECODE_ERRORS as e:
        raise CertificateError(f"malformed certificate or CRL: {e}") from e


def _verify_chain(
    chain: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    *,
    now: datetime | None = None,
    crls: Sequence[x509.CertificateRevocationList] = (),
    check_time: bool = True,
    check_crl_time: bool = True,
) -> ChainResult:
    if not chain:
        raise CertificateError("empty certificate chain")
    if not roots:
        raise CertificateError("no pinned roots")
    now = as_utc(now) if now is not None else utcnow()
    pinned = {spki_sha256(r): r for r in roots}
    certs = list(chain)
    root: x509.Certificate | None = None
    if spki_sha256(certs[-1]) in pinned and certs[-1].issuer == certs[-1].subject and len(certs) > 1:
        root = pinned[spki_sha256(certs.pop())]
    if root is None:
        last = certs[-1]
        candidates = [r for r in roots if r.subject == last.issuer]
        reason = ""
        for cand in candidates:
            try:
                verify_issued_by(last, cand)
            except CertificateError as e:
                reason = f": {e}"
                continue
            root = cand
            break
        if root is None:
            raise CertificateError(
                f"chain does not end at a pinned root (top issuer {last.issuer.rfc4514_string()}){reason}"
            )
    full = [*certs, root]
    for cert in certs:
        check_signature_encoding(cert)
    for cert, issuer in itertools.pairwise(full):
        _check_ca(issuer)
        verify_issued_by(cert, issuer)
    verify_issued_by(root, root)
    if check_time:
        for cert in full:
            check_validity(cert, now)
    by_subject = {c.subject: c for c in full}
    checked = 0
    for crl in crls:
        crl_issuer = by_subject.get(crl.issuer)
        if crl_issuer is None:
            continue
        verify_crl(crl, crl_issuer, now if check_crl_time else None)
        checked += 1
        for cert in full:
            if cert.issuer == crl.issuer and cert is not root:
                revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
                if revoked is not None:
                    raise RevokedError(
                        f"{cert.subject.rfc4514_string()} (serial {cert.serial_number:x}) revoked "
                        f"on {revoked.revocation_date_utc:%Y-%m-%d}"
                    )
    return ChainResult(tuple(full), root, checked)


def ecdsa_raw_to_der(raw: bytes) -> bytes:
    """r‖s (big-endian, equal halves) → DER ECDSA-Sig-Value."""
    if len(raw) % 2:
        raise CertificateError("raw ECDSA signature has odd length")
    half = len(raw) // 2
    return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))


# --- minimal DER reader for vendor extensions (Intel SGX PCK, TCG DICE TcbInfo) -------------


@dataclass(frozen=True, slots=True)
class Tlv:
    tag: int  # the full identifier octet (class, constructed bit, number < 31)
    value: bytes

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)


def der_items(data: bytes) -> list[Tlv]:
    """Split concatenated DER TLVs (definite lengths, low tag numbers only)."""
    out: list[Tlv] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise CertificateError("DER truncated")
        tag = data[pos]
        if tag & 0x1F == 0x1F:
            raise CertificateError("DER high tag numbers not supported")
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            n = length & 0x7F
            if n == 0 or n > 4 or pos + n > len(data):
                raise CertificateError("DER length not supported")
            length = int.from_bytes(data[pos : pos + n], "big")
            pos += n
        if pos + length > len(data):
            raise CertificateError("DER value truncated")
        out.append(Tlv(tag, data[pos : pos + length]))
        pos += length
    return out


def der_oid(value: bytes) -> str:
    """Decode the content octets of an OBJECT IDENTIFIER to dotted form."""
    if not value:
        raise CertificateError("empty OID")
    arcs: list[int] = []
    n = 0
    for b in value:
        n = (n << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(n)
            n = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


def der_int(value: bytes) -> int:
    return int.from_bytes(value, "big", signed=True)


# --- OCSP (stored responses; fetching them is the caller's business) --------------------------


def _subject_public_key_bits(cert: x509.Certificate) -> bytes:
    """Contents of the subjectPublicKey BIT STRING (what OCSP CertID's issuerKeyHash hashes)."""
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    raise CertificateError("OCSP issuer key type not supported")


def check_ocsp_response(
    cert: x509.Certificate, issuer: x509.Certificate, der: bytes, now: datetime
) -> str:
    """Verify a DER OCSP response about `cert` and return its status ("good").

    The response must be SUCCESSFUL, be about this serial and issuer (name and key
    hashes), be signed by the issuer or by a responder certificate the issuer issued with
    the OCSPSigning EKU, be current at `now`, and say GOOD. Raises CertificateError
    (RevokedError for a revoked certificate). No nonce: stored responses cannot carry ours.
    """
    now = as_utc(now)
    try:
        resp = ocsp.load_der_ocsp_response(der)
    except DECODE_ERRORS as e:
        raise CertificateError(f"OCSP response malformed: {e}") from e
    if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise CertificateError(f"OCSP response status {resp.response_status.name}")
    try:
        singles = [s for s in resp.responses if s.serial_number == cert.serial_number]
        if len(singles) != 1:
            raise CertificateError(f"OCSP response has no single answer for serial {cert.serial_number:x}")
        single = singles[0]
        algo = single.hash_algorithm
        if not isinstance(algo, hashes.SHA1 | hashes.SHA256 | hashes.SHA384 | hashes.SHA512):
            raise CertificateError("OCSP CertID hash algorithm not allowed")
        name_hash = hashes.Hash(algo)
        name_hash.update(issuer.subject.public_bytes())
        key_hash = hashes.Hash(algo)
        key_hash.update(_subject_public_key_bits(issuer))
        if single.issuer_name_hash != name_hash.finalize() or single.issuer_key_hash != key_hash.finalize():
            raise CertificateError("OCSP response is about a different issuer")
        signer = issuer
        if resp.certificates:
            delegated = resp.certificates[0]
            verify_issued_by(delegated, issuer)
            check_validity(delegated, now)
            try:
                eku = delegated.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            except x509.ExtensionNotFound as e:
                raise CertificateError("OCSP responder certificate has no ExtendedKeyUsage") from e
            if x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
                raise CertificateError("OCSP responder certificate lacks the OCSPSigning EKU")
            signer = delegated
        verify_signature(signer.public_key(), resp.signature, resp.tbs_response_bytes,
                         resp.signature_algorithm_oid, None, resp.signature_hash_algorithm)
        if now < single.this_update_utc or (single.next_update_utc is not None
                                            and now > single.next_update_utc):
            raise CertificateError(f"OCSP response not current at {now:%Y-%m-%d}")
        status = single.certificate_status
    except DECODE_ERRORS as e:
        raise CertificateError(f"OCSP response malformed: {e}") from e
    if status == ocsp.OCSPCertStatus.REVOKED:
        raise RevokedError(f"{cert.subject.rfc4514_string()} revoked (OCSP)")
    if status != ocsp.OCSPCertStatus.GOOD:
        raise CertificateError(f"{cert.subject.rfc4514_string()}: OCSP status {status.name}")
    return "good"
