"""SNP report parsing, TCB layouts, product lines, and the DER reader."""

from __future__ import annotations

import pytest
from attest_vectors import SNP_VECTORS

from attestation import der
from attestation.claims import ParseError
from attestation.snp.abi import REPORT_SIZE, TcbVersion, parse_report, product_from_cpuid, product_line
from attestation.snp.kds import parse_endorsement_cert


def test_sizes_and_versions() -> None:
    report = SNP_VECTORS[0].report
    with pytest.raises(ParseError, match="1184"):
        parse_report(report[:-1])
    bad = bytearray(report)
    bad[0] = 9
    with pytest.raises(ParseError, match="version 9"):
        parse_report(bytes(bad))
    assert {parse_report(v.report).version for v in SNP_VECTORS} == {2, 3, 5}


def test_reserved_bytes_must_be_zero() -> None:
    b = bytearray(SNP_VECTORS[0].report)
    b[0x250] = 1
    with pytest.raises(ParseError, match="reserved"):
        parse_report(bytes(b))
    b = bytearray(SNP_VECTORS[0].report)
    b[REPORT_SIZE - 1] = 1  # after the signature's R and S
    with pytest.raises(ParseError, match="reserved"):
        parse_report(bytes(b))


def test_tcb_layouts() -> None:
    milan = TcbVersion.decode(0x7308000000000003, "Milan")
    assert (milan.bl, milan.tee, milan.snp, milan.ucode, milan.fmc) == (3, 0, 8, 0x73, None)
    turin = TcbVersion.decode(0x6100000005020301, "Turin")
    assert turin.parts() == {"bl": 3, "tee": 2, "snp": 5, "ucode": 97, "fmc": 1}


@pytest.mark.parametrize(
    ("family", "model", "product"),
    [
        (0x19, 0x01, "Milan"),
        (0x19, 0x0F, "Milan"),
        (0x19, 0x11, "Genoa"),
        (0x19, 0xA0, "Genoa"),
        (0x19, 0xAF, "Genoa"),
        (0x19, 0x30, None),
        (0x1A, 0x02, "Turin"),
        (0x17, 0x31, None),
        (None, None, None),
    ],
)
def test_product_from_cpuid(family, model, product) -> None:
    assert product_from_cpuid(family, model) == product


def test_v2_has_no_cpuid_and_v3_does() -> None:
    by = {v.name: parse_report(v.report) for v in SNP_VECTORS}
    assert by["virtee_milan_v2"].cpuid_family is None
    assert (by["coco_genoa_v3"].cpuid_family, by["coco_genoa_v3"].cpuid_model) == (0x19, 0xA0)
    assert by["anolis_turin_v5"].launch_mit_vector == 0x3F
    assert product_line("Milan-B0") == "Milan"


def test_der_reader_rejects_malformed_input() -> None:
    with pytest.raises(ParseError):
        der.read_single(b"\x30\x05\x02\x01")  # runs past the end
    with pytest.raises(ParseError):
        der.read_single(b"\x02\x01\x00\x00")  # trailing byte
    with pytest.raises(ParseError):
        der.read_single(b"\x04\x81\x05hello")  # non-minimal length
    assert (
        der.decode_oid(der.read_single(bytes.fromhex("06092a864886f70d01010a")).value)
        == "1.2.840.113549.1.1.10"
    )
    assert der.decode_int(der.read_single(der.encode_int(300)).value) == 300


def test_endorsement_cert_parse_rejects_truncation() -> None:
    cert = SNP_VECTORS[0].cert
    with pytest.raises(ParseError):
        parse_endorsement_cert(cert[:-10])
    ek = parse_endorsement_cert(cert)
    assert ek.subject_cn == "SEV-VCEK" and ek.issuer_cn == "SEV-Milan" and ek.pss is not None
    assert ek.pss.salt_length == 48
