"""Re-sign a real TDX quote's QE report under a test PCK chain (tests only).

The quote's own signature, attestation key and QE binding stay as recorded; the QE report
is edited (e.g. another enclave's MRSIGNER) and signed by a freshly made PCK key whose
certificate carries the real PCK's SGX extension, under a test root the verifier is told
to trust. Every signature then verifies, so only the identity checks can refuse it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from attestation import certs
from attestation.tdx.abi import parse_quote
from attestation.tdx.tcb import SGX_EXTENSION_OID

MRSIGNER_OFFSET = 128  # in the 384-byte SGX report body
ISVPRODID_OFFSET = 256


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key, issuer: str, issuer_key, *, ca: bool, ext=None) -> x509.Certificate:  # type: ignore[no-untyped-def]
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2035, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ext is not None:
        b = b.add_extension(ext, critical=False)
    return b.sign(issuer_key, hashes.SHA256())


@dataclass(frozen=True)
class TestPckChain:
    root: x509.Certificate
    pem: bytes
    pck_key: ec.EllipticCurvePrivateKey


def make_chain(real_quote: bytes) -> TestPckChain:
    q = parse_quote(real_quote)
    real_pck = certs.load_pem_certificates(q.certification.pck_cert_chain.rstrip(b"\x00"))[0]
    sgx = real_pck.extensions.get_extension_for_oid(x509.ObjectIdentifier(SGX_EXTENSION_OID)).value
    root_key, ca_key, pck_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _cert("Test SGX Root CA", root_key, "Test SGX Root CA", root_key, ca=True)
    ca = _cert("Test SGX PCK Platform CA", ca_key, "Test SGX Root CA", root_key, ca=True)
    pck = _cert("Test SGX PCK Certificate", pck_key, "Test SGX PCK Platform CA", ca_key, ca=False, ext=sgx)
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (pck, ca, root))
    return TestPckChain(root, pem, pck_key)


def resign(real_quote: bytes, chain: TestPckChain, *, mr_signer: bytes | None = None,
           isv_prod_id: int | None = None) -> bytes:
    """The quote with its QE report edited and signed by `chain`'s PCK key, carrying `chain`."""
    q = parse_quote(real_quote)
    cd = q.certification
    report = bytearray(cd.qe_report.raw)
    if mr_signer is not None:
        report[MRSIGNER_OFFSET:MRSIGNER_OFFSET + 32] = mr_signer
    if isv_prod_id is not None:
        report[ISVPRODID_OFFSET:ISVPRODID_OFFSET + 2] = struct.pack("<H", isv_prod_id)
    r, s = decode_dss_signature(chain.pck_key.sign(bytes(report), ec.ECDSA(hashes.SHA256())))
    qe_sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    inner = struct.pack("<HI", 5, len(chain.pem)) + chain.pem
    cert_data = bytes(report) + qe_sig + struct.pack("<H", len(cd.qe_auth_data)) + cd.qe_auth_data + inner
    sig_data = q.signature + q.attestation_key + struct.pack("<HI", 6, len(cert_data)) + cert_data
    return q.signed_data + struct.pack("<I", len(sig_data)) + sig_data
