"""The proxy's TLS identity: a key generated inside the TEE at start, a self-signed certificate
that carries the attestation bundle in an X.509 extension, and an `ssl.SSLContext` for aiohttp.

The extension (OID `EVIDENCE_OID`, under the UUID arc 2.25 of ITU-T X.667) holds a DER OCTET
STRING with the compact JSON bundle, bound to the key and to a nonce the server chose at start.
GPU evidence that would make the certificate too large for TLS clients (about 12 KiB a GPU; an
8-GPU bundle is over OpenSSL's 100 KiB limit) is left out of it: `GET /attestation` has it all.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import secrets
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from attestation import der, evidence, hpke
from attestation.certs import DECODE_ERRORS
from attestation.claims import ParseError
from attestation.providers.base import GpuProvider, Provider

# 2.25.<UUID as integer> (ITU-T X.667): 1b7e0c2e-5f3a-4d8e-9c61-7ea5c0be0001, teecube evidence v1
EVIDENCE_OID = x509.ObjectIdentifier("2.25.36543632353250396209292946278539198465")
# OpenSSL clients refuse a Certificate message over 100 KiB (`max_cert_list`): the bundle's
# share, leaving room for the rest of the certificate and an operator's longer name list.
MAX_CERT_BUNDLE = 90 * 1024


def cert_bundle_json(bundle: evidence.Bundle) -> bytes:
    """The compact bundle for the certificate; without the GPU evidence when that would not fit.

    Such a bundle keeps `gpu_count` and `gpu_cc_mode`, so a client that checks only the
    certificate refuses it (no GPU evidence) rather than trusting unattested GPUs.
    """
    text = bundle.dumps().encode()
    if len(text) <= MAX_CERT_BUNDLE or not bundle.gpus:
        return text
    reason = (f"the evidence of {len(bundle.gpus)} GPU(s) does not fit in a TLS certificate: "
              "GET /attestation for it")
    return dataclasses.replace(bundle, gpu=None, gpus=[], gpu_reason=reason).dumps().encode()


def spki_der_of(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def bundle_from_cert(cert_der: bytes) -> evidence.Bundle:
    """The attestation bundle carried in a teecube TLS certificate."""
    try:
        cert = x509.load_der_x509_certificate(cert_der)
        ext = cert.extensions.get_extension_for_oid(EVIDENCE_OID).value
    except x509.ExtensionNotFound as e:
        raise ParseError("certificate carries no teecube evidence extension") from e
    except DECODE_ERRORS as e:  # malformed DER, a duplicated extension
        raise ParseError(f"certificate unreadable: {e}") from e
    assert isinstance(ext, x509.UnrecognizedExtension)
    return evidence.Bundle.loads(der.expect(der.read_single(ext.value), der.OCTET_STRING, "evidence").value)


@dataclass(slots=True)
class TlsIdentity:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    spki_der: bytes
    start_nonce: bytes
    bundle: evidence.Bundle
    hpke_key: hpke.KeyPair  # requests are encrypted to it (docs/encrypted-requests.md)
    chain_pem: str | None = None  # an operator's CA-issued chain for `key`, served instead of `cert`

    @classmethod
    def generate(
        cls,
        hostnames: list[str],
        provider: Provider,
        gpu_provider: GpuProvider | None = None,
        *,
        curve: ec.EllipticCurve | None = None,
        valid_days: int = 30,
        hpke_key: hpke.KeyPair | None = None,
        key: ec.EllipticCurvePrivateKey | None = None,
    ) -> TlsIdentity:
        """A fresh key (or `key`, one generated in this TEE earlier: see `load_or_create_key`)."""
        key = key or ec.generate_private_key(curve or ec.SECP384R1())
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        start_nonce = secrets.token_bytes(32)  # server-chosen: the cert's evidence is as fresh as the key
        hpke_key = hpke_key or hpke.KeyPair.generate()  # made here, inside the TEE, never stored
        bundle = evidence.collect(provider, gpu_provider, spki, start_nonce,
                                  hpke_public_key=hpke_key.public_bytes)
        names: list[x509.GeneralName] = []
        for h in hostnames or ["localhost"]:
            try:
                names.append(x509.IPAddress(ip_address(h)))
            except ValueError:
                names.append(x509.DNSName(h))
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (hostnames or ["localhost"])[0])])
        now = datetime.now(UTC) - timedelta(minutes=5)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=valid_days))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.UnrecognizedExtension(
                    EVIDENCE_OID, der.encode(der.OCTET_STRING, cert_bundle_json(bundle))
                ),
                critical=False,
            )
            .sign(key, hashes.SHA384())
        )
        bundle.tls_cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        return cls(key, cert, spki, start_nonce, bundle, hpke_key)

    def with_chain(self, chain_pem: bytes) -> TlsIdentity:
        """Serve an operator's CA-issued certificate chain (leaf first) for this same key.

        The attestation binds the key (its SPKI), not the certificate, so clients verify exactly
        as before; stock clients can then trust the operator's CA instead of a saved certificate.
        """
        chain = x509.load_pem_x509_certificates(chain_pem)
        if spki_der_of(chain[0]) != self.spki_der:
            raise ValueError("the certificate's key is not this TEE's TLS key: sign the CSR this TEE wrote")
        pem = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain)
        self.bundle.tls_cert_pem = chain[0].public_bytes(serialization.Encoding.PEM).decode()
        return TlsIdentity(
            self.key, chain[0], self.spki_der, self.start_nonce, self.bundle, self.hpke_key, pem
        )

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def ssl_context(self) -> ssl.SSLContext:
        """A server-side context for aiohttp (`web.TCPSite(..., ssl_context=...)`)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.options |= ssl.OP_NO_RENEGOTIATION  # TLS 1.2 renegotiation: a CPU-cost lever, no use here
        key_pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # ssl only loads keys from files: a private 0700 directory, removed at once.
        with tempfile.TemporaryDirectory(prefix="teecube-tls-") as d:
            path = os.path.join(d, "identity.pem")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(key_pem + (self.chain_pem or self.cert_pem).encode())
            ctx.load_cert_chain(path)
        return ctx

    def describe(self) -> str:
        """One line for logs: the SHA-256 of the TLS SubjectPublicKeyInfo that reports bind."""
        return f"spki_sha256={hashlib.sha256(self.spki_der).hexdigest()}"


def key_path(state_dir: str | os.PathLike[str]) -> Path:
    """Where the CSR flow keeps the TEE-generated TLS key (the state directory lives in the TEE)."""
    return Path(state_dir) / "tls" / "key.pem"


def load_or_create_key(path: Path, *, create: bool = True) -> ec.EllipticCurvePrivateKey:
    """The persistent TLS key of the CSR flow: generated here, inside the TEE, on first use."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path}: not an EC private key")
        return key
    if not create:
        raise FileNotFoundError(f"{path}: no TLS key yet; write a CSR first (teecube serve --tls-csr FILE)")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


def csr_pem(key: ec.EllipticCurvePrivateKey, hostnames: list[str]) -> bytes:
    """A certificate signing request for `key`, naming `hostnames` (DNS names or IP addresses)."""
    hosts = hostnames or ["localhost"]
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .add_extension(x509.SubjectAlternativeName(_general_names(hosts)), critical=False)
        .sign(key, hashes.SHA384())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def _general_names(hostnames: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for h in hostnames:
        try:
            names.append(x509.IPAddress(ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    return names
