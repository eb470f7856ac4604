"""Intel TDX: every real vector verifies or is rejected exactly as tests/data/vectors/README.md says."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from attestation import tdx
from attestation.certs import CertificateError
from attestation.claims import ParseError, PolicyError, Verdict, VerificationError
from attestation.roots import amd_chain
from attestation.tdx.abi import TD_ATTR_DEBUG, parse_quote
from attestation.tdx.ccel import parse_event_log
from attestation.tdx.collateral import CollateralError, QeIdentity, TcbInfo, raw_json_member
from attestation.tdx.tcb import TcbError, parse_pck_extension, qe_identity_status, tdx_tcb_status
from attestation.tdx.validate import TdxPolicy, validate_quote
from attestation.tdx.verify import CollateralSignatureError

TDX = Path(__file__).resolve().parents[1] / "data" / "vectors" / "tdx"
COLL = TDX / "collateral"
SPR = TDX / "gotdxguest_v4_spr/quote.bin"
V5 = TDX / "gotdxguest_v5_tdx15/quote.bin"
DEBUG = TDX / "coco_v4_debug_td/quote.bin"
COCO_V5 = TDX / "coco_v5_tdx15/quote.bin"
GCE = TDX / "gotdxguest_v4_gce_ccel/quote_padded.bin"
JUL_2023 = datetime(2023, 7, 1, tzinfo=UTC)  # go-tdx-guest's clock for the v4 SPR quote
FEB_2026 = datetime(2026, 2, 3, tzinfo=UTC)  # go-tdx-guest's clock for the v5 quote
AUG_2024 = datetime(2024, 8, 1, tzinfo=UTC)  # inside the GCE PCK's validity


@pytest.fixture(scope="module")
def collateral() -> tdx.TdxCollateral:
    return tdx.TdxCollateral.load(COLL)


def _checks(v: Verdict) -> dict[str, bool]:
    return {c.name: c.ok for c in v.checks}


CRYPTO_CHECKS = ("quote_signature", "qe_report_binding", "qe_report_signature", "pck_chain")


# --- parse ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "version", "body_type", "trailing", "td_attributes", "mr_td_prefix"),
    [
        (SPR, 4, 2, 39, 0x40000000, "6363b8043668a3ad"),
        (V5, 5, 3, 0, 0x10000000, "7348651a34b2d2d3"),
        (DEBUG, 4, 2, 0, 0x10000001, "705ee9381b8633a9"),
        (COCO_V5, 5, 3, 0, 0x10000000, "dfba221b48a22af8"),
        (GCE, 4, 2, 3065, 0x10000000, None),
    ],
)
def test_parse_vectors(path, version, body_type, trailing, td_attributes, mr_td_prefix):
    q = parse_quote(path.read_bytes())
    assert (q.header.version, q.body_type, q.trailing_bytes) == (version, body_type, trailing)
    assert q.body.td_attributes == td_attributes
    if mr_td_prefix:
        assert q.body.mr_td.hex().startswith(mr_td_prefix)
    assert (q.body.tee_tcb_svn2 is not None) == (body_type == 3)


def test_parse_uses_signed_data_length_not_file_length():
    data = SPR.read_bytes()
    q = parse_quote(data[: len(data) - 39])
    assert q.trailing_bytes == 0
    with pytest.raises(ParseError):
        parse_quote(data[: len(data) - 40])  # one byte of signed data missing


def test_parse_rejects_wrong_version_tee_and_body_type():
    data = bytearray(V5.read_bytes())
    for offset, value in ((0, 3), (4, 0x00), (48, 4)):  # version, TEE type, v5 body type
        bad = bytearray(data)
        bad[offset] = value
        with pytest.raises(ParseError):
            parse_quote(bytes(bad))


def test_spr_claims_match_readme():
    q = parse_quote(SPR.read_bytes())
    assert q.body.mr_td.hex() == (
        "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb"
    )
    assert q.body.report_data.hex().startswith("6c62dec1b8191749")
    pck = parse_pck_extension(x509.load_pem_x509_certificates(q.certification.pck_cert_chain)[0])
    assert pck.fmspc.hex() == "50806f000000"
    assert q.body.tee_tcb_svn.hex().startswith("030004")


# --- verify + collateral ------------------------------------------------------------------------


def test_v4_spr_verifies_but_does_not_meet_a_tcb_level(collateral):
    v = tdx.check(SPR.read_bytes(), collateral=collateral, now=JUL_2023)
    c = _checks(v)
    assert all(c[n] for n in CRYPTO_CHECKS)
    assert c["pck_crls"] and c["tcb_info"] and c["qe_identity"] and c["collateral_current"]
    assert c["tcb_level"] is False and c["tcb_status"] is False
    assert v.claims["tcb_status"] == "NotSupported"
    assert v.claims["qe_tcb_status"] == "UpToDate"
    assert not v.ok


def test_v4_spr_meets_top_level_when_level_svns_are_zeroed(collateral):
    """What go-tdx-guest's TestVerifyUsingTcbInfoV4 does: an edited (unsigned) TCB Info."""
    doc = json.loads((COLL / "tcbinfo_fmspc_50806f000000.json").read_bytes())
    for level in doc["tcbInfo"]["tcbLevels"]:
        for comp in level["tcb"]["sgxtcbcomponents"] + level["tcb"]["tdxtcbcomponents"]:
            comp["svn"] = 0
    info = TcbInfo.parse(json.dumps(doc).encode())
    q = parse_quote(SPR.read_bytes())
    pck = parse_pck_extension(x509.load_pem_x509_certificates(q.certification.pck_cert_chain)[0])
    st = tdx_tcb_status(info, pck, q.body.tee_tcb_svn, q.body.mr_signer_seam, q.body.seam_attributes)
    assert st.status == "UpToDate" and "level 0" in st.detail
    # ... and the edited document no longer carries Intel's signature:
    forged = tdx.TdxCollateral(tcb_infos=[info], qe_identity=collateral.qe_identity,
                               tcb_signing_chain=collateral.tcb_signing_chain, crls=collateral.crls)
    with pytest.raises(CollateralSignatureError):
        tdx.check(SPR.read_bytes(), collateral=forged, now=JUL_2023)


