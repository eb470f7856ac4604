"""Property: whatever bytes or JSON a peer sends, parsers and verifiers raise only the package's
documented errors (`VerificationError` and subclasses), never `cryptography`'s, `KeyError`,
`RecursionError` and the like. Inputs are real vectors mutated by hypothesis, and arbitrary JSON."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attestation import safejson, verifier
from attestation.claims import VerificationError
from attestation.evidence import Bundle
from attestation.providers.base import Evidence
from attestation.snp.kds import parse_endorsement_cert
from attestation.tdx import TdxCollateral

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors"
SNP = VECTORS / "snp" / "virtee_milan_v2"
TDX_QUOTE = (VECTORS / "tdx" / "gotdxguest_v5_tdx15" / "quote.bin").read_bytes()
GPU = VECTORS / "nvgpu" / "coco_hopper"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30,
)


def _mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for pos, value in edits:
        out[pos % len(out)] = value
    return bytes(out)


edits = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=8)


OUTCOMES = ("accepted", "refused")


def _only_our_errors(fn, *args) -> str:  # type: ignore[no-untyped-def]
    """"accepted", or "refused" with a documented VerificationError; any other exception fails."""
    try:
        fn(*args)
    except VerificationError:
        return "refused"
    except Exception as exc:  # the point of the test: nothing but a VerificationError
        pytest.fail(f"{getattr(fn, '__qualname__', fn)} raised {type(exc).__name__}, not a VerificationError")
    return "accepted"


def _good_bundle() -> dict:
    return {
        "format": "teecube-attestation/2", "simulated": False, "nonce": "00" * 32,
        "tls": {"spki_der": base64.b64encode(b"k").decode(), "cert_pem": None},
        "cpu": {"kind": "tdx", "simulated": False, "report": base64.b64encode(TDX_QUOTE).decode(),
                "certs": {}},
        "gpu": None, "gpu_reason": "none",
        "hpke": {"kem_id": 32, "kdf_id": 1, "aead_id": 1, "public_key": base64.b64encode(bytes(32)).decode()},
    }


@SETTINGS
@given(json_values)
@pytest.mark.slow
def test_bundle_from_arbitrary_json(value):
    assert _only_our_errors(Bundle.from_json, value) in OUTCOMES
    assert _only_our_errors(Bundle.loads, json.dumps(value)) in OUTCOMES


@pytest.mark.slow
@SETTINGS
@given(st.sampled_from(["format", "nonce", "tls", "cpu", "gpu", "gpu_reason", "collateral", "gpu_cc_mode",
                        "hpke", "simulated"]), json_values)
def test_bundle_with_one_field_replaced(key, value):
    d = _good_bundle()
    d[key] = value
    assert _only_our_errors(Bundle.from_json, d) in OUTCOMES


@SETTINGS
@given(st.binary(max_size=2000))
def test_bundle_from_arbitrary_bytes(data):
    assert _only_our_errors(Bundle.loads, data) in OUTCOMES
    assert _only_our_errors(safejson.loads, data) in OUTCOMES


@SETTINGS
@given(st.integers(1, 3000), st.sampled_from(["[", "{\"a\":", "[{\"b\":"]))
def test_deep_json_never_recurses(depth, opener):
    assert _only_our_errors(Bundle.loads, opener * depth) == "refused"  # never closed


@SETTINGS
@given(edits)
def test_mutated_vcek_der(e):
    assert _only_our_errors(parse_endorsement_cert, _mutate((SNP / "vcek.der").read_bytes(), e)) in OUTCOMES


@SETTINGS
@given(edits, st.sampled_from(sorted(verifier.VERIFIERS)))
@pytest.mark.slow
def test_mutated_evidence_through_the_table(e, kind):
    if kind == "tdx":
        ev = Evidence(kind=kind, report=_mutate(TDX_QUOTE, e))
    elif kind == "nvidia-gpu":
        ev = Evidence(kind=kind, report=_mutate((GPU / "report.bin").read_bytes(), e),
                      certs={"chain": (GPU / "cert_chain.pem").read_bytes()})
    else:
        ev = Evidence(kind=kind, report=_mutate((SNP / "report.bin").read_bytes(), e),
                      certs={"vcek": _mutate((SNP / "vcek.der").read_bytes(), e[:1])})
    ver = verifier.VERIFIERS[kind]
    assert _only_our_errors(ver.check, ev, ver.careful(), verifier.Options()) in OUTCOMES
    verifier.verify(ev, ver.careful(), verifier.Options())  # never raises


@SETTINGS
@given(edits)
def test_mutated_gpu_chain_pem(e):
    chain = _mutate((GPU / "cert_chain.pem").read_bytes(), e)
    ev = Evidence(kind="nvidia-gpu", report=(GPU / "report.bin").read_bytes(), certs={"chain": chain})
    assert _only_our_errors(verifier.VERIFIERS["nvidia-gpu"].check, ev, None, verifier.Options()) in OUTCOMES


@SETTINGS
@given(st.sampled_from(sorted((VECTORS / "tdx" / "collateral").iterdir())), edits)
def test_mutated_collateral_files(path, e):
    assert _only_our_errors(TdxCollateral().add_bytes, _mutate(path.read_bytes(), e), path.name) in OUTCOMES


def test_a_certificate_with_a_malformed_subject_is_refused_as_collateral():
    """Found by the test above: one byte changed in a subject's DER parses as a certificate, and the
    subject (read lazily by `cryptography`) raised ValueError when the collateral was sorted."""
    path = VECTORS / "tdx" / "collateral" / "pck_platform_ca_chain.pem"
    mutated = _mutate(path.read_bytes(), [(345, 89)])
    assert _only_our_errors(TdxCollateral().add_bytes, mutated, path.name) in OUTCOMES


@SETTINGS
@given(json_values)
@pytest.mark.slow
def test_collateral_json_of_any_shape(value):
    tcb_info = json.dumps({"tcbInfo": value, "signature": "00"}).encode()
    identity = json.dumps({"enclaveIdentity": value}).encode()
    assert _only_our_errors(TdxCollateral().add_bytes, tcb_info) in OUTCOMES
    assert _only_our_errors(TdxCollateral().add_bytes, identity) in OUTCOMES


def test_a_check_that_meets_a_malformed_certificate_refuses(monkeypatch):
    """What `cryptography` raises when it reads a malformed certificate lazily (ValueError, deep inside a
    check) is a ParseError out of `check` and a refused verdict out of `verify`, never an escape."""
    from attestation import verifier as v
    from attestation.claims import ParseError
    from attestation.providers.base import Evidence

    def reads_a_bad_subject(ev, policy, options):
        raise ValueError("error parsing asn1 value: ParseError { kind: InvalidValue, location: ['subject'] }")

    checked = v._parsing_only(reads_a_bad_subject)
    ev = Evidence(kind="tdx", report=b"\0" * 16)
    with pytest.raises(ParseError, match="malformed evidence"):
        checked(ev, None, v.Options())
    monkeypatch.setitem(v.VERIFIERS, "tdx", dataclasses.replace(v.VERIFIERS["tdx"], check=checked))
    verdict = v.verify(ev, None, v.Options())
    assert not verdict.ok and any(c.name == "ParseError" for c in verdict.checks)
