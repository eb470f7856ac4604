"""Sigstore bundles on release manifests, verified offline (attestation.sigstore_bundle).

The positive vector is real: a bundle sigstore-python's own tests use, signed on Sigstore's
staging instance (tests/data/vectors/README.md, "sigstore/"). Every refusal below starts from it
and changes one thing. Tests that need sigstore-python skip without it (`teecube[sigstore]`);
the behaviour without it (unchecked note, or refusal when transparency is required) runs always.
"""

from __future__ import annotations

import base64
import copy
import json
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from attestation import release, sigstore_bundle
from attestation.claims import Verdict
from attestation.sigstore_bundle import SigstoreError, SigstoreIdentity, SigstoreUnavailable

VEC = Path(__file__).resolve().parents[1] / "data" / "vectors" / "sigstore"
ARTIFACT = (VEC / "bundle_v3.txt").read_bytes()
BUNDLE = json.loads((VEC / "bundle_v3.txt.sigstore").read_text())
STAGING = VEC / "staging_trusted_root.json"
def _who(identity: str = "william@yossarian.net", issuer: str = "https://github.com/login/oauth",
         root: Path | None = None, regex: str | None = None) -> SigstoreIdentity:
    return SigstoreIdentity(issuer=issuer, identity=None if regex else identity, identity_regex=regex,
                            trusted_root=root or STAGING)


WHO = SigstoreIdentity(issuer="https://github.com/login/oauth", identity="william@yossarian.net",
                       trusted_root=STAGING)
KEY = ed25519.Ed25519PrivateKey.generate()
needs_sigstore = pytest.mark.skipif(not sigstore_bundle.available(), reason="sigstore-python not installed")


def _cpu(measurement: str) -> Verdict:
    v = Verdict("sev-snp")
    v.claims["measurement"] = measurement
    v.add("signature", True, "test verdict")
    return v


def _envelope(bundles):
    manifest = release.new_manifest("0.9.0", [{"platform": "sev-snp", "measurement": "ab" * 48}])
    env = release.sign(manifest, KEY)
    if bundles is not None:
        env["sigstore"] = bundles
    return env