def test_v5_quote_is_up_to_date_against_v5_tcb_info(collateral):
    v = tdx.check(V5.read_bytes(), collateral=collateral, now=FEB_2026)
    c = _checks(v)
    assert all(c[n] for n in CRYPTO_CHECKS)
    assert v.claims["tcb_status"] == "UpToDate" and c["tcb_status"]
    assert v.claims["qe_tcb_status"] == "UpToDate" and c["qe_tcb_status"]
    assert "TDX_01" in next(x.detail for x in v.checks if x.name == "tcb_level")
    # The sample collateral set mixes eras: at the v5 clock the TCB signing cert (2025-05),
    # the QE identity and the CRLs (2023) have expired. That is reported, not hidden.
    assert c["collateral_current"] is False
    expired = " ".join(v.claims["expired_collateral"])
    assert "TCB Signing" in expired and "QE Identity" in expired and "CRL" in expired
    assert "TCB Info" not in expired
    assert [x.name for x in v.failures()] == ["collateral_current"]
    ok = tdx.check(V5.read_bytes(), collateral=collateral, now=FEB_2026,
                   policy=TdxPolicy(accept_expired_collateral=True))
    assert ok.ok


def test_debug_td_is_rejected_by_production_policy(collateral):
    v = tdx.check(DEBUG.read_bytes(), collateral=collateral, now=JUL_2023)
    c = _checks(v)
    assert all(c[n] for n in CRYPTO_CHECKS)
    assert c["debug_disabled"] is False
    assert [x.name for x in v.failures()] == ["debug_disabled"]
    assert tdx.check(DEBUG.read_bytes(), collateral=collateral, now=JUL_2023,
                     policy=TdxPolicy(allow_debug=True)).ok


