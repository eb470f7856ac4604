"""The report_data layout (version 2) is exactly what docs/attestation.md says."""

from __future__ import annotations

import hashlib

import pytest

from attestation import binding

HPKE = bytes(range(100, 132))


def test_report_data_layout_known_answer() -> None:
    spki, nonce = b"\x30\x01\x02", bytes(range(32))
    expected = hashlib.sha512(
        b"teecube-attestation-v2\x00" + hashlib.sha256(spki).digest() + HPKE + nonce
    ).digest()
    assert binding.report_data(spki, nonce, HPKE) == expected and len(expected) == 64
    gpu = hashlib.sha256(b"teecube-gpu-nonce-v2\x00" + hashlib.sha256(spki).digest() + HPKE + nonce).digest()
    assert binding.gpu_nonce(spki, nonce, HPKE) == gpu


def test_binding_separates_keys_nonces_and_cpu_from_gpu() -> None:
    n = bytes(32)
    assert binding.report_data(b"a", n, HPKE) != binding.report_data(b"b", n, HPKE)
    assert binding.report_data(b"a", n, HPKE) != binding.report_data(b"a", b"\x01" * 32, HPKE)
    assert binding.report_data(b"a", n, HPKE) != binding.report_data(b"a", n, bytes(32))
    assert binding.report_data(b"a", n, HPKE)[:32] != binding.gpu_nonce(b"a", n, HPKE)


def test_version_1_layout_is_not_what_clients_expect() -> None:
    spki, nonce = b"k", bytes(32)
    v1 = hashlib.sha512(b"teecube-attestation-v1\x00" + hashlib.sha256(spki).digest() + nonce).digest()
    assert binding.report_data(spki, nonce, HPKE) != v1


@pytest.mark.parametrize("text", [None, "", "00" * 31, "00" * 33, "zz" * 32, 5])
def test_bad_nonces(text) -> None:
    with pytest.raises(binding.BadNonce):
        binding.parse_nonce(text)
    with pytest.raises(binding.BadNonce):
        binding.report_data(b"k", b"\x00" * 16, HPKE)


def test_hpke_key_size_is_checked() -> None:
    with pytest.raises(ValueError):
        binding.report_data(b"k", bytes(32), b"short")


def test_good_nonce() -> None:
    assert binding.parse_nonce("ab" * 32) == b"\xab" * 32


def test_a_server_on_the_old_layout_is_refused_by_the_client(sim) -> None:  # type: ignore[no-untyped-def]
    """Regression (#17): a v1 bundle is refused outright, and v1 report_data relabelled as v2 fails
    the binding the client computes (TLS key, HPKE key and nonce)."""
    from attestation import client
    from attestation.claims import ParseError
    from attestation.evidence import Bundle

    spki, nonce = b"\x30\x01\x02", bytes(range(32))
    v1 = hashlib.sha512(b"teecube-attestation-v1\x00" + hashlib.sha256(spki).digest() + nonce).digest()
    relabelled = Bundle(nonce, spki, sim.get_evidence(v1), gpu_reason="no GPU", hpke_public_key=HPKE)
    old = relabelled.to_json()
    old["format"] = "teecube-attestation/1"
    with pytest.raises(ParseError, match="layout v1"):
        Bundle.from_json(old)
    ap = client.appraise(Bundle.from_json(relabelled.to_json()), policy=client.default_policy(),
                         expected_nonce=nonce, served_spki=spki, trusted_simulated_root=sim.root_pem)
    assert not ap.ok
    assert "report_data" in [c.name for v in ap.verdicts for c in v.failures()]
    good = Bundle(nonce, spki, sim.get_evidence(binding.report_data(spki, nonce, HPKE)), gpu_reason="no GPU",
                  hpke_public_key=HPKE, releases=sim.release_manifests())
    assert client.appraise(good, policy=client.default_policy(), expected_nonce=nonce, served_spki=spki,
                           trusted_simulated_root=sim.root_pem).ok
