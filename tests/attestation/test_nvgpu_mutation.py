"""Every single-byte change inside a GPU report's signed region is rejected.

Through `nvgpu.check` (chain + signature + FWID): every byte of the request (nonce
included), the response header, every measurement-block header, the responder nonce, the
opaque-data length and every opaque byte, the signature and the trailing byte; and a
stride through the measurement values. Every byte of the measurement record is also
of the coco vector is also covered through `verify_report_signature` (the same code
`check` runs first, without re-parsing the chain 3,500 times).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509

from attestation import nvgpu
from attestation.claims import VerificationError
from attestation.nvgpu.abi import REQUEST_SIZE, parse_report
from attestation.nvgpu.validate import GpuPolicy
from attestation.nvgpu.verify import verify_report_signature

NV = Path(__file__).resolve().parents[1] / "data" / "vectors" / "nvgpu"
NOW = datetime(2025, 6, 1, tzinfo=UTC)
POLICY = GpuPolicy(require_measurement_appraisal=False)
CASES = ("coco_hopper", "nvtrust_hopper_sample")


def _load(case: str) -> tuple[bytes, bytes]:
    return (NV / case / "report.bin").read_bytes(), (NV / case / "cert_chain.pem").read_bytes()


def _rejected(report: bytes, chain: bytes, nonce: bytes) -> bool:
    try:
        v = nvgpu.check(report, chain, nonce=nonce, now=NOW, policy=POLICY)
    except VerificationError:
        return True
    return not v.ok


def _layout(data: bytes) -> dict[str, range]:
    r = parse_report(data)
    rec_start = REQUEST_SIZE + 8
    rec_end = rec_start + sum(4 + 3 + len(b.value) for b in r.response.blocks)
    opaque_end = rec_end + 32 + 2 + sum(4 + len(f.value) for f in r.response.opaque)
    assert opaque_end == len(r.signed_data)
    return {
        "request": range(0, REQUEST_SIZE),
        "response_header": range(REQUEST_SIZE, rec_start),
        "measurement_record": range(rec_start, rec_end),
        "responder_nonce": range(rec_end, rec_end + 32),
        "opaque": range(rec_end + 32, opaque_end),
        "signature_and_trailing": range(opaque_end, len(data)),
    }


def _block_header_offsets(data: bytes, record: range) -> list[int]:
    out, pos = [], record.start
    while pos < record.stop:
        size = int.from_bytes(data[pos + 2 : pos + 4], "little")
        out.extend(range(pos, pos + 7))  # index, spec, size, DMTF type, DMTF size
        pos += 4 + size
    return out


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_every_signed_byte_through_check(case):
    data, chain = _load(case)
    nonce = data[4:36]
    assert not _rejected(data, chain, nonce)
    layout = _layout(data)
    record = layout.pop("measurement_record")
    offsets = [i for span in layout.values() for i in span]
    offsets += _block_header_offsets(data, record)
    offsets += list(range(record.start, record.stop, 13))
    missed = []
    for i in sorted(set(offsets)):
        mutated = bytearray(data)
        mutated[i] ^= 0x01
        # the caller's expected nonce stays the genuine one
        if not _rejected(bytes(mutated), chain, nonce):
            missed.append(i)
    assert missed == []


@pytest.mark.slow
def test_every_measurement_byte_breaks_the_signature():
    data, chain = _load("coco_hopper")
    leaf = x509.load_pem_x509_certificates(chain)[0]
    verify_report_signature(parse_report(data), leaf)
    missed = []
    for i in _layout(data)["measurement_record"]:
        mutated = bytearray(data)
        mutated[i] ^= 0x01
        try:
            verify_report_signature(parse_report(bytes(mutated)), leaf)
        except VerificationError:
            continue
        missed.append(i)
    assert missed == []