def test_coco_v5_verifies_and_reports_its_tcb_honestly(collateral):
    v = tdx.check(COCO_V5.read_bytes(), collateral=collateral, now=FEB_2026)
    c = _checks(v)
    assert all(c[n] for n in CRYPTO_CHECKS)
    assert v.claims["fmspc"] == "90c06f000000"
    assert v.claims["tcb_status"] == "NotSupported"  # PCK SGX SVNs [1,1,...] below every level
    assert not v.ok
    # PCK valid 2024-03-18..2031-03-18
    with pytest.raises(CertificateError, match="valid"):
        tdx.check(COCO_V5.read_bytes(), policy=TdxPolicy(require_collateral=False),
                  now=datetime(2024, 3, 1, tzinfo=UTC))


def test_gce_quote_verifies_without_tcb_info_for_its_fmspc(collateral):
    nonce = (TDX / "gotdxguest_v4_gce_ccel/nonce.bin").read_bytes()
    v = tdx.check(GCE.read_bytes(), now=AUG_2024,
                  policy=TdxPolicy(require_collateral=False, report_data=nonce))
    assert v.ok, v.failures()
    assert v.claims["trailing_bytes"] == 3065
    assert v.claims["rtmrs"][0].startswith("3fa2f61f395b7f5f")
    with_coll = tdx.check(GCE.read_bytes(), collateral=collateral, now=AUG_2024)
    assert _checks(with_coll)["tcb_info"] is False  # no TCB Info for FMSPC 00806f050000 here
    assert not with_coll.ok
    # collateral required by default
    assert not tdx.check(GCE.read_bytes(), now=AUG_2024).ok


def test_pck_before_validity_is_rejected():
    with pytest.raises(CertificateError, match="valid"):
        tdx.check(GCE.read_bytes(), now=JUL_2023, policy=TdxPolicy(require_collateral=False))


def _fresh_ca() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Intel SGX Root CA")])
    t = datetime(2018, 1, 1, tzinfo=UTC)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(t).not_valid_after(t + timedelta(days=20000))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


@pytest.mark.parametrize("root", ["amd_ark", "fresh_ca"])
def test_wrong_vendor_root_is_rejected(root, collateral):
    pinned = amd_chain("Milan").ark if root == "amd_ark" else _fresh_ca()
    for path, now in ((SPR, JUL_2023), (V5, FEB_2026)):
        with pytest.raises(CertificateError):
            tdx.check(path.read_bytes(), now=now, roots=[pinned], policy=TdxPolicy(require_collateral=False))
    with pytest.raises(CertificateError):
        tdx.check(SPR.read_bytes(), collateral=collateral, now=JUL_2023, roots=[pinned])


def test_forged_pck_crl_is_rejected(collateral):
    """A PCK CRL not signed by the Platform CA is refused (revocation itself: test_certs)."""
    q = parse_quote(SPR.read_bytes())
    pck = x509.load_pem_x509_certificates(q.certification.pck_cert_chain)[0]
    genuine = x509.load_der_x509_crl((COLL / "pck_platform_ca.crl.der").read_bytes())
    assert genuine.get_revoked_certificate_by_serial_number(pck.serial_number) is None
    key = ec.generate_private_key(ec.SECP256R1())
    forged = (x509.CertificateRevocationListBuilder().issuer_name(genuine.issuer)
              .last_update(genuine.last_update_utc).next_update(genuine.next_update_utc)
              .sign(key, hashes.SHA256()))
    bad = dataclasses.replace(collateral, crls=[forged])
    with pytest.raises(CertificateError, match="signature"):
        tdx.check(SPR.read_bytes(), collateral=bad, now=JUL_2023)


# --- collateral parsing -------------------------------------------------------------------


def test_raw_json_member_is_exact_substring():
    body = (COLL / "tcbinfo_fmspc_90c06f000000.json").read_bytes()
    raw = raw_json_member(body, "tcbInfo")
    assert body.index(raw) == len(b'{"tcbInfo":')
    assert json.loads(raw) == json.loads(body)["tcbInfo"]
    spaced = b'{ "signature" : "00", "tcbInfo" : {"a": "}{\\"", "b": [1, {"c": 2}]} }'
    assert raw_json_member(spaced, "tcbInfo") == b'{"a": "}{\\"", "b": [1, {"c": 2}]}'


