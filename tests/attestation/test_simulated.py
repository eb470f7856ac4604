"""The simulated provider runs the same verification path, and is refused unless its root is trusted."""

from __future__ import annotations

from attestation import snp
from attestation.evidence import Bundle, collect
from attestation.providers.simulated import SimulatedSnp
from attestation.snp.abi import REPORT_SIZE, parse_report
from attestation.snp.validate import SnpPolicy

HPKE = b"\x07" * 32


def test_report_format_is_real_snp(sim) -> None:
    report = sim.make_report(b"\x11" * 64)
    assert len(report) == REPORT_SIZE
    r = parse_report(report)
    assert r.version == 3 and r.report_data == b"\x11" * 64 and r.signature_algo == 1
    assert r.chip_id == sim.chip_id and not r.policy.debug


def test_verifies_end_to_end_with_the_root_trusted(sim) -> None:
    ev = sim.get_evidence(b"\x22" * 64)
    v = snp.check(
        ev.report,
        ev.certs["vcek"],
        ev.certs["chain"],
        policy=SnpPolicy(),
        trusted_simulated_root=sim.root_pem,
    )
    assert v.ok, v.failures()
    assert v.kind == "simulated" and v.claims["product"] == "Simulated"
    names = [c.name for c in v.checks]
    assert {"cert_chain", "report_signature", "tcb_matches_cert", "chip_id_matches_cert"} <= set(names)
    assert "SIMULATED" in next(c.detail for c in v.checks if c.name == "cert_chain")


def test_refused_without_the_root_and_by_amd_roots(sim) -> None:
    ev = sim.get_evidence(b"\x22" * 64)
    assert not snp.check(ev.report, ev.certs["vcek"], ev.certs["chain"]).ok
    for product in (None, "Milan", "Genoa", "Turin"):
        assert not snp.check(ev.report, ev.certs["vcek"], product=product).ok
    v = snp.check(ev.report, ev.certs["vcek"], ev.certs["chain"], product="Simulated")
    assert [c.name for c in v.failures()] == ["cert_chain"]


def test_another_simulated_root_is_not_trusted(sim, tmp_path) -> None:
    other = SimulatedSnp(tmp_path)
    ev = sim.get_evidence(bytes(64))
    v = snp.check(ev.report, ev.certs["vcek"], ev.certs["chain"], trusted_simulated_root=other.root_pem)
    assert not v.ok


def test_version_5_and_debug_policy(tmp_path) -> None:
    s = SimulatedSnp(tmp_path, version=5, policy=0x30000 | (1 << 19))
    ev = s.get_evidence(bytes(64))
    assert parse_report(ev.report).version == 5
    v = snp.check(
        ev.report, ev.certs["vcek"], ev.certs["chain"], policy=SnpPolicy(), trusted_simulated_root=s.root_pem
    )
    assert [c.name for c in v.failures()] == ["debug_disabled"]


def test_state_is_cached_and_root_written(sim) -> None:
    again = SimulatedSnp(sim.state_dir)
    assert again.root_pem == sim.root_pem == sim.root_path.read_bytes()
    assert again.vcek_der == sim.vcek_der
    assert (sim.state_dir / "simulated-ark.key").stat().st_mode & 0o077 == 0


def test_everything_served_says_simulated(sim) -> None:
    bundle = collect(sim, None, b"spki", bytes(32), hpke_public_key=b"\x07" * 32)
    d = bundle.to_json()
    assert d["simulated"] is True and d["cpu"]["kind"] == "simulated" and d["cpu"]["simulated"] is True
    assert d["gpu"] is None and d["gpu_reason"]
    assert Bundle.from_json(d).simulated


def test_gpu_evidence_is_checked_with_the_derived_nonce(sim) -> None:
    """A real GPU report answers another nonce: the bundle's GPU verdict must fail on it."""
    from datetime import UTC, datetime
    from pathlib import Path

    from attestation import binding, client
    from attestation.nvgpu.validate import GpuPolicy
    from attestation.policy import Policy
    from attestation.providers.base import Evidence

    hopper = Path(__file__).resolve().parents[1] / "data/vectors/nvgpu/coco_hopper"
    gpu = Evidence(
        "nvidia-gpu",
        (hopper / "report.bin").read_bytes(),
        {"chain": (hopper / "cert_chain.pem").read_bytes()},
    )
    spki, nonce = b"spki", bytes(32)
    bundle = Bundle(nonce, spki, sim.get_evidence(binding.report_data(spki, nonce, HPKE)), gpu=gpu,
                    hpke_public_key=HPKE)
    pol = Policy(simulated=SnpPolicy(), gpu=GpuPolicy(require_measurement_appraisal=False))
    now = datetime.now(UTC)  # the GPU chain is valid until 9999, the simulated one from yesterday
    ap = client.appraise(
        Bundle.from_json(bundle.to_json()), policy=pol, trusted_simulated_root=sim.root_pem, now=now
    )
    by_kind = {v.kind: v for v in ap.verdicts}
    assert by_kind["simulated"].ok
    assert [c.name for c in by_kind["nvidia-gpu"].failures()] == ["nonce"]
    assert not ap.ok
    # no GPU evidence at all: fine unless the policy requires a GPU
    no_gpu = Bundle(nonce, spki, bundle.cpu, gpu_reason="no GPU", hpke_public_key=HPKE)
    assert client.appraise(no_gpu, policy=pol, trusted_simulated_root=sim.root_pem).ok
    pol.require_gpu = True
    assert not client.appraise(no_gpu, policy=pol, trusted_simulated_root=sim.root_pem).ok
