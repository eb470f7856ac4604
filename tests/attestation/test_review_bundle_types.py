"""Review: a bundle's nested fields of the wrong JSON type are a ParseError, never an
AttributeError/TypeError escaping `Bundle.from_json` or `client.appraise` (the client's `fetch`
turns only ParseError into FetchError, so anything else reached `connect`'s caller raw)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attestation import client
from attestation.claims import ParseError, VerificationError
from attestation.evidence import Bundle

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors"
SNP = VECTORS / "snp" / "virtee_milan_v2"
GPU = VECTORS / "nvgpu" / "coco_hopper"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _bundle() -> dict:
    return {
        "format": "teecube-attestation/2", "simulated": False, "nonce": "00" * 32,
        "tls": {"spki_der": _b64(b"k"), "cert_pem": None},
        "cpu": {"kind": "sev-snp", "simulated": False, "report": _b64((SNP / "report.bin").read_bytes()),
                "certs": {"vcek": _b64((SNP / "vcek.der").read_bytes())}, "product": None},
        "gpu": {"kind": "nvidia-gpu", "simulated": False, "report": _b64((GPU / "report.bin").read_bytes()),
                "certs": {"chain": _b64((GPU / "cert_chain.pem").read_bytes())}},
        "gpu_reason": None,
        "hpke": {"kem_id": 32, "kdf_id": 1, "aead_id": 1, "public_key": _b64(bytes(32))},
    }


WRONG = [5, 1.5, True, [1], ["Milan"], {"a": 1}, "abc"]


@pytest.mark.parametrize("path", [("cpu", "certs"), ("cpu", "product"), ("cpu", "nonce"),
                                  ("gpu", "certs"), ("gpu", "product"), ("gpu", "nonce"),
                                  ("cpu", "certs", "vcek"), ("tls", "cert_pem"), ("tls",)])
@pytest.mark.parametrize("value", WRONG, ids=repr)
def test_wrong_type_is_a_parse_error_or_a_failed_appraisal(path, value) -> None:
    d = _bundle()
    node = d
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    try:
        bundle = Bundle.from_json(d)
    except ParseError:
        return
    # accepted by the parser (e.g. a string where a string belongs): the appraisal must not crash
    try:
        ap = client.appraise(bundle, policy=client.default_policy())
    except VerificationError:
        return
    assert not ap.ok


@pytest.mark.parametrize("product", [5, ["Milan"], {"name": "Milan"}])
def test_non_string_product_is_refused_by_the_parser(product) -> None:
    d = _bundle()
    d["cpu"]["product"] = product
    with pytest.raises(ParseError, match="product"):
        Bundle.from_json(d)


@pytest.mark.parametrize("certs", [[1], "vcek", 7])
def test_certs_that_are_not_an_object_are_refused_by_the_parser(certs) -> None:
    d = _bundle()
    d["cpu"]["certs"] = certs
    with pytest.raises(ParseError, match="certs"):
        Bundle.from_json(d)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["cpu", "gpu", "tls"]),
       st.sampled_from(["kind", "simulated", "report", "certs", "product", "source", "nonce",
                        "spki_der", "cert_pem"]),
       json_values)
def test_any_nested_value_raises_only_parse_errors(section, key, value) -> None:
    d = _bundle()
    d[section][key] = value
    try:
        Bundle.from_json(d)
    except ParseError:
        pass