def test_collateral_rejects_duplicates_and_tampering(collateral):
    body = (COLL / "qe_identity_td_qe.json").read_bytes()
    dup = body.replace(b'"signature"', b'"enclaveIdentity":{},"signature"', 1)
    with pytest.raises(CollateralError):
        QeIdentity.parse(dup)
    tampered = body.replace(b'"isvprodid":2', b'"isvprodid":3')
    forged = dataclasses.replace(collateral, qe_identity=QeIdentity.parse(tampered))
    with pytest.raises(CollateralSignatureError):
        tdx.check(SPR.read_bytes(), collateral=forged, now=JUL_2023)


def test_qe_identity_mismatch_is_reported():
    q = parse_quote(SPR.read_bytes())
    ident = QeIdentity.parse((COLL / "qe_identity_td_qe.json").read_bytes())
    assert qe_identity_status(ident, q.certification.qe_report).status == "UpToDate"
    for change in ({"mr_signer": bytes(32)}, {"isv_prod_id": 1},
                   {"levels": ((99, "UpToDate", ()),)}):
        with pytest.raises(TcbError):
            qe_identity_status(dataclasses.replace(ident, **change), q.certification.qe_report)


def test_collateral_load_classifies_files(tmp_path):
    c = tdx.TdxCollateral.load(COLL)
    assert sorted(i.fmspc.hex() for i in c.tcb_infos) == ["50806f000000", "90c06f000000"]
    assert c.qe_identity is not None and len(c.tcb_signing_chain) == 2 and len(c.crls) == 2
    (tmp_path / "junk.bin").write_bytes(b"\x01\x02")
    with pytest.raises(CollateralError):
        tdx.TdxCollateral.load(tmp_path)


# --- policy --------------------------------------------------------------------------------


def test_policy_round_trip_and_from_evidence(collateral):
    p = TdxPolicy.from_evidence(V5.read_bytes())
    again = TdxPolicy.from_dict(json.loads(json.dumps(p.to_dict())))
    assert again == p
    v = tdx.check(V5.read_bytes(), collateral=collateral, now=FEB_2026,
                  policy=dataclasses.replace(p, accept_expired_collateral=True))
    assert v.ok, v.failures()
    assert TdxPolicy.from_verdict(v) == p
    other = tdx.check(COCO_V5.read_bytes(), now=FEB_2026,
                      policy=dataclasses.replace(p, require_collateral=False))
    failed = {c.name for c in other.failures()}
    assert {"mr_td", "rtmr0", "min_tee_tcb_svn"} <= failed


def test_policy_rejects_bad_input():
    with pytest.raises(PolicyError):
        TdxPolicy.from_dict({"mrtd": []})
    with pytest.raises(PolicyError):
        TdxPolicy.from_dict({"mr_td": ["abcd"]})
    with pytest.raises(PolicyError):
        TdxPolicy.from_dict({"report_data": "zz"})


def test_td_attribute_bits_outside_the_allowed_set_are_rejected():
    q = parse_quote(V5.read_bytes())
    for bits, ok in ((1 << 28, True), (1 << 30, True), (1 << 63, True), (1 << 29, False), (1 << 1, False)):
        body = dataclasses.replace(q.body, td_attributes=bits)
        v = Verdict("tdx")
        validate_quote(dataclasses.replace(q, body=body), v, TdxPolicy(require_collateral=False),
                       collateral_given=False, expired=[])
        assert _checks(v)["td_attributes"] is ok, hex(bits)
    body = dataclasses.replace(q.body, td_attributes=TD_ATTR_DEBUG)
    v = Verdict("tdx")
    policy = TdxPolicy(allow_debug=True, require_collateral=False)
    validate_quote(dataclasses.replace(q, body=body), v, policy, collateral_given=False, expired=[])
    assert v.ok


def test_policy_accepted_statuses(collateral):
    v = tdx.check(SPR.read_bytes(), collateral=collateral, now=JUL_2023,
                  policy=TdxPolicy(accepted_tcb_statuses=["UpToDate", "NotSupported"]))
    assert _checks(v)["tcb_status"] is True
    assert not v.ok  # the verify-layer tcb_level check still records that no level matched


