"""AMD KDS endorsement-key certificates (VCEK/VLEK): DER -> `EndorsementCert`.

Read with `attestation.der`, not `x509.load_der_x509_certificate`: AMD issues them with
serial number 0, which `cryptography` will refuse in a future release. Extension OIDs from
AMD's KDS spec (pub. 57230).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from attestation import der
from attestation.claims import ParseError

OID_RSASSA_PSS = "1.2.840.113549.1.1.10"
OID_SHA384 = "2.16.840.1.101.3.4.2.2"
OID_MGF1 = "1.2.840.113549.1.1.8"
OID_COMMON_NAME = "2.5.4.3"

OID_STRUCT_VERSION = "1.3.6.1.4.1.3704.1.1"
OID_PRODUCT_NAME = "1.3.6.1.4.1.3704.1.2"
OID_BL_SPL = "1.3.6.1.4.1.3704.1.3.1"
OID_TEE_SPL = "1.3.6.1.4.1.3704.1.3.2"
OID_SNP_SPL = "1.3.6.1.4.1.3704.1.3.3"
OID_UCODE_SPL = "1.3.6.1.4.1.3704.1.3.8"
OID_FMC_SPL = "1.3.6.1.4.1.3704.1.3.9"
OID_HWID = "1.3.6.1.4.1.3704.1.4"
OID_CSP_ID = "1.3.6.1.4.1.3704.1.5"

SPL_OIDS = {
    "bl": OID_BL_SPL,
    "tee": OID_TEE_SPL,
    "snp": OID_SNP_SPL,
    "ucode": OID_UCODE_SPL,
    "fmc": OID_FMC_SPL,
}


@dataclass(frozen=True, slots=True)
class PssParams:
    hash_oid: str
    mgf_hash_oid: str
    salt_length: int


@dataclass(frozen=True, slots=True)
class EndorsementCert:
    der: bytes
    tbs: bytes
    serial: int
    signature_algorithm: str
    pss: PssParams | None
    signature: bytes
    issuer_cn: str | None
    subject_cn: str | None
    not_before: datetime
    not_after: datetime
    spki_der: bytes
    extensions: dict[str, bytes] = field(default_factory=dict)  # OID -> extnValue (DER of the value)

    @property
    def product_name(self) -> str | None:
        v = self.extensions.get(OID_PRODUCT_NAME)
        return der.decode_string(der.read_single(v)) if v is not None else None

    @property
    def hwid(self) -> bytes | None:
        return self.extensions.get(OID_HWID)  # raw bytes, not DER-wrapped (64 B; 8 B on Turin)

    @property
    def csp_id(self) -> str | None:
        v = self.extensions.get(OID_CSP_ID)
        return der.decode_string(der.read_single(v)) if v is not None else None

    def spl(self, name: str) -> int | None:
        v = self.extensions.get(SPL_OIDS[name])
        return (
            der.decode_int(der.expect(der.read_single(v), der.INTEGER, name).value) if v is not None else None
        )

    def spls(self) -> dict[str, int]:
        return {k: s for k in SPL_OIDS if (s := self.spl(k)) is not None}


def _common_name(name: der.Tlv) -> str | None:
    for rdn in name.children():
        for atv in rdn.children():
            oid, value = atv.children()
            if der.decode_oid(oid.value) == OID_COMMON_NAME:
                return der.decode_string(value)
    return None


def _pss_params(params: der.Tlv) -> PssParams:
    hash_oid = mgf_hash = "1.3.14.3.2.26"  # RFC 4055 defaults: SHA-1
    salt = 20
    for item in params.children():
        inner = item.children()[0] if item.tag & 0x20 else item
        if item.tag == 0xA0:
            hash_oid = der.decode_oid(inner.children()[0].value)
        elif item.tag == 0xA1:
            mgf, mgf_params = inner.children()[:2]
            if der.decode_oid(mgf.value) != OID_MGF1:
                raise ParseError("RSASSA-PSS: mask generation is not MGF1")
            mgf_hash = der.decode_oid(mgf_params.children()[0].value)
        elif item.tag == 0xA2:
            salt = der.decode_int(inner.value)
    return PssParams(hash_oid, mgf_hash, salt)


def parse_endorsement_cert(data: bytes) -> EndorsementCert:
    """Parse a DER VCEK/VLEK certificate (X.509 v3, RSASSA-PSS signed)."""
    try:
        cert = der.expect(der.read_single(bytes(data)), der.SEQUENCE, "Certificate")
        tbs, alg, sig = cert.children()
        der.expect(tbs, der.SEQUENCE, "TBSCertificate")
        der.expect(sig, der.BIT_STRING, "signatureValue")
        if not sig.value or sig.value[0] != 0:
            raise ParseError("certificate signature BIT STRING has unused bits")
        alg_items = der.expect(alg, der.SEQUENCE, "signatureAlgorithm").children()
        alg_oid = der.decode_oid(der.expect(alg_items[0], der.OID, "algorithm").value)
        pss = _pss_params(alg_items[1]) if alg_oid == OID_RSASSA_PSS and len(alg_items) > 1 else None
        items = tbs.children()
        if items[0].tag != 0xA0:
            raise ParseError("certificate is not X.509 v3")
        version = der.decode_int(items[0].children()[0].value)
        if version != 2:
            raise ParseError("certificate is not X.509 v3")
        serial = der.decode_int(der.expect(items[1], der.INTEGER, "serialNumber").value)
        if items[2].raw != alg.raw:
            raise ParseError("TBS signature algorithm differs from the outer one")
        issuer, validity, subject, spki = items[3], items[4], items[5], items[6]
        not_before, not_after = (der.decode_time(t) for t in validity.children())
        extensions: dict[str, bytes] = {}
        for item in items[7:]:
            if item.tag != 0xA3:
                continue
            for ext in item.children()[0].children():
                parts = ext.children()
                oid = der.decode_oid(der.expect(parts[0], der.OID, "extnID").value)
                if oid in extensions:
                    raise ParseError(f"duplicate certificate extension {oid}")
                extensions[oid] = der.expect(parts[-1], der.OCTET_STRING, "extnValue").value
        return EndorsementCert(
            der=bytes(data),
            tbs=tbs.raw,
            serial=serial,
            signature_algorithm=alg_oid,
            pss=pss,
            signature=sig.value[1:],
            issuer_cn=_common_name(issuer),
            subject_cn=_common_name(subject),
            not_before=not_before,
            not_after=not_after,
            spki_der=der.expect(spki, der.SEQUENCE, "subjectPublicKeyInfo").raw,
            extensions=extensions,
        )
    except (ValueError, IndexError) as e:  # UnicodeDecodeError, strptime, unpacking
        raise ParseError(f"malformed endorsement certificate: {e}") from e
