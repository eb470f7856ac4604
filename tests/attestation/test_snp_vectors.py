"""Every real SNP vector verifies (or is rejected) exactly as tests/data/vectors/README.md says."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

import pytest
from attest_vectors import SNP, SNP_VECTORS, SnpVector
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from attestation import roots, snp
from attestation.snp import kds, verify
from attestation.snp.abi import parse_report
from attestation.snp.validate import SnpPolicy

IDS = [v.name for v in SNP_VECTORS]


def failed(v) -> list[str]:
    return [c.name for c in v.failures()]


@pytest.mark.parametrize("vec", SNP_VECTORS, ids=IDS)
def test_vector_verifies_with_pinned_roots(vec: SnpVector) -> None:
    v = snp.check(vec.report, vec.cert, now=vec.now)
    assert v.ok, v.failures()
    assert v.kind == "sev-snp"
    assert v.claims["product"] == vec.product
    assert v.claims["measurement"] == vec.measurement
    assert v.claims["vmpl"] == vec.vmpl
    chain = next(c for c in v.checks if c.name == "cert_chain")
    assert chain.detail.startswith(f"Signed by AMD (chain ARK-{vec.product} → SEV-")


@pytest.mark.parametrize("vec", SNP_VECTORS, ids=IDS)
def test_vector_verifies_with_served_chain_and_product(vec: SnpVector) -> None:
    v = snp.check(vec.report, vec.cert, vec.chain, product=vec.product, now=vec.now)
    assert v.ok, v.failures()


@pytest.mark.parametrize("vec", SNP_VECTORS, ids=IDS)
def test_debug_forbidding_policy(vec: SnpVector) -> None:
    v = snp.check(vec.report, vec.cert, now=vec.now, policy=SnpPolicy())
    if vec.debug:  # go-sev-guest's vector has DEBUG=1
        assert failed(v) == ["debug_disabled"]
    else:
        assert v.ok, v.failures()


def test_known_values_from_readme() -> None:
    by = {v.name: v for v in SNP_VECTORS}
    c = snp.check(by["coco_milan_v2"].report, by["coco_milan_v2"].cert, now=by["coco_milan_v2"].now)
    # CURRENT_TCB differs from REPORTED_TCB; the VCEK matches REPORTED_TCB and that is what is used
    r = parse_report(by["coco_milan_v2"].report)
    assert r.current_tcb_raw == 0xCE08000000000003 and r.reported_tcb_raw == 0x7308000000000003
    assert c.ok and c.claims["reported_tcb"] == {"bl": 3, "tee": 0, "snp": 8, "ucode": 115}
    g = snp.check(
        by["gosevguest_milan_v2"].report, by["gosevguest_milan_v2"].cert, now=by["gosevguest_milan_v2"].now
    )
    assert g.claims["report_data"] == "0102030405" + "00" * 59
    assert g.claims["debug"] is True and g.claims["policy"] == "0xb0000"
    t = snp.check(by["anolis_turin_v5"].report, by["anolis_turin_v5"].cert, now=by["anolis_turin_v5"].now)
    assert t.claims["reported_tcb"] == {"bl": 3, "tee": 2, "snp": 5, "ucode": 97, "fmc": 1}
    assert t.claims["chip_id"].startswith("0910b4f884ff4ba9") and t.claims["chip_id"][16:] == "0" * 112
    vl = snp.check(
        by["coco_milan_v3_vlek"].report, by["coco_milan_v3_vlek"].cert, now=by["coco_milan_v3_vlek"].now
    )
    assert vl.claims["signer"] == "VLEK" and vl.claims["csp_id"] == "CN=cc-us-east-2.amazonaws.com"


def test_turin_platform_info_bit6_is_not_rejected() -> None:
    vec = next(v for v in SNP_VECTORS if v.name == "anolis_turin_v5")
    r = parse_report(vec.report)
    assert r.platform_info == 0x65 and r.platform_info & (1 << 6)
    assert snp.check(vec.report, vec.cert, now=vec.now, policy=SnpPolicy()).ok


@pytest.mark.parametrize("name", ["coco_milan_v3_vlek", "anolis_milan_v2_vlek_vmpl1"])
def test_expired_vlek_is_rejected_at_a_later_time(name: str) -> None:
    vec = next(v for v in SNP_VECTORS if v.name == name)
    v = snp.check(vec.report, vec.cert, now=datetime(2026, 11, 1, tzinfo=UTC))
    assert failed(v) == ["cert_validity"]
    assert "VLEK is valid" in v.failures()[0].detail


def test_certificate_not_yet_valid_is_rejected() -> None:
    vec = next(v for v in SNP_VECTORS if v.name == "anolis_turin_v5")  # VCEK valid from 2026-06-28
    assert failed(snp.check(vec.report, vec.cert, now=datetime(2026, 1, 1, tzinfo=UTC))) == ["cert_validity"]


@pytest.mark.parametrize(
    ("name", "wrong"),
    [("virtee_milan_v2", "Genoa"), ("anolis_turin_v5", "Milan"), ("coco_genoa_v3", "Turin")],
)
def test_wrong_product_line_is_rejected(name: str, wrong: str) -> None:
    vec = next(v for v in SNP_VECTORS if v.name == name)
    v = snp.check(vec.report, vec.cert, product=wrong, now=vec.now)
    assert not v.ok
    assert failed(v) in (["cert_chain"], ["product"])


def test_v3_report_with_another_products_chain_is_rejected() -> None:
    vec = next(v for v in SNP_VECTORS if v.name == "coco_genoa_v3")  # CPUID says Genoa
    milan_chain = (SNP / "roots" / "ask_ark_milan.pem").read_bytes()
    v = snp.check(vec.report, vec.cert, milan_chain, now=vec.now)
    assert not v.ok and failed(v) == ["cert_chain"]


def test_vcek_chain_with_vlek_report_is_rejected() -> None:
    vec = next(v for v in SNP_VECTORS if v.name == "coco_milan_v3_vlek")
    ask_chain = (SNP / "roots" / "ask_ark_milan.pem").read_bytes()  # ASK, not ASVK
    assert failed(snp.check(vec.report, vec.cert, ask_chain, now=vec.now)) == ["cert_chain"]


def test_swapped_ask_and_ark_fail_the_chain() -> None:
    vec = next(v for v in SNP_VECTORS if v.name == "virtee_milan_v2")
    ask, ark = x509.load_pem_x509_certificates(vec.chain)
    swapped = ark.public_bytes(Encoding.PEM) + ask.public_bytes(Encoding.PEM)
    v = snp.check(vec.report, vec.cert, swapped, now=vec.now)
    assert failed(v) == ["cert_chain"]


def test_wrong_vendor_root_is_rejected(sim) -> None:
    vec = next(v for v in SNP_VECTORS if v.name == "virtee_milan_v2")
    # the simulated chain, even when trusted, does not sign AMD's VCEK
    v = snp.check(vec.report, vec.cert, sim.chain_pem, now=vec.now, trusted_simulated_root=sim.root_pem)
    assert failed(v) == ["cert_chain"]
    # an Intel root in place of the ARK is not a pinned AMD root
    intel = roots.intel_sgx_root().public_bytes(Encoding.PEM)
    ask_pem = vec.chain.split(b"-----END CERTIFICATE-----")[0] + b"-----END CERTIFICATE-----\n"
    assert failed(snp.check(vec.report, vec.cert, ask_pem + intel, now=vec.now)) == ["cert_chain"]


def test_vcek_of_another_chip_is_rejected() -> None:
    by = {v.name: v for v in SNP_VECTORS}
    # coco_milan_v2 and virtee_milan_v2 share REPORTED_TCB but not the chip: signature fails
    v = snp.check(by["virtee_milan_v2"].report, by["coco_milan_v2"].cert, now=by["virtee_milan_v2"].now)
    assert failed(v) == ["report_signature"]


def test_der_path_works_with_warnings_as_errors() -> None:
    """V[CL]EKs have serial 0: cryptography warns (and may later refuse); our DER path must not care."""
    vec = next(v for v in SNP_VECTORS if v.name == "virtee_milan_v2")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(Exception):
            x509.load_der_x509_certificate(vec.cert)
        for vec in SNP_VECTORS:
            assert snp.check(vec.report, vec.cert, vec.chain, now=vec.now).ok
            assert kds.parse_endorsement_cert(vec.cert).serial == 0


def test_turin_vcek_only_vector_chains_to_turin_ask() -> None:
    ek = kds.parse_endorsement_cert((SNP / "virtee_turin_vcek_only" / "vcek.der").read_bytes())
    assert ek.hwid is not None and ek.hwid.hex() == "1e550a8ee5cf9f4d"
    assert ek.product_name == "Turin"
    verify.verify_endorsement_cert(ek, roots.amd_chain("Turin").ask)
    with pytest.raises(verify.ChainError):
        verify.verify_endorsement_cert(ek, roots.amd_chain("Milan").ask)


def test_pinned_arks_are_self_signed_and_sign_their_asks() -> None:
    for product in roots.AMD_PRODUCTS:
        for signer in ("vcek", "vlek"):
            chain = roots.amd_chain(product, signer)
            verify.verify_issued_by(chain.ark, chain.ark)
            verify.verify_issued_by(chain.ask, chain.ark)
    with pytest.raises(verify.ChainError):
        verify.verify_issued_by(roots.amd_chain("Milan").ask, roots.amd_chain("Genoa").ark)