def test_verification_errors_are_specific():
    assert issubclass(CollateralSignatureError, VerificationError)
    assert issubclass(CertificateError, VerificationError)


def test_missing_pck_crl_is_a_failed_check(collateral):
    root_crl_only = [c for c in collateral.crls if "Root" in c.issuer.rfc4514_string()]
    v = tdx.check(SPR.read_bytes(), collateral=dataclasses.replace(collateral, crls=root_crl_only),
                  now=JUL_2023)
    assert _checks(v)["pck_crls"] is False


def test_naive_now_is_utc(collateral):
    naive = tdx.check(DEBUG.read_bytes(), collateral=collateral, now=datetime(2023, 7, 1),
                      policy=TdxPolicy(allow_debug=True))
    assert naive.ok


# --- parsers fail with ParseError only --------------------------------------------------------


def test_every_truncation_is_a_parse_error():
    data = SPR.read_bytes()[:-39]
    for n in range(len(data)):
        with pytest.raises(ParseError):
            parse_quote(data[:n])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
@pytest.mark.slow
def test_random_bytes_never_crash_the_parsers(blob):
    for parse in (parse_quote, parse_event_log, lambda b: tdx.TdxCollateral().add_bytes(b)):
        try:
            parse(blob)
        except ParseError as exc:  # the documented refusal, with a message; anything else fails
            assert str(exc)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=5005), st.integers(min_value=0, max_value=255))
@pytest.mark.slow
def test_quote_byte_edits_raise_only_verification_errors(offset, value):
    data = bytearray(V5.read_bytes())
    offset %= len(data)
    data[offset] = value
    try:
        tdx.check(bytes(data), now=FEB_2026, policy=TdxPolicy(require_collateral=False))
    except VerificationError:
        pass


def test_verdict_is_json(collateral):
    v = tdx.check(V5.read_bytes(), collateral=collateral, now=FEB_2026)
    assert json.loads(json.dumps(v.to_dict()))["kind"] == "tdx"


def test_xfam_fixed_masks():
    q = parse_quote(V5.read_bytes())
    for xfam, ok in ((0x602E7, True), (0x3, True), (0x602E6, False), (0x602E7 | 1 << 3, False)):
        v = Verdict("tdx")
        validate_quote(dataclasses.replace(q, body=dataclasses.replace(q.body, xfam=xfam)), v,
                       TdxPolicy(require_collateral=False), collateral_given=False, expired=[])
        assert _checks(v)["xfam"] is ok, hex(xfam)


def test_v5_body_type_2_parses_like_v4():
    """No real v5/type-2 vector: rebuild one from the v4 quote (its signature no longer holds)."""
    import struct

    v4 = SPR.read_bytes()
    v5 = struct.pack("<H", 5) + v4[2:48] + struct.pack("<HI", 2, 584) + v4[48:]
    q4, q5 = parse_quote(v4), parse_quote(v5)
    assert (q5.header.version, q5.body_type) == (5, 2)
    assert q5.body == q4.body and q5.certification == q4.certification
    assert q5.signed_data == v5[: 48 + 6 + 584]
    with pytest.raises(ParseError, match="size"):
        parse_quote(v5[:48] + struct.pack("<HI", 2, 648) + v5[54:])
    with pytest.raises(VerificationError):
        tdx.check(v5, now=JUL_2023, policy=TdxPolicy(require_collateral=False))


def test_collateral_must_be_signed_by_the_tcb_signing_cert(collateral):
    """A chain that is Intel-issued but not the TCB signing cert (here the PCK chain) is refused."""
    pck_chain = x509.load_pem_x509_certificates(parse_quote(SPR.read_bytes()).certification.pck_cert_chain)
    bad = dataclasses.replace(collateral, tcb_signing_chain=pck_chain)
    with pytest.raises(CollateralSignatureError, match="TCB Signing"):
        tdx.check(SPR.read_bytes(), collateral=bad, now=JUL_2023)


def test_policy_type_errors_are_value_errors():
    for bad in ({"allow_debug": "yes"}, {"mr_td": "00" * 48}, {"accepted_tcb_statuses": "UpToDate"}):
        with pytest.raises(ValueError):
            TdxPolicy.from_dict(bad)
