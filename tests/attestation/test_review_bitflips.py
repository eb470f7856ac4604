"""Review, property style: on every real vector, any single bit flipped anywhere in the signed
region (report, or the endorsement certificate) makes verification fail, through the same
`verifier.verify` table the client and the CLI use, with the policy `--no-policy` means.

The existing mutation tests flip bit 0 and bit 7 at each field's first and last byte on every
vector, and every byte of one vector; these draw (vector, offset, bit) at random over all of them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from attest_vectors import SNP_VECTORS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attestation import verifier
from attestation.nvgpu.abi import parse_report as parse_gpu
from attestation.providers.base import Evidence
from attestation.snp.abi import FIELDS, SIGNED_SIZE
from attestation.snp.kds import parse_endorsement_cert

NV = Path(__file__).resolve().parents[1] / "data" / "vectors" / "nvgpu"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _flip(data: bytes, off: int, bit: int) -> bytes:
    b = bytearray(data)
    b[off] ^= 1 << bit
    return bytes(b)


def _snp_verdict(vec, report: bytes, cert: bytes):  # type: ignore[no-untyped-def]
    ev = Evidence("sev-snp", report, {vec.signer: cert})
    return verifier.verify(ev, verifier.VERIFIERS["sev-snp"].crypto_only(),
                           verifier.Options(now=vec.now, product=vec.product))


def test_every_vector_verifies_unmodified() -> None:
    for vec in SNP_VECTORS:
        assert _snp_verdict(vec, vec.report, vec.cert).ok, vec.name


def _field_of(off: int) -> str:
    return next(name for name, start, size in FIELDS if start <= off < start + size)


@SETTINGS
@given(st.sampled_from(SNP_VECTORS), st.integers(0, SIGNED_SIZE - 1), st.integers(0, 7))
def test_any_bit_of_any_snp_report_field(vec, off, bit) -> None:
    v = _snp_verdict(vec, _flip(vec.report, off, bit), vec.cert)
    assert not v.ok, f"{vec.name}: bit {bit} of 0x{off:03x} ({_field_of(off)}) accepted"


@SETTINGS
@given(st.sampled_from(SNP_VECTORS), st.integers(0, 143), st.integers(0, 7))
def test_any_bit_of_the_significant_signature_bytes(vec, k, bit) -> None:
    off = 0x2A0 + (k % 72 if k < 72 else 72 + k % 72)
    if (off - 0x2A0) % 72 >= 48:  # r and s are 48 significant bytes; the rest must be zero
        off -= 24
    assert not _snp_verdict(vec, _flip(vec.report, off, bit), vec.cert).ok


@SETTINGS
@given(st.sampled_from(SNP_VECTORS), st.data())
def test_any_bit_of_the_endorsement_certificates_signed_part(vec, data) -> None:
    tbs = parse_endorsement_cert(vec.cert).tbs
    start = vec.cert.index(tbs)
    off = data.draw(st.integers(start, start + len(tbs) - 1))
    bit = data.draw(st.integers(0, 7))
    assert not _snp_verdict(vec, vec.report, _flip(vec.cert, off, bit)).ok, f"{vec.name}: cert 0x{off:x}"


GPU = ["coco_hopper", "nvtrust_hopper_sample"]
GPU_NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _gpu_verdict(name: str, report: bytes):  # type: ignore[no-untyped-def]
    ev = Evidence("nvidia-gpu", report, {"chain": (NV / name / "cert_chain.pem").read_bytes()})
    return verifier.verify(ev, verifier.VERIFIERS["nvidia-gpu"].crypto_only(), verifier.Options(now=GPU_NOW))


def test_gpu_vectors_verify_unmodified() -> None:
    for name in GPU:
        assert _gpu_verdict(name, (NV / name / "report.bin").read_bytes()).ok, name


@SETTINGS
@given(st.sampled_from(GPU), st.data())
def test_any_bit_of_a_gpu_reports_signed_data(name, data) -> None:
    report = (NV / name / "report.bin").read_bytes()
    signed = len(parse_gpu(report).signed_data)
    off = data.draw(st.integers(0, signed + 95))  # signed data and the r‖s signature
    bit = data.draw(st.integers(0, 7))
    assert not _gpu_verdict(name, _flip(report, off, bit)).ok, f"{name}: bit {bit} of {off} accepted"
