"""CSR flow: the TLS key is generated in the (simulated) TEE, an operator's CA signs its CSR, and
the proxy serves that chain. Stock TLS verification passes against the CA, and attestation still
binds the same key (real `teecube serve --tls-csr` and `teecube proxy` processes)."""

from __future__ import annotations

import os
import signal
import ssl
import stat
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from demo_process import free_port, teecube_cmd

from attestation.client import connect
from attestation.tls import key_path

PEPPER = "ops-test-pepper-0123456789abcdef0123456789abcdef"


@dataclass
class OperatorCa:  # not a test class
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def make(cls) -> OperatorCa:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "teecube ops test CA")])
        now = datetime.now(UTC) - timedelta(minutes=5)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now)
                .not_valid_after(now + timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                               critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        return cls(key, cert)

    def sign(self, csr_pem: bytes) -> bytes:
        csr = x509.load_pem_x509_csr(csr_pem)
        assert csr.is_signature_valid
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        now = datetime.now(UTC) - timedelta(minutes=5)
        leaf = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(self.cert.subject)
                .public_key(csr.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + timedelta(days=1))
                .add_extension(san, critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                               critical=False)
                .sign(self.key, hashes.SHA256()))
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, self.cert))


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*teecube_cmd(), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TEECUBE_PEPPER": PEPPER})


@pytest.fixture
def ca_signed(tmp_path: Path) -> tuple[Path, Path, OperatorCa]:
    state = tmp_path / "state"
    p = _run("serve", "--tee", "simulated", "--state-dir", str(state), "--tls-csr", str(tmp_path / "csr.pem"))
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(key_path(state).stat().st_mode) == 0o600
    ca = OperatorCa.make()
    chain = tmp_path / "chain.pem"
    chain.write_bytes(ca.sign((tmp_path / "csr.pem").read_bytes()))
    return state, chain, ca


@pytest.fixture
def proxy(ca_signed: tuple[Path, Path, OperatorCa], tmp_path: Path) -> Iterator[tuple[str, Path, OperatorCa]]:
    state, chain, ca = ca_signed
    port = free_port()
    proc = subprocess.Popen([*teecube_cmd(), "proxy", "--tee", "simulated", "--state-dir", str(state),
                             "--tls-cert", str(chain), "--port", str(port),
                             "--database-url", f"sqlite:///{tmp_path}/db"],
                            env={**os.environ, "TEECUBE_PEPPER": PEPPER}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    ctx = ssl.create_default_context(cafile=None)
    ctx.load_verify_locations(cadata=ca.cert.public_bytes(serialization.Encoding.PEM).decode())
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", context=ctx, timeout=2).read()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "proxy did not come up"
                time.sleep(0.3)
        yield url, state, ca
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.slow
def test_ca_signed_chain_verifies_with_stock_tls_and_attestation_binds_the_same_key(
    proxy: tuple[str, Path, OperatorCa],
) -> None:
    url, state, ca = proxy
    ctx = ssl.create_default_context()
    ctx.load_verify_locations(cadata=ca.cert.public_bytes(serialization.Encoding.PEM).decode())
    with urllib.request.urlopen(f"{url}/health", context=ctx, timeout=10) as r:
        assert r.status == 200  # hostname and chain checked against the operator's CA only
    conn = connect(url, trusted_simulated_root=state / "attestation" / "simulated-root.pem")
    assert conn.appraisal.ok
    key = serialization.load_pem_private_key(key_path(state).read_bytes(), None)
    assert conn.spki_der == key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.slow
def test_a_chain_for_another_key_is_refused_before_loading(ca_signed: tuple[Path, Path, OperatorCa],
                                                           tmp_path: Path) -> None:
    state, _, ca = ca_signed
    other = ec.generate_private_key(ec.SECP384R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
           .sign(other, hashes.SHA256()))
    wrong = tmp_path / "wrong.pem"
    wrong.write_bytes(ca.sign(csr.public_bytes(serialization.Encoding.PEM)))
    p = _run("serve", "--demo", "--state-dir", str(state), "--tls-cert", str(wrong),
             "--database-url", f"sqlite:///{tmp_path}/db", "--port", str(free_port()))
    assert p.returncode == 1
    assert "its key is not this TEE's TLS key" in p.stderr
    assert "engine: loading" not in p.stderr


@pytest.mark.slow
def test_tls_cert_without_a_csr_first_is_refused(tmp_path: Path) -> None:
    chain = tmp_path / "chain.pem"
    chain.write_bytes(OperatorCa.make().cert.public_bytes(serialization.Encoding.PEM))
    p = _run("serve", "--demo", "--state-dir", str(tmp_path / "s"), "--tls-cert", str(chain),
             "--database-url", f"sqlite:///{tmp_path}/db", "--port", str(free_port()))
    assert p.returncode == 1 and "write a CSR first" in p.stderr
