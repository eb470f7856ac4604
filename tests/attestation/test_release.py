"""Signed release manifests: the default policy accepts only measurements a trusted key published.

Real vectors: an SEV-SNP report (virtee Milan) and the GCE TDX quote, whose RTMRs the release
tool derives by replaying the recorded CCEL event log. The tool itself runs as a subprocess on a
synthetic OVMF and must agree with the `sev-snp-measure` CLI byte for byte.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from attest_vectors import SNP_VECTORS
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from ovmf_synth import write as write_ovmf

from attestation import binding, client, release, snp, tdx
from attestation.evidence import Bundle
from attestation.tdx.validate import TdxPolicy

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "deploy" / "cvm" / "release_manifest.py"
GCE = ROOT / "tests" / "data" / "vectors" / "tdx" / "gotdxguest_v4_gce_ccel"
KEY = ed25519.Ed25519PrivateKey.generate()
HPKE = b"\x07" * 32


def _vec(name):
    return next(v for v in SNP_VECTORS if v.name == name)


def _snp_verdict(name):
    v = _vec(name)
    return snp.check(v.report, v.cert, v.chain, now=v.now, policy=snp.SnpPolicy())


def test_sign_and_verify_round_trip_and_refusals():
    m = release.new_manifest("1.2.3", [{"platform": "sev-snp", "measurement": "ab" * 48}])
    env = release.sign(m, KEY)
    rel = release.verify(env, [KEY.public_key()])
    assert rel.version == "1.2.3" and rel.key_id == release.key_id(KEY.public_key())
    with pytest.raises(release.ReleaseError, match="not signed by a trusted"):
        release.verify(env, [ed25519.Ed25519PrivateKey.generate().public_key()])
    payload = json.loads(base64.b64decode(env["payload"]))
    payload["measurements"][0]["measurement"] = "cd" * 48
    forged = {**env, "payload": base64.b64encode(json.dumps(payload).encode()).decode()}
    with pytest.raises(release.ReleaseError):
        release.verify(forged, [KEY.public_key()])
    for bad in (None, [], {"format": "x"}, {**env, "payload": "%%"}, {**env, "signatures": "no"}):
        with pytest.raises(release.ReleaseError):
            release.verify(bad, [KEY.public_key()])
    with pytest.raises(release.ReleaseError):
        release.new_manifest("1", [{"platform": "sev-snp", "measurement": "zz"}])


def test_snp_measurement_matches_only_when_listed_and_signed():
    milan = _snp_verdict("virtee_milan_v2")
    assert milan.ok
    listed = release.sign(release.new_manifest("0.9.0", [
        {"platform": "sev-snp", "vcpu_type": "EPYC-v4", "vcpus": 4,
         "measurement": milan.claims["measurement"]},
    ]), KEY)
    ok = release.match([listed], [KEY.public_key()], milan)
    assert ok.ok and ok.claims["release"] == "0.9.0" and "EPYC-v4" in ok.checks[0].detail
    turin = _snp_verdict("anolis_turin_v5")
    assert not release.match([listed], [KEY.public_key()], turin).ok
    assert not release.match([listed], [], milan).ok  # no trusted key
    assert not release.match([], [KEY.public_key()], milan).ok  # no manifest
    other_key = ed25519.Ed25519PrivateKey.generate()
    assert not release.match([release.sign(json.loads(base64.b64decode(listed["payload"])), other_key)],
                             [KEY.public_key()], milan).ok


def test_platform_must_match_too():
    milan = _snp_verdict("virtee_milan_v2")
    as_simulated = release.sign(release.new_manifest("x", [
        {"platform": "simulated", "measurement": milan.claims["measurement"]}]), KEY)
    assert not release.match([as_simulated], [KEY.public_key()], milan).ok


def test_tdx_entry_from_the_replayed_event_log_matches_the_real_quote():
    sys.path.insert(0, str(TOOL.parent))
    try:
        import release_manifest
    finally:
        sys.path.remove(str(TOOL.parent))
    quote = (GCE / "quote_padded.bin").read_bytes()
    v = tdx.check(quote, policy=TdxPolicy(require_collateral=False), now=datetime(2025, 1, 1, tzinfo=UTC))
    entry = release_manifest.tdx_entry(v.claims["mr_td"], str(GCE / "ccel_data.bin"))
    env = release.sign(release.new_manifest("0.9.0", [entry]), KEY)
    assert release.match([env], [KEY.public_key()], v).ok
    wrong = dict(entry, mr_td="00" * 48)
    assert not release.match([release.sign(release.new_manifest("0.9.0", [wrong]), KEY)],
                             [KEY.public_key()], v).ok


@pytest.mark.slow
def test_release_tool_agrees_with_the_sev_snp_measure_cli(tmp_path):
    ovmf = write_ovmf(tmp_path / "OVMF.fd")
    (tmp_path / "vmlinuz").write_bytes(b"kernel bytes")
    (tmp_path / "initrd").write_bytes(b"initrd bytes")
    (tmp_path / "cmdline").write_text("console=ttyS0 teecube.release=0.9.0\n")
    run = [sys.executable, str(TOOL)]
    subprocess.run([*run, "keygen", "--out", str(tmp_path / "rk")], check=True, capture_output=True)
    out = tmp_path / "release.json"
    subprocess.run([*run, "build", "--version", "0.9.0", "--ovmf", str(ovmf),
                    "--kernel", str(tmp_path / "vmlinuz"),
                    "--initrd", str(tmp_path / "initrd"), "--cmdline", str(tmp_path / "cmdline"),
                    "--vcpus", "1", "--vcpus", "4", "--vcpu-type", "EPYC-v4", "--vcpu-type", "EPYC-Genoa",
                    "--source-commit", "abc123", "--sign-key", str(tmp_path / "rk.pem"), "--out", str(out)],
                   check=True, capture_output=True)
    keys = release.load_public_keys((tmp_path / "rk.pub.pem").read_bytes())
    rel = release.verify(json.loads(out.read_text()), keys)
    entries = rel.manifest["measurements"]
    assert [(e["vcpu_type"], e["vcpus"]) for e in entries] == [
        ("EPYC-v4", 1), ("EPYC-v4", 4), ("EPYC-Genoa", 1), ("EPYC-Genoa", 4)]
    assert len({e["measurement"] for e in entries}) == 4  # vCPU type and count both matter
    cli = Path(sys.executable).with_name("sev-snp-measure")
    for e in entries:
        expected = subprocess.run(
            [str(cli), "--mode", "snp", "--vcpus", str(e["vcpus"]), "--vcpu-type", e["vcpu_type"], "--ovmf",
             str(ovmf), "--kernel", str(tmp_path / "vmlinuz"), "--initrd", str(tmp_path / "initrd"),
             "--append", "console=ttyS0 teecube.release=0.9.0", "--output-format", "hex"],
            check=True, capture_output=True, text=True).stdout.strip()
        assert e["measurement"] == expected
    assert rel.manifest["images"]["kernel"].startswith("sha256:")
    assert rel.manifest["source"]["commit"] == "abc123"


def test_default_policy_needs_a_signed_release(sim):
    nonce, spki = bytes(32), b"spki"
    cpu = sim.get_evidence(binding.report_data(spki, nonce, HPKE))
    with_release = Bundle(nonce, spki, cpu, gpu_reason="no GPU", hpke_public_key=HPKE,
                          releases=sim.release_manifests())
    ap = client.appraise(with_release, policy=client.default_policy(), trusted_simulated_root=sim.root_pem)
    assert ap.ok, ap.to_dict()
    rel = next(v for v in ap.verdicts if v.kind == "release")
    assert rel.claims["release"] == "demo (simulated)"
    bare = Bundle(nonce, spki, cpu, gpu_reason="no GPU", hpke_public_key=HPKE)
    ap = client.appraise(bare, policy=client.default_policy(), trusted_simulated_root=sim.root_pem)
    assert [c.name for v in ap.verdicts for c in v.failures()] == ["release"]
    # the demo key vouches for simulated evidence only, and only when you trust the demo root
    ark_only = sim.ark.public_bytes(serialization.Encoding.PEM)
    ap = client.appraise(with_release, policy=client.default_policy(), trusted_simulated_root=ark_only)
    assert "release" in [c.name for v in ap.verdicts for c in v.failures()]
    # a generated policy pins the measurement itself and does not ask for a release
    from attestation.policy import policy_from_evidence

    assert client.appraise(bare, policy=policy_from_evidence(cpu), trusted_simulated_root=sim.root_pem).ok


def test_bundle_releases_are_bounded(sim):
    d = Bundle(bytes(32), b"k", sim.get_evidence(binding.report_data(b"k", bytes(32), HPKE)),
               hpke_public_key=HPKE).to_json()
    from attestation.claims import ParseError

    for bad in ("x", [1], [{}] * 17):
        d["releases"] = bad
        with pytest.raises(ParseError):
            Bundle.from_json(d)


def test_the_pinned_key_is_the_labelled_development_key():
    # attestation/roots/release/README.md: only the development key is pinned until a production release
    (dev,) = release.pinned_keys()
    kid = release.key_id(dev)
    assert release.pinned_labels() == {kid: "teecube-development"}
    assert kid in (release.PINNED_DIR / "teecube-development.pem").read_text()  # the label names its id
    assert not list(release.PINNED_DIR.glob("*private*")) and b"PRIVATE" not in b"".join(
        f.read_bytes() for f in release.PINNED_DIR.iterdir())


def test_a_manifest_signed_by_the_pinned_key_is_matched_by_default_and_named(monkeypatch, tmp_path):
    """The default client policy trusts exactly the pinned keys; a match names the release and says
    when the key is a development key. (The test signs with its own key, pinned in a temporary
    directory: the development key's private half is not in the repository.)"""
    milan = _snp_verdict("virtee_milan_v2")
    env = release.sign(release.new_manifest("0.9.0-dev", [
        {"platform": "sev-snp", "measurement": milan.claims["measurement"]}]), KEY)
    assert "No trusted release key" not in release.match([env], release.pinned_keys(), milan).checks[0].detail
    assert not release.match([env], release.pinned_keys(), milan).ok  # not signed by the pinned key
    (tmp_path / "teecube-development.pem").write_bytes(release.public_pem(KEY))
    monkeypatch.setattr(release, "PINNED_DIR", tmp_path)
    v = release.match([env], release.pinned_keys(), milan)
    assert v.ok and v.claims["release"] == "0.9.0-dev"
    assert v.claims["release_key"] == f"{release.key_id(KEY.public_key())} (teecube-development)"
    assert "DEVELOPMENT key" in v.checks[0].detail
    (tmp_path / "teecube-development.pem").rename(tmp_path / "teecube-2027.pem")
    v = release.match([env], release.pinned_keys(), milan)
    assert v.ok and "DEVELOPMENT" not in v.checks[0].detail
    assert v.claims["release_key"].endswith("(teecube-2027)")
