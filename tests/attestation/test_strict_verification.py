"""Regression tests for the stricter verification of issue #17, built from real vectors.

* TDX without collateral: the QE identity (Intel's MRSIGNER, TD_QE ISVPRODID) is always checked.
* TDX with collateral: both CRLs (PCK issuer and root CA) are required.
* Malformed input (duplicated certificate extensions, deep JSON, oversized answers) fails with
  the package's error types, never with `cryptography`'s, RecursionError or a traceback.
* One verifier contract and table; careful defaults (SNP TCB floor, GPU in CC mode, fresh
  collateral); AMD CRL revocation.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from attest_vectors import SNP_VECTORS
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from tdx_forge import make_chain, resign

from attestation import client, safejson, snp, tdx, tls, verifier
from attestation.claims import ParseError, Verdict, VerificationError
from attestation.evidence import Bundle
from attestation.providers.base import Evidence
from attestation.tdx.abi import INTEL_QE_MRSIGNER, TD_QE_ISVPRODID
from attestation.tdx.validate import TdxPolicy
from attestation.tdx.verify import QeIdentityError

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors"
TDX = VECTORS / "tdx"
SPR = TDX / "gotdxguest_v4_spr" / "quote.bin"
JUL_2023 = datetime(2023, 7, 1, tzinfo=UTC)
NO_COLLATERAL = TdxPolicy(require_collateral=False, allow_debug=True)
DER = serialization.Encoding.DER
HPKE = b"\x07" * 32
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)


def _names(v: Verdict) -> dict[str, bool]:
    return {c.name: c.ok for c in v.checks}


# -- TDX: the quoting enclave's identity is checked without collateral ----------------------------


@pytest.fixture(scope="module")
def resigning_pck():
    return make_chain(SPR.read_bytes())


def test_constants_are_intels_td_qe_identity():
    col = tdx.TdxCollateral.load(TDX / "collateral")
    assert col.qe_identity is not None
    assert (col.qe_identity.mr_signer, col.qe_identity.isv_prod_id) == (INTEL_QE_MRSIGNER, TD_QE_ISVPRODID)


def test_resigned_quote_with_intels_qe_identity_passes(resigning_pck):
    """The control: the forgery machinery alone does not make a quote fail."""
    forged = resign(SPR.read_bytes(), resigning_pck)
    v = tdx.check(forged, policy=NO_COLLATERAL, now=JUL_2023, roots=[resigning_pck.root])
    assert v.ok, v.to_dict()
    assert _names(v)["qe_identity_intel"]


@pytest.mark.parametrize("edit", [{"mr_signer": bytes(range(32))}, {"isv_prod_id": 1}])
def test_qe_report_of_another_enclave_is_refused_without_collateral(resigning_pck, edit):
    forged = resign(SPR.read_bytes(), resigning_pck, **edit)
    with pytest.raises(QeIdentityError):
        tdx.check(forged, policy=NO_COLLATERAL, now=JUL_2023, roots=[resigning_pck.root])
    # --no-policy means the crypto-only policy of the table: still refused
    opt = verifier.Options(now=JUL_2023, roots=verifier.TrustedRoots(intel=(resigning_pck.root,)))
    ev = Evidence(kind="tdx", report=forged)
    v = verifier.verify(ev, verifier.VERIFIERS["tdx"].crypto_only(), opt)
    assert not v.ok and _names(v) == {"QeIdentityError": False}


@pytest.mark.slow
def test_cli_no_policy_refuses_a_quote_from_another_enclave(resigning_pck, tmp_path):
    forged = resign(SPR.read_bytes(), resigning_pck, mr_signer=b"\x11" * 32)
    path = tmp_path / "quote.bin"
    path.write_bytes(forged)
    cmd = [sys.executable, "-m", "teecube.cli", "verify", "--evidence", str(path), "--kind", "tdx",
           "--no-policy", "--now", "2023-07-01"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr + out.stdout


# -- TDX: both CRLs are required with collateral ---------------------------------------------------


@pytest.fixture(scope="module")
def collateral():
    return tdx.TdxCollateral.load(TDX / "collateral")


@pytest.mark.parametrize("drop, failed", [("Root", "root_crl"), ("Platform", "pck_crls")])
def test_collateral_missing_one_crl_is_refused(collateral, drop, failed):
    kept = [c for c in collateral.crls if drop not in c.issuer.rfc4514_string()]
    assert len(kept) == len(collateral.crls) - 1
    v = tdx.check(SPR.read_bytes(), collateral=dataclasses.replace(collateral, crls=kept), now=JUL_2023,
                  policy=TdxPolicy(accepted_tcb_statuses=["UpToDate", "OutOfDate"], allow_debug=True))
    assert _names(v)[failed] is False and not v.ok


def test_collateral_with_both_crls_records_both(collateral):
    v = tdx.check(SPR.read_bytes(), collateral=collateral, now=JUL_2023, policy=NO_COLLATERAL)
    assert _names(v)["root_crl"] and _names(v)["pck_crls"]


def test_stale_collateral_counts_as_expired(collateral):
    later = JUL_2023 + timedelta(days=10)  # TCB Info issued 2023-06-18: 23 days old
    strict = TdxPolicy(max_collateral_age_days=20, accepted_tcb_statuses=["UpToDate", "OutOfDate"])
    v = tdx.check(SPR.read_bytes(), collateral=collateral, now=later, policy=strict)
    assert _names(v)["collateral_current"] is False
    assert any("tcb_info issued 2023-06-18" in e for e in v.claims["expired_collateral"])


def test_collateral_age_bound_must_be_positive():
    with pytest.raises(ValueError):
        TdxPolicy(max_collateral_age_days=0)


# -- malformed input raises the package's errors ---------------------------------------------------


def _tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        return bytes([tag, n]) + value
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + value


def _read_tlv(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first & 0x80:
        n = first & 0x7F
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    else:
        length = first
    return tag, data[pos:pos + length], pos + length


def _children(value: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(value):
        tag, v, pos = _read_tlv(value, pos)
        out.append((tag, v))
    return out


def duplicate_first_extension(cert_der: bytes) -> bytes:
    """The certificate with its first extension repeated (signature no longer valid, DER well-formed)."""
    _, cert, _ = _read_tlv(cert_der)
    (tbs_tag, tbs), alg, sig = _children(cert)
    items = _children(tbs)
    i = next(k for k, (tag, _) in enumerate(items) if tag == 0xA3)
    (exts_tag, exts), = _children(items[i][1])
    ext_list = _children(exts)
    ext_list.insert(1, ext_list[0])
    new_exts = _tlv(exts_tag, b"".join(_tlv(t, v) for t, v in ext_list))
    items[i] = (0xA3, new_exts)
    new_tbs = _tlv(tbs_tag, b"".join(_tlv(t, v) for t, v in items))
    return _tlv(0x30, new_tbs + _tlv(*alg) + _tlv(*sig))


def test_duplicated_extension_is_rejected_by_cryptography_lazily():
    """The premise: cryptography loads the certificate and raises DuplicateExtension later."""
    real = x509.load_pem_x509_certificates((TDX / "collateral" / "tcb_signing_chain.pem").read_bytes())[0]
    dup = x509.load_der_x509_certificate(duplicate_first_extension(real.public_bytes(DER)))
    with pytest.raises(x509.DuplicateExtension):
        _ = dup.extensions


def test_pck_chain_with_a_duplicated_extension_raises_a_verification_error(resigning_pck):
    forged = resign(SPR.read_bytes(), resigning_pck)
    pems = x509.load_pem_x509_certificates(resigning_pck.pem)
    bad_leaf = duplicate_first_extension(pems[0].public_bytes(serialization.Encoding.DER))
    bad_pem = (b"-----BEGIN CERTIFICATE-----\n" + __import__("base64").encodebytes(bad_leaf)
               + b"-----END CERTIFICATE-----\n" + b"".join(c.public_bytes(serialization.Encoding.PEM)
                                                           for c in pems[1:]))
    chain = dataclasses.replace(resigning_pck, pem=bad_pem)
    forged = resign(SPR.read_bytes(), chain)
    with pytest.raises(VerificationError):
        tdx.check(forged, policy=NO_COLLATERAL, now=JUL_2023, roots=[resigning_pck.root])


def test_tls_certificate_with_a_duplicated_extension_is_a_parse_error(sim):
    ident = tls.TlsIdentity.generate(["127.0.0.1"], sim)
    bad = duplicate_first_extension(ident.cert.public_bytes(serialization.Encoding.DER))
    with pytest.raises(ParseError):
        tls.bundle_from_cert(bad)


def test_gpu_chain_with_a_duplicated_extension_fails_as_a_verdict():
    d = VECTORS / "nvgpu" / "coco_hopper"
    pems = x509.load_pem_x509_certificates((d / "cert_chain.pem").read_bytes())
    bad = x509.load_der_x509_certificate(duplicate_first_extension(pems[0].public_bytes(DER)))
    chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [bad, *pems[1:]])
    ev = Evidence(kind="nvidia-gpu", report=(d / "report.bin").read_bytes(), certs={"chain": chain})
    v = verifier.verify(ev, verifier.VERIFIERS["nvidia-gpu"].crypto_only(), verifier.Options())
    assert not v.ok


@pytest.mark.parametrize("depth", [33, 5000, 200_000])
@pytest.mark.slow
def test_deeply_nested_bundle_is_a_parse_error(depth):
    with pytest.raises(ParseError):
        Bundle.loads("[" * depth + "]" * depth)
    with pytest.raises(ParseError):
        Bundle.loads('{"format": "teecube-attestation/1", "cpu": ' + "[" * depth + "]" * depth + "}")


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert safejson.depth(b'{"a": "[[[[[[{{{{\\"[[["}') == 1
    text = '["' + "[" * 40 + '"]'
    assert safejson.loads(text) == ["[" * 40]


def test_oversized_json_is_refused_before_parsing():
    with pytest.raises(ParseError, match="more than"):
        safejson.loads(b" " * 100 + b"{}", max_bytes=50)


def test_nested_collateral_json_is_a_parse_error():
    col = tdx.TdxCollateral()
    with pytest.raises(ParseError):
        col.add_bytes(b'{"tcbInfo": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "deep.json")


@pytest.mark.parametrize("payload", [b"[" * 200_000, b"{" + b"x" * (9 << 20)])
@pytest.mark.slow
def test_cli_evidence_never_tracebacks(tmp_path, payload):
    path = tmp_path / "evidence.json"
    path.write_bytes(b"{" + payload if payload[:1] == b"[" else payload)
    out = subprocess.run([sys.executable, "-m", "teecube.cli", "verify", "--evidence", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr and "NOT TRUSTED" in out.stderr


# -- one contract, one table ------------------------------------------------------------------------


def test_one_table_for_client_cli_and_policies():
    from attestation import policy as policy_mod

    assert set(verifier.VERIFIERS) == set(policy_mod.SECTIONS)
    for kind, ver in verifier.VERIFIERS.items():
        assert policy_mod._policy_class(kind) is ver.policy_class()
        assert isinstance(ver.crypto_only(), ver.policy_class())
        assert isinstance(ver.careful(), ver.policy_class())
    dp = client.default_policy()
    assert dp.snp.default_min_tcb and dp.tdx.require_collateral and dp.gpu.require_measurement_appraisal


@pytest.mark.parametrize("kind", sorted(verifier.VERIFIERS))
@pytest.mark.parametrize("report", [b"", b"\x00" * 10, b"\xff" * 5000])
def test_every_verifier_answers_garbage_with_a_failed_verdict(kind, report):
    ev = Evidence(kind=kind, report=report, certs={"vcek": b"\x30\x03\x02\x01\x00", "chain": b"junk"})
    v = verifier.verify(ev, verifier.VERIFIERS[kind].careful(), verifier.Options())
    assert isinstance(v, Verdict) and not v.ok


def test_every_verifier_raises_only_verification_errors_from_check():
    for kind, ver in verifier.VERIFIERS.items():
        ev = Evidence(kind=kind, report=b"\x01" * 64, certs={"vcek": b"", "chain": b""})
        try:
            v = ver.check(ev, ver.crypto_only(), verifier.Options())
        except VerificationError:
            continue
        assert not v.ok, kind


# -- careful defaults -------------------------------------------------------------------------------


def _vector(name):
    return next(v for v in SNP_VECTORS if v.name == name)


def test_default_policy_applies_the_snp_tcb_floor_per_product_line():
    pol = verifier.VERIFIERS["sev-snp"].careful()
    old = _vector("virtee_milan_v2")  # bl3 snp8 ucode115 (2023)
    v = snp.check(old.report, old.cert, old.chain, now=old.now, policy=pol)
    assert _names(v)["tcb_minimum"] is False
    new = _vector("anolis_turin_v5")
    v = snp.check(new.report, new.cert, new.chain, now=new.now, policy=pol)
    assert _names(v)["tcb_minimum"] is True, v.to_dict()
    # a policy's own minimum replaces the floor
    own = dataclasses.replace(pol, min_tcb={"bl": 3})
    assert _names(snp.check(old.report, old.cert, old.chain, now=old.now, policy=own))["tcb_minimum"]


@pytest.mark.parametrize("which, offset", [("current", 0x038), ("committed", 0x1E0), ("launch", 0x1F0)])
def test_snp_floor_covers_every_tcb_the_report_names(which, offset):
    """A host that reports a new TCB while the guest was launched on, or runs on, older firmware
    is refused: the floor applies to REPORTED, CURRENT, COMMITTED and LAUNCH TCB alike."""
    from attestation.snp.abi import parse_report
    from attestation.snp.validate import SnpPolicy, validate

    raw = bytearray(_vector("anolis_turin_v5").report)  # every TCB at the Turin floor
    pol = SnpPolicy(default_min_tcb=True)
    good = Verdict("sev-snp")
    validate(parse_report(bytes(raw)), "Turin", pol, good)
    assert _names(good)["tcb_minimum"] is True
    raw[offset + 2] = 1  # Turin layout: byte 2 = TEE SVN, the floor wants 2
    bad = Verdict("sev-snp")
    validate(parse_report(bytes(raw)), "Turin", pol, bad)
    assert _names(bad)["tcb_minimum"] is False
    assert f"{which} tee 1 < 2" in next(c.detail for c in bad.checks if c.name == "tcb_minimum")


def test_gpu_evidence_is_required_when_the_server_says_cc_mode_is_on(sim):
    from attestation import binding

    nonce, spki = bytes(32), b"spki"
    cpu = sim.get_evidence(binding.report_data(spki, nonce, HPKE))
    bundle = Bundle(nonce, spki, cpu, None, "NVML error: busy", gpu_cc_mode=True, hpke_public_key=HPKE,
                    releases=sim.release_manifests())
    again = Bundle.loads(bundle.dumps())
    assert again.gpu_cc_mode is True
    ap = client.appraise(again, policy=client.default_policy(), trusted_simulated_root=sim.root_pem)
    failed = [c.name for v in ap.verdicts for c in v.failures()]
    assert failed == ["gpu_present"]
    bundle.gpu_cc_mode = False
    assert client.appraise(bundle, policy=client.default_policy(), trusted_simulated_root=sim.root_pem).ok


def test_gpu_cc_mode_must_be_a_boolean(sim):
    from attestation import binding

    cpu = sim.get_evidence(binding.report_data(b"k", bytes(32), HPKE))
    d = Bundle(bytes(32), b"k", cpu, hpke_public_key=HPKE).to_json()
    d["gpu_cc_mode"] = "yes"
    with pytest.raises(ParseError):
        Bundle.from_json(d)


# -- AMD CRL revocation ------------------------------------------------------------------------------


def _crl(sim, revoked_serials, *, key=None, days=30):
    now = datetime.now(UTC)
    b = (x509.CertificateRevocationListBuilder().issuer_name(sim.ark.subject)
         .last_update(now - timedelta(days=1)).next_update(now + timedelta(days=days)))
    for serial in revoked_serials:
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial)
                                      .revocation_date(now - timedelta(hours=1)).build())
    return b.sign(key or sim._ark_key, hashes.SHA384(), rsa_padding=PSS).public_bytes(DER)


def _sim_check(sim, crl):
    from attestation import binding

    ev = sim.get_evidence(binding.report_data(b"k", bytes(32), HPKE))
    return snp.check(ev.report, ev.certs["vcek"], ev.certs["chain"], trusted_simulated_root=sim.root_pem,
                     policy=snp.SnpPolicy(), crl=crl)


def test_amd_crl_not_listing_the_ask_passes(sim):
    v = _sim_check(sim, _crl(sim, [12345]))
    assert v.ok and _names(v)["revocation"]


def test_amd_crl_revoking_the_ask_is_refused(sim):
    v = _sim_check(sim, _crl(sim, [sim.ask.serial_number]))
    assert _names(v)["revocation"] is False and "revoked" in v.failures()[0].detail


def test_amd_crl_signed_by_another_key_or_expired_is_refused(sim):
    from cryptography.hazmat.primitives.asymmetric import rsa

    assert not _sim_check(sim, _crl(sim, [], key=rsa.generate_private_key(65537, 2048))).ok
    assert not _sim_check(sim, _crl(sim, [], days=-1)).ok
    assert not _sim_check(sim, b"not a crl").ok


def test_verdict_json_stays_json_serialisable(collateral):
    v = tdx.check(SPR.read_bytes(), collateral=collateral, now=JUL_2023, policy=NO_COLLATERAL)
    json.dumps(v.to_dict())
