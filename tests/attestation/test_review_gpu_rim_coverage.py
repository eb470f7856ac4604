"""Review: when the policy requires the GPU's measurements to be appraised, the RIMs must cover
both the driver and the VBIOS the report names (NVIDIA's verifier needs both).

Before, one RIM was enough: a VBIOS RIM that matched made the careful policy pass although no
driver measurement was compared with anything (online.enrich only notes a RIM it could not fetch).

The real coco_hopper report with the real VBIOS RIM mismatches at index 9 (README), so the RIMs
here are the real VBIOS RIM with index 9 set to the measured value, re-signed (XMLDSig, the real
C14N code path) by a test CoRIM root passed as `rim_roots`; the driver RIM is the same document
relabelled with the report's driver version and every index inactive."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from attestation import nvgpu
from attestation.nvgpu import xmldsig
from attestation.nvgpu.validate import GpuPolicy

NV = Path(__file__).resolve().parents[1] / "data" / "vectors" / "nvgpu"
VBIOS_RIM = NV / "rim/NV_GPU_VBIOS_1010_0200_882_96.00.74.00.1A.swidtag"
COCO = NV / "coco_hopper"
NOW = datetime(2025, 6, 1, tzinfo=UTC)
RIM_9 = "7f3e9382785513c1932dfcc9e87f6ef6bf5fefe88144c6ea48539e65f937013dd7349144e5f439dcea401dac26e5c098"
MEASURED_9 = ("059b32e712a153f490dbfb7976a9e275d789e28bd4803c357def2b6123327c43"
              "0526bfaecc200f496d4e149fc5eade03")


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey,
          ca: bool) -> x509.Certificate:
    name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])  # noqa: E731
    return (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=30)).not_valid_after(NOW + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(signer, hashes.SHA384()))


ROOT_KEY, LEAF_KEY = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP384R1())
ROOT = _cert("Test CoRIM root", ROOT_KEY, "Test CoRIM root", ROOT_KEY, True)
LEAF = _cert("Test RIM signer", LEAF_KEY, "Test CoRIM root", ROOT_KEY, False)


def _resign(text: str) -> bytes:
    """`text` with its KeyInfo chain replaced by LEAF, ROOT and its signature redone by LEAF_KEY."""
    b64 = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in (LEAF, ROOT)]
    text = re.sub(r"<ds:X509Data>.*?</ds:X509Data>",
                  "<ds:X509Data>" + "".join(f"<ds:X509Certificate>{c}</ds:X509Certificate>" for c in b64)
                  + "</ds:X509Data>", text, count=1, flags=re.S)
    root = xmldsig._parse(text)
    sig = xmldsig._one(root, "Signature")
    digest = base64.b64encode(hashlib.sha384(xmldsig.canonicalize(root, skip=sig)).digest()).decode()
    text = re.sub(r"<ds:DigestValue>[^<]*</ds:DigestValue>", f"<ds:DigestValue>{digest}</ds:DigestValue>",
                  text, count=1)
    signed_info = xmldsig._one(xmldsig._one(xmldsig._parse(text), "Signature"), "SignedInfo")
    r, s = decode_dss_signature(LEAF_KEY.sign(xmldsig.canonicalize(signed_info), ec.ECDSA(hashes.SHA384())))
    value = base64.b64encode(r.to_bytes(48, "big") + s.to_bytes(48, "big")).decode()
    text = re.sub(r"<ds:SignatureValue>[^<]*</ds:SignatureValue>",
                  f"<ds:SignatureValue>{value}</ds:SignatureValue>", text, count=1)
    xmldsig.verify_xml_signature(text, LEAF)
    return text.encode()


def _vbios_rim() -> bytes:
    text = VBIOS_RIM.read_text()
    assert RIM_9 in text
    return _resign(text.replace(RIM_9, MEASURED_9, 1))


def _driver_rim(version: str) -> bytes:
    text = VBIOS_RIM.read_text().replace('colloquialVersion="96.00.74.00.1A"',
                                         f'colloquialVersion="{version}"')
    return _resign(text.replace('active="True"', 'active="False"'))


def _check(rims: list[bytes], policy: GpuPolicy | None = None):  # type: ignore[no-untyped-def]
    report, chain = (COCO / "report.bin").read_bytes(), (COCO / "cert_chain.pem").read_bytes()
    return nvgpu.check(report, chain, nonce=report[4:36], rims=rims, policy=policy, now=NOW,
                       rim_roots=[ROOT])


def test_vbios_rim_alone_no_longer_passes_the_careful_policy() -> None:
    v = _check([_vbios_rim()])
    assert v.claims["rim_mismatched_indices"] == []
    assert [c.name for c in v.failures()] == ["measurements"]
    detail = v.failures()[0].detail
    assert "no RIM for the driver 580.95.05" in detail and "not appraised" in detail
    assert not v.ok


def test_driver_rim_alone_does_not_pass_either() -> None:
    v = _check([_driver_rim("580.95.05")])
    assert [c.name for c in v.failures()] == ["measurements"]
    assert "no RIM for the VBIOS 96.00.74.00.1A" in v.failures()[0].detail


def test_driver_and_vbios_rims_together_pass() -> None:
    v = _check([_vbios_rim(), _driver_rim("580.95.05")])
    assert v.ok, v.failures()


def test_a_driver_rim_of_another_version_does_not_cover_the_driver() -> None:
    v = _check([_vbios_rim(), _driver_rim("580.95.06")])
    assert {c.name for c in v.failures()} == {"rim_version[580.95.06]", "measurements"}


def test_crypto_only_policy_still_compares_what_it_is_given() -> None:
    crypto_only = GpuPolicy(require_nonce=False, require_measurement_appraisal=False)
    assert _check([_vbios_rim()], crypto_only).ok
    pinned = GpuPolicy(measurements={10: [bytes(48)]})  # pins decide the appraisal
    assert [c.name for c in _check([_vbios_rim()], pinned).failures()] == ["pinned_measurements"]


@pytest.mark.parametrize("rims", [[], None])
def test_no_rim_at_all_is_still_refused(rims) -> None:
    v = _check(rims)
    assert [c.name for c in v.failures()] == ["measurements"]
