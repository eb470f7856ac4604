"""attestation.certs: chains to pinned roots, explicit algorithms, dates, CRLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from attestation import certs
from attestation.roots import intel_sgx_root, nvidia_device_root

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, key, issuer_name, issuer_key, *, ca: bool, days: int = 365, serial: int = 1,
          algorithm=None, bc: bool = True):
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(T0)
        .not_valid_after(T0 + timedelta(days=days))
    )
    if bc:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    return b.sign(issuer_key, algorithm)


@pytest.fixture(scope="module")
def pki():
    root_key = ec.generate_private_key(ec.SECP384R1())
    mid_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert("Test Root", root_key, "Test Root", root_key, ca=True, algorithm=hashes.SHA384())
    mid = _cert("Test Mid", mid_key, "Test Root", root_key, ca=True, algorithm=hashes.SHA384())
    leaf = _cert("Test Leaf", leaf_key, "Test Mid", mid_key, ca=False, serial=77, algorithm=hashes.SHA256())
    return {"root": root, "mid": mid, "leaf": leaf, "root_key": root_key, "mid_key": mid_key,
            "leaf_key": leaf_key}


def _crl(issuer_name, issuer_key, serials, *, last=T0, nxt=T0 + timedelta(days=30)):
    b = x509.CertificateRevocationListBuilder().issuer_name(_name(issuer_name))
    b = b.last_update(last).next_update(nxt)
    for s in serials:
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(s).revocation_date(T0).build()
        )
    return b.sign(issuer_key, hashes.SHA256())


def test_chain_to_pinned_root_with_and_without_root_in_chain(pki):
    now = T0 + timedelta(days=1)
    r1 = certs.verify_chain([pki["leaf"], pki["mid"]], [pki["root"]], now=now)
    r2 = certs.verify_chain([pki["leaf"], pki["mid"], pki["root"]], [pki["root"]], now=now)
    assert r1.root == r2.root == pki["root"]
    assert r1.leaf == pki["leaf"]
    assert len(r2.certificates) == 3


def test_other_root_is_rejected(pki):
    other_key = ec.generate_private_key(ec.SECP384R1())
    other = _cert("Test Root", other_key, "Test Root", other_key, ca=True, algorithm=hashes.SHA384())
    with pytest.raises(certs.CertificateError):
        certs.verify_chain([pki["leaf"], pki["mid"]], [other], now=T0 + timedelta(days=1))
    # an included self-signed root that is not the pinned one does not help either
    with pytest.raises(certs.CertificateError):
        certs.verify_chain([pki["leaf"], pki["mid"], pki["root"]], [other], now=T0 + timedelta(days=1))


def test_dates_use_injected_now(pki):
    chain = [pki["leaf"], pki["mid"]]
    with pytest.raises(certs.CertificateError, match="valid"):
        certs.verify_chain(chain, [pki["root"]], now=T0 - timedelta(days=1))
    with pytest.raises(certs.CertificateError, match="valid"):
        certs.verify_chain(chain, [pki["root"]], now=T0 + timedelta(days=400))
    certs.verify_chain(chain, [pki["root"]], now=T0 + timedelta(days=400), check_time=False)


def test_issuer_must_be_ca(pki):
    leaf2_key = ec.generate_private_key(ec.SECP256R1())
    # signed by the (non-CA) leaf
    bad = _cert("Below Leaf", leaf2_key, "Test Leaf", pki["leaf_key"], ca=False, algorithm=hashes.SHA256())
    with pytest.raises(certs.CertificateError, match="not a CA"):
        certs.verify_chain([bad, pki["leaf"], pki["mid"]], [pki["root"]], now=T0 + timedelta(days=1))


def test_disallowed_algorithm_is_refused(pki):
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_root = _cert("Ed Root", ed_key, "Ed Root", ed_key, ca=True, algorithm=None)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert("Ed Leaf", leaf_key, "Ed Root", ed_key, ca=False, algorithm=None)
    with pytest.raises(certs.CertificateError, match="not allowed"):
        certs.verify_chain([leaf], [ed_root], now=T0 + timedelta(days=1))


def test_crl_revocation_and_currency(pki):
    now = T0 + timedelta(days=1)
    chain = [pki["leaf"], pki["mid"]]
    clean = _crl("Test Mid", pki["mid_key"], [5, 6])
    assert certs.verify_chain(chain, [pki["root"]], now=now, crls=[clean]).crls_checked == 1
    revoked = _crl("Test Mid", pki["mid_key"], [77])
    with pytest.raises(certs.RevokedError):
        certs.verify_chain(chain, [pki["root"]], now=now, crls=[revoked])
    with pytest.raises(certs.CertificateError, match="CRL"):
        certs.verify_chain(chain, [pki["root"]], now=T0 + timedelta(days=60), crls=[clean])
    certs.verify_chain(chain, [pki["root"]], now=T0 + timedelta(days=60), crls=[clean], check_crl_time=False)
    forged = _crl("Test Mid", ec.generate_private_key(ec.SECP256R1()), [])
    with pytest.raises(certs.CertificateError, match="signature"):
        certs.verify_chain(chain, [pki["root"]], now=now, crls=[forged])


def test_real_vendor_chains():
    intel = certs.load_pem_certificates((VECTORS / "tdx/collateral/pck_platform_ca_chain.pem").read_bytes())
    crls = [x509.load_der_x509_crl((VECTORS / "tdx/collateral" / f).read_bytes())
            for f in ("pck_platform_ca.crl.der", "intel_sgx_root_ca.crl.der")]
    r = certs.verify_chain(intel, [intel_sgx_root()], now=datetime(2023, 7, 1, tzinfo=UTC), crls=crls)
    assert r.crls_checked == 2
    nv = certs.load_pem_certificates((VECTORS / "nvgpu/coco_hopper/cert_chain.pem").read_bytes())
    r = certs.verify_chain(nv, [nvidia_device_root()], now=datetime(2025, 6, 1, tzinfo=UTC))
    assert len(r.certificates) == 5
    with pytest.raises(certs.CertificateError):
        certs.verify_chain(nv, [intel_sgx_root()], now=datetime(2025, 6, 1, tzinfo=UTC))


def test_der_helpers():
    assert certs.der_oid(bytes.fromhex("2a864886f84d010d01")) == "1.2.840.113741.1.13.1"
    items = certs.der_items(bytes.fromhex("020101040203ff"))
    assert [(t.tag, t.value) for t in items] == [(0x02, b"\x01"), (0x04, b"\x03\xff")]
    with pytest.raises(certs.CertificateError):
        certs.der_items(bytes.fromhex("0405aa"))


def _ocsp(cert, issuer, signer_key, *, status=None, responder=None, responder_id=None, this=T0,
          nxt=T0 + timedelta(days=7)):
    from cryptography.x509 import ocsp

    status = status or ocsp.OCSPCertStatus.GOOD
    b = ocsp.OCSPResponseBuilder().add_response(
        cert=cert, issuer=issuer, algorithm=hashes.SHA256(), cert_status=status, this_update=this,
        next_update=nxt, revocation_time=T0 if status == ocsp.OCSPCertStatus.REVOKED else None,
        revocation_reason=None,
    )
    b = b.responder_id(ocsp.OCSPResponderEncoding.HASH, responder or responder_id or issuer)
    if responder is not None:
        b = b.certificates([responder])
    from cryptography.hazmat.primitives.serialization import Encoding

    return b.sign(signer_key, hashes.SHA384()).public_bytes(Encoding.DER)


def test_ocsp_responses(pki):
    from cryptography.x509 import ocsp

    mid, root, root_key = pki["mid"], pki["root"], pki["root_key"]
    now = T0 + timedelta(days=1)
    assert certs.check_ocsp_response(mid, root, _ocsp(mid, root, root_key), now) == "good"
    revoked = _ocsp(mid, root, root_key, status=ocsp.OCSPCertStatus.REVOKED)
    with pytest.raises(certs.RevokedError):
        certs.check_ocsp_response(mid, root, revoked, now)
    unknown = _ocsp(mid, root, root_key, status=ocsp.OCSPCertStatus.UNKNOWN)
    with pytest.raises(certs.CertificateError, match="UNKNOWN"):
        certs.check_ocsp_response(mid, root, unknown, now)
    fake_key = ec.generate_private_key(ec.SECP384R1())
    fake_root = _cert("Test Root", fake_key, "Test Root", fake_key, ca=True, algorithm=hashes.SHA384())
    with pytest.raises(certs.CertificateError, match="signature"):
        certs.check_ocsp_response(mid, root, _ocsp(mid, root, fake_key, responder_id=fake_root), now)
    with pytest.raises(certs.CertificateError, match="current"):
        certs.check_ocsp_response(mid, root, _ocsp(mid, root, root_key), T0 + timedelta(days=30))
    with pytest.raises(certs.CertificateError, match="single answer"):
        certs.check_ocsp_response(pki["leaf"], root, _ocsp(mid, root, root_key), now)
    with pytest.raises(certs.CertificateError, match="malformed"):
        certs.check_ocsp_response(mid, root, b"\x30\x03\x0a\x01\x00", now)


def test_ocsp_delegated_responder_needs_eku(pki):
    from cryptography.x509.oid import ExtendedKeyUsageOID

    mid, root, root_key = pki["mid"], pki["root"], pki["root_key"]
    now = T0 + timedelta(days=1)
    rkey = ec.generate_private_key(ec.SECP384R1())
    base = (x509.CertificateBuilder().subject_name(_name("OCSP Responder")).issuer_name(root.subject)
            .public_key(rkey.public_key()).serial_number(9).not_valid_before(T0)
            .not_valid_after(T0 + timedelta(days=30)))
    with_eku = base.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
    good_responder = with_eku.sign(root_key, hashes.SHA384())
    delegated = _ocsp(mid, root, rkey, responder=good_responder)
    assert certs.check_ocsp_response(mid, root, delegated, now) == "good"
    no_eku = base.sign(root_key, hashes.SHA384())
    with pytest.raises(certs.CertificateError, match="ExtendedKeyUsage"):
        certs.check_ocsp_response(mid, root, _ocsp(mid, root, rkey, responder=no_eku), now)
    self_made = with_eku.sign(rkey, hashes.SHA384())  # not issued by the CA
    with pytest.raises(certs.CertificateError):
        certs.check_ocsp_response(mid, root, _ocsp(mid, root, rkey, responder=self_made), now)