@needs_sigstore
def test_real_bundle_verifies_offline_for_its_identity(monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("verification tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    got = sigstore_bundle.verify_bundle(BUNDLE, ARTIFACT, WHO)
    assert got["log_index"] == 25915956 and got["integrated_time"] == 1712085549
    regex = SigstoreIdentity(issuer=WHO.issuer, identity_regex=r"william@yossarian\.[a-z]+",
                             trusted_root=STAGING)
    assert sigstore_bundle.verify_bundle(BUNDLE, ARTIFACT, regex)["log_index"] == 25915956


def _tamper(path, value):
    b = copy.deepcopy(BUNDLE)
    node = b
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return b


PROOF = ("verificationMaterial", "tlogEntries", 0, "inclusionProof")


@needs_sigstore
@pytest.mark.parametrize("bundle, artifact, who", [
    (BUNDLE, ARTIFACT + b"x", WHO),  # another artifact (another manifest)
    (BUNDLE, ARTIFACT, _who(identity="someone@else.example")),
    (BUNDLE, ARTIFACT, _who(issuer="https://token.actions.githubusercontent.com")),
    (BUNDLE, ARTIFACT, _who(regex="william")),
    (BUNDLE, ARTIFACT, _who(root=sigstore_bundle.TRUSTED_ROOT)),  # the production root
    (_tamper((*PROOF, "hashes", 3), base64.b64encode(b"\1" * 32).decode()), ARTIFACT, WHO),  # audit path
    (_tamper((*PROOF, "rootHash"), base64.b64encode(b"\1" * 32).decode()), ARTIFACT, WHO),
    (_tamper((*PROOF, "logIndex"), "25901136"), ARTIFACT, WHO),
    (_tamper(("verificationMaterial", "tlogEntries", 0, "integratedTime"), "1712085550"), ARTIFACT, WHO),
    (_tamper(("messageSignature", "signature"), BUNDLE["verificationMaterial"]["tlogEntries"][0][
        "inclusionPromise"]["signedEntryTimestamp"]), ARTIFACT, WHO),
    (_tamper(("mediaType",), "application/vnd.dev.sigstore.bundle.v9+json"), ARTIFACT, WHO),
    (_tamper(("verificationMaterial",), {"certificate": {"rawBytes": "AAAA"}}), ARTIFACT, WHO),
    ([BUNDLE], ARTIFACT, WHO),
], ids=["artifact", "identity", "issuer", "regex-not-full", "production-root", "audit-path", "root-hash",
        "log-index", "set", "signature", "media-type", "certificate", "not-an-object"])
def test_every_change_to_the_real_bundle_is_refused_as_a_sigstore_error(bundle, artifact, who):
    with pytest.raises(SigstoreError):
        sigstore_bundle.verify_bundle(bundle, artifact, who)


@needs_sigstore
def test_release_transparency_uses_the_bundle_over_the_payload_bytes():
    t, note = release._transparency([BUNDLE], ARTIFACT, WHO, True)
    assert t is not None and t["log_index"] == 25915956 and note == ""
    with pytest.raises(release.ReleaseError, match="does not verify"):
        release._transparency([BUNDLE], ARTIFACT + b"\n", WHO, False)


@needs_sigstore
def test_a_manifest_whose_bundle_signs_something_else_is_refused():
    """The real bundle covers another artifact: attached to a genuine signed manifest, the
    release check must refuse even though the pinned-key signature is good."""
    v = release.match([_envelope([BUNDLE])], [KEY.public_key()], _cpu("ab" * 48), sigstore_identity=WHO)
    assert not v.ok and "Sigstore bundle does not verify" in v.checks[0].detail
    assert release.match([_envelope(None)], [KEY.public_key()], _cpu("ab" * 48), sigstore_identity=WHO).ok


def test_without_sigstore_python_a_bundle_is_noted_or_refused_when_required(monkeypatch):
    monkeypatch.setitem(sys.modules, "sigstore", None)  # as if `teecube[sigstore]` were not installed
    monkeypatch.setitem(sys.modules, "sigstore.models", None)
    with pytest.raises(SigstoreUnavailable, match=r"teecube\[sigstore\]"):
        sigstore_bundle.verify_bundle(BUNDLE, ARTIFACT, WHO)
    v = release.match([_envelope([BUNDLE])], [KEY.public_key()], _cpu("ab" * 48), sigstore_identity=WHO)
    assert v.ok and "not checked" in v.claims["release_note"]
    v = release.match([_envelope([BUNDLE])], [KEY.public_key()], _cpu("ab" * 48), sigstore_identity=WHO,
                      require_transparency=True)
    assert not v.ok and "sigstore-python is not installed" in v.checks[0].detail


def test_transparency_required_refuses_a_manifest_without_a_bundle():
    v = release.match([_envelope(None)], [KEY.public_key()], _cpu("ab" * 48), require_transparency=True)
    assert not v.ok and "no Sigstore bundle" in v.checks[0].detail
    for bad in ("x", [BUNDLE] * 5):
        v = release.match([_envelope(bad)], [KEY.public_key()], _cpu("ab" * 48))
        assert not v.ok and "at most" in v.checks[0].detail


def test_pinned_release_identity_is_the_release_workflow_of_the_repository():
    who = sigstore_bundle.pinned_identity()
    assert who is not None and who.issuer == "https://token.actions.githubusercontent.com"
    import re

    ok = "https://github.com/teecube/teecube/.github/workflows/release.yml@refs/tags/v0.4.0"
    assert re.fullmatch(str(who.identity_regex), ok)
    for bad in ("https://github.com/evil/teecube/.github/workflows/release.yml@refs/tags/v0.4.0",
                "https://github.com/teecube/teecube/.github/workflows/release.yml@refs/heads/main",
                "https://github.com/teecube/teecube/.github/workflows/other.yml@refs/tags/v1"):
        assert not re.fullmatch(str(who.identity_regex), bad)
    assert who.trusted_root.resolve() == sigstore_bundle.TRUSTED_ROOT
    with pytest.raises(ValueError):
        SigstoreIdentity(issuer="x")


def test_release_tool_extracts_the_payload_and_attaches_a_bundle(tmp_path):
    import subprocess

    tool = [sys.executable, str(Path(__file__).resolve().parents[2] / "deploy/cvm/release_manifest.py")]
    env_path = tmp_path / "release.json"
    original = _envelope(None)
    env_path.write_text(json.dumps(original))
    subprocess.run([*tool, "payload", "--envelope", str(env_path), "--out", str(tmp_path / "m.json")],
                   check=True, capture_output=True)
    assert (tmp_path / "m.json").read_bytes() == base64.b64decode(original["payload"])
    (tmp_path / "b.json").write_text(json.dumps(BUNDLE))
    subprocess.run([*tool, "attach", "--envelope", str(env_path), "--bundle", str(tmp_path / "b.json")],
                   check=True, capture_output=True)
    env = json.loads(env_path.read_text())
    assert env["sigstore"] == [BUNDLE]
    assert release.verify(env, [KEY.public_key()]).manifest["version"] == "0.9.0"  # no identity: not checked
    bad = subprocess.run([*tool, "attach", "--envelope", str(env_path), "--bundle", str(env_path)],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "not a Sigstore bundle" in bad.stderr


def test_cli_require_transparency_refuses_a_manifest_without_a_bundle(sim, tmp_path, capsys):
    from attestation import binding
    from attestation.cli import verify_main
    from attestation.evidence import Bundle

    hpke = b"\x07" * 32
    bundle = Bundle(bytes(32), b"spki", sim.get_evidence(binding.report_data(b"spki", bytes(32), hpke)),
                    gpu_reason="no GPU", hpke_public_key=hpke, releases=sim.release_manifests())
    path, root = tmp_path / "evidence.json", tmp_path / "root.pem"
    path.write_text(json.dumps(bundle.to_json()))
    root.write_bytes(sim.root_pem)
    args = ["--evidence", str(path), "--trust-simulated-root", str(root)]
    assert verify_main(args) == 0
    assert "matched release: demo (simulated)" in capsys.readouterr().out
    assert verify_main([*args, "--require-transparency"]) == 1
    assert "no Sigstore bundle" in capsys.readouterr().out
