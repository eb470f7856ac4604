"""Policy files: round trips, generation from known-good evidence, and what they reject."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from attest_vectors import SNP_VECTORS

from attestation import policy as policy_mod
from attestation import snp
from attestation.cli import attest_main, verify_main
from attestation.evidence import collect
from attestation.providers.base import Evidence
from attestation.snp.validate import SnpPolicy

BY = {v.name: v for v in SNP_VECTORS}


def test_round_trip_toml_and_json(tmp_path) -> None:
    p = policy_mod.Policy(
        snp=SnpPolicy(measurements=["ab" * 48], min_tcb={"bl": 3, "snp": 8}, vmpl=0, product="Milan"),
        simulated=SnpPolicy(allow_smt=False),
        require_gpu=True,
    )
    for name in ("p.toml", "p.json"):
        policy_mod.dump(p, tmp_path / name)
        again = policy_mod.load(tmp_path / name)
        assert again.to_dict() == p.to_dict()
    assert '["sev-snp"]' in (tmp_path / "p.toml").read_text()


def test_tdx_and_gpu_sections_use_their_policies(tmp_path) -> None:
    d = {"tdx": {"allow_debug": False, "mr_td": ["00" * 48]}, "nvidia-gpu": {"require_nonce": True}}
    p = policy_mod.Policy.from_dict(d)
    assert p.tdx.mr_td == [bytes(48)] and p.gpu.require_nonce
    policy_mod.dump(p, tmp_path / "p.toml")
    assert policy_mod.load(tmp_path / "p.toml").to_dict() == p.to_dict()


def test_unknown_keys_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown policy sections"):
        policy_mod.Policy.from_dict({"sev_snp": {}})
    with pytest.raises(ValueError, match="unknown sev-snp policy keys"):
        policy_mod.Policy.from_dict({"sev-snp": {"measurement": []}})
    with pytest.raises(ValueError, match="min_tcb"):
        policy_mod.Policy.from_dict({"sev-snp": {"min_tcb": {"microcode": 1}}})


def test_generated_policy_accepts_its_report_and_rejects_others() -> None:
    vec = BY["virtee_milan_v2"]
    p = policy_mod.policy_from_evidence(Evidence("sev-snp", vec.report, {"vcek": vec.cert}))
    assert p.snp is not None and p.snp.measurements == [vec.measurement]
    assert p.snp.min_tcb == {"bl": 3, "tee": 0, "snp": 8, "ucode": 115}
    assert (p.snp.product, p.snp.vmpl, p.snp.allow_debug) == ("Milan", 0, False)
    assert snp.check(vec.report, vec.cert, now=vec.now, policy=p.snp).ok
    other = BY["coco_milan_v2"]  # same TCB, other measurement
    v = snp.check(other.report, other.cert, now=other.now, policy=p.snp)
    assert [c.name for c in v.failures()] == ["measurement"]
    assert "not in your allow-list" in v.failures()[0].detail


def test_min_tcb_vmpl_and_smt_are_enforced() -> None:
    vec = BY["coco_milan_v3_vlek"]  # VMPL 1, bl4 snp24 ucode217, SMT allowed
    pol = SnpPolicy(min_tcb={"snp": 25}, vmpl=0, allow_smt=False, product="Genoa", host_data="11" * 32)
    v = snp.check(vec.report, vec.cert, now=vec.now, policy=pol)
    assert {c.name for c in v.failures()} == {"tcb_minimum", "vmpl", "smt", "product_policy", "host_data"}
    ok = SnpPolicy(min_tcb={"bl": 4, "snp": 24, "ucode": 217}, vmpl=1, product="Milan")
    assert snp.check(vec.report, vec.cert, now=vec.now, policy=ok).ok


def test_cli_policy_from_raw_report_then_verify(tmp_path, capsys) -> None:
    vec = BY["virtee_milan_v2"]
    out = tmp_path / "policy.toml"
    rc = attest_main(
        [
            "policy",
            "--from",
            str(vec.dir / "report.bin"),
            "--cert",
            str(vec.dir / "vcek.der"),
            "--out",
            str(out),
        ]
    )
    assert rc == 0 and vec.measurement in out.read_text()
    args = [
        "--evidence",
        str(vec.dir / "report.bin"),
        "--cert",
        str(vec.dir / "vcek.der"),
        "--policy",
        str(out),
        "--now",
        "2025-06-01T00:00:00",
    ]
    assert verify_main(args) == 0
    assert "✓ TRUSTED" in capsys.readouterr().out
    other = BY["coco_milan_v2"]
    args[1], args[3] = str(other.dir / "report.bin"), str(other.dir / "vcek.der")
    assert verify_main(args) == 1
    text = capsys.readouterr().out
    assert f"✗ Measurement {other.measurement[:12]}… not in your allow-list" in text
    assert "✗ NOT TRUSTED: 1 of" in text


def test_cli_no_policy_checks_crypto_only(capsys) -> None:
    vec = BY["gosevguest_milan_v2"]  # DEBUG=1: fine without a policy, refused by the default one
    base = [
        "--evidence",
        str(vec.dir / "report.bin"),
        "--cert",
        str(vec.dir / "vcek.der"),
        "--now",
        "2025-06-01",
    ]
    assert verify_main([*base, "--no-policy"]) == 0
    assert verify_main(base) == 1
    assert "Debug ENABLED" in capsys.readouterr().out


def test_cli_policy_from_simulated_bundle(sim, tmp_path, capsys) -> None:
    bundle = collect(sim, None, b"spki-der", bytes(32), hpke_public_key=b"\x07" * 32)
    path = tmp_path / "evidence.json"
    path.write_text(json.dumps(bundle.to_json()))
    assert attest_main(["policy", "--from", str(path), "--out", str(tmp_path / "p.json")]) == 0
    p = policy_mod.load(tmp_path / "p.json")
    assert p.snp is None and p.simulated is not None and p.simulated.product == "Simulated"
    root = tmp_path / "root.pem"
    root.write_bytes(sim.root_pem)
    rc = verify_main(
        [
            "--evidence",
            str(path),
            "--policy",
            str(tmp_path / "p.json"),
            "--trust-simulated-root",
            str(root),
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["ok"] is True
    assert verify_main(["--evidence", str(path), "--policy", str(tmp_path / "p.json")]) == 1


def test_tdx_policy_generated_from_a_quote_round_trips_and_applies(tmp_path, capsys) -> None:
    quote = Path(__file__).resolve().parents[1] / "data/vectors/tdx/gotdxguest_v5_tdx15/quote.bin"
    out = tmp_path / "tdx.toml"
    assert attest_main(["policy", "--from", str(quote), "--kind", "tdx", "--out", str(out)]) == 0
    p = policy_mod.load(out)
    assert p.tdx is not None and p.tdx.mr_td[0].hex().startswith("7348651a34b2d2d3")
    p.tdx.require_collateral = False  # no Intel collateral offline
    policy_mod.dump(p, out)
    args = ["--evidence", str(quote), "--kind", "tdx", "--policy", str(out), "--now", "2026-02-03"]
    assert verify_main(args) == 0
    other = quote.parents[1] / "coco_v5_tdx15/quote.bin"
    args[1] = str(other)
    assert verify_main(args) == 1
    assert "✗" in capsys.readouterr().out
