"""Any change inside the signed region is rejected; TCB-vs-certificate consistency is enforced."""

from __future__ import annotations

import pytest
from attest_vectors import SNP_VECTORS

from attestation import snp
from attestation.snp import kds, verify
from attestation.snp.abi import FIELDS, SIGNED_SIZE, parse_report

BY = {v.name: v for v in SNP_VECTORS}


def flip(data: bytes, off: int, mask: int = 0x01) -> bytes:
    b = bytearray(data)
    b[off] ^= mask
    return bytes(b)


@pytest.mark.slow
def test_every_signed_byte_of_one_report_is_covered() -> None:
    vec = BY["virtee_milan_v2"]
    assert snp.check(vec.report, vec.cert, now=vec.now).ok
    accepted = [
        off for off in range(SIGNED_SIZE) if snp.check(flip(vec.report, off), vec.cert, now=vec.now).ok
    ]
    assert accepted == []


def test_virtee_upstream_mutation_bit7_of_byte21() -> None:
    vec = BY["virtee_milan_v2"]
    v = snp.check(flip(vec.report, 21, 0x80), vec.cert, now=vec.now)
    assert [c.name for c in v.failures()] == ["report_signature"]


@pytest.mark.parametrize("vec", SNP_VECTORS, ids=[v.name for v in SNP_VECTORS])
@pytest.mark.parametrize("field", FIELDS, ids=[f[0] for f in FIELDS])
def test_each_field_group_first_and_last_byte(vec, field) -> None:
    _, off, size = field
    for pos in {off, off + size - 1}:
        for mask in (0x01, 0x80):
            v = snp.check(flip(vec.report, pos, mask), vec.cert, now=vec.now)
            assert not v.ok, f"{vec.name}: change at 0x{pos:03x} accepted"


@pytest.mark.parametrize("off", [0x2A0, 0x2A0 + 47, 0x2A0 + 72, 0x2A0 + 119])
def test_signature_bytes_are_covered(off: int) -> None:
    vec = BY["coco_milan_v2"]
    assert not snp.check(flip(vec.report, off), vec.cert, now=vec.now).ok


def test_reported_tcb_change_fails_the_tcb_check_on_a_real_vcek() -> None:
    vec = BY["coco_milan_v2"]
    changed = flip(vec.report, 0x180)  # byte 384: REPORTED_TCB bootloader SPL
    ek = kds.parse_endorsement_cert(vec.cert)
    with pytest.raises(verify.TcbMismatch, match="bl 2≠3"):
        verify.verify_tcb(parse_report(changed), ek, "Milan")
    assert not snp.check(changed, vec.cert, now=vec.now).ok  # and the signature no longer verifies


def test_reported_tcb_change_with_a_valid_signature_fails_tcb_matches_cert(sim) -> None:
    tcb = dict(sim.tcb, snp=sim.tcb["snp"] + 1)
    report = sim.make_report(bytes(64), reported_tcb=tcb)
    v = snp.check(report, sim.vcek_der, sim.chain_pem, trusted_simulated_root=sim.root_pem)
    assert [c.name for c in v.failures()] == ["tcb_matches_cert"]


def test_turin_tcb_layout_is_used_for_turin() -> None:
    vec = BY["anolis_turin_v5"]
    ek = kds.parse_endorsement_cert(vec.cert)
    r = parse_report(vec.report)
    verify.verify_tcb(r, ek, "Turin")
    with pytest.raises(verify.TcbMismatch):
        verify.verify_tcb(r, ek, "Milan")  # the Milan layout reads other bytes


def test_chip_id_must_equal_hwid() -> None:
    vec = BY["anolis_turin_v5"]
    ek = kds.parse_endorsement_cert(vec.cert)
    r = parse_report(flip(vec.report, 0x1A0 + 9))  # beyond Turin's 8-byte hwID
    with pytest.raises(verify.TcbMismatch):
        verify.verify_chip_id(r, ek)
