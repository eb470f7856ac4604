"""`teecube verify --evidence quote.bin --kind tdx --collateral DIR` and TDX bundles that carry
Intel collateral, on the real quotes and PCS collateral in tests/data/vectors/tdx (see README)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from demo_process import teecube_cmd

from attestation import binding
from attestation import policy as policy_mod
from attestation.claims import ParseError
from attestation.cli import attest_main, verify_main
from attestation.evidence import Bundle, CollateralFile, collect, load_collateral_files
from attestation.providers.base import Evidence
from attestation.providers.simulated import SimulatedSnp

TDX = Path(__file__).resolve().parents[1] / "data/vectors/tdx"
V5 = TDX / "gotdxguest_v5_tdx15/quote.bin"
DEBUG = TDX / "coco_v4_debug_td/quote.bin"
COLL = TDX / "collateral"
V5_NOW = "2026-02-03"  # the README's clock for the v5 quote (go-tdx-guest's test time)
DEBUG_NOW = "2023-07-01"  # inside the PCK CRL's and QE identity's validity


def _policy(tmp_path: Path, *, accept_expired: bool) -> Path:
    """The policy an operator would produce from this known-good quote, reviewed and saved."""
    out = tmp_path / "tdx.toml"
    assert attest_main(["policy", "--from", str(V5), "--kind", "tdx", "--out", str(out)]) == 0
    p = policy_mod.load(out)
    assert p.tdx.require_collateral is True
    # The sample set mixes eras: at the v5 clock the TCB signing cert, QE identity and CRLs expired.
    p.tdx.accept_expired_collateral = accept_expired
    policy_mod.dump(p, out)
    return out


def _verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    rc = verify_main(list(args))
    return rc, capsys.readouterr().out


def test_v5_quote_with_collateral_passes_under_a_policy_that_accepts_expired_collateral(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pol = _policy(tmp_path, accept_expired=True)
    rc, out = _verify(capsys, "--evidence", str(V5), "--kind", "tdx", "--collateral", str(COLL),
                      "--policy", str(pol), "--now", V5_NOW)
    assert rc == 0, out
    assert "✓ TCB Info FMSPC 90c06f000000 eval #18, signed by Intel SGX TCB Signing" in out
    assert "UpToDate" in out and "TCB status (Intel collateral): UpToDate" in out
    assert "✓ TRUSTED" in out and "✗" not in out


def test_expired_collateral_fails_unless_the_policy_accepts_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pol = _policy(tmp_path, accept_expired=False)
    rc, out = _verify(capsys, "--evidence", str(V5), "--kind", "tdx", "--collateral", str(COLL),
                      "--policy", str(pol), "--now", V5_NOW)
    assert rc == 1
    failed = [ln for ln in out.splitlines() if ln.lstrip().startswith("✗ ") and "NOT TRUSTED" not in ln]
    assert len(failed) == 1 and "Intel SGX TCB Signing" in failed[0] and "expired" in failed[0], out


def test_without_collateral_the_tcb_status_is_not_evaluated_and_the_policy_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pol = _policy(tmp_path, accept_expired=True)
    rc, out = _verify(capsys, "--evidence", str(V5), "--kind", "tdx", "--policy", str(pol), "--now", V5_NOW)
    assert rc == 1
    assert "✗ no collateral given: TCB status not evaluated" in out


def test_debug_td_fails_with_collateral_as_a_subprocess() -> None:
    p = subprocess.run(
        [*teecube_cmd(), "verify", "--evidence", str(DEBUG), "--kind", "tdx", "--collateral", str(COLL),
         "--now", DEBUG_NOW],
        capture_output=True, text=True, timeout=120,
    )
    assert p.returncode == 1, p.stdout + p.stderr
    assert "✗ TD_ATTRIBUTES 0x0000000010000001: DEBUG set" in p.stdout
    assert "✓ TCB Info, QE Identity, CRLs and signing chain current" in p.stdout
    assert "✗ NOT TRUSTED: 1 of" in p.stdout


def test_collateral_files_can_be_named_one_by_one(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(f) for f in sorted(COLL.iterdir())]
    args = ["--evidence", str(DEBUG), "--kind", "tdx", "--now", DEBUG_NOW]
    for f in files:
        args += ["--collateral", f]
    rc, out = _verify(capsys, *args)
    assert rc == 1 and "DEBUG set" in out and "TCB status (Intel collateral): UpToDate" in out


def test_unreadable_collateral_is_an_error_not_a_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00not collateral")
    rc = verify_main(["--evidence", str(V5), "--kind", "tdx", "--collateral", str(junk), "--now", V5_NOW])
    captured = capsys.readouterr()
    assert rc == 1 and "NOT TRUSTED" in captured.err and "junk.bin" in captured.err


def _tdx_bundle(collateral: list[CollateralFile]) -> Bundle:
    # The recorded quote's REPORTDATA is not bound to this nonce and key: only the binding fails.
    return Bundle(bytes(32), b"spki", Evidence("tdx", V5.read_bytes(), source="recorded"),
                  gpu_reason="no GPU", collateral=collateral, hpke_public_key=bytes(32))


def test_bundle_carries_collateral_and_round_trips() -> None:
    files = load_collateral_files(COLL)
    assert [f.name for f in files] == sorted(p.name for p in COLL.iterdir())
    b = _tdx_bundle(files)
    d = json.loads(b.dumps())
    assert [x["name"] for x in d["collateral"]] == [f.name for f in files]
    back = Bundle.loads(b.dumps())
    assert back.collateral == files
    assert back.tdx_collateral() is not None and len(back.tdx_collateral().tcb_infos) == 2
    plain = json.loads(_tdx_bundle([]).dumps())
    assert "collateral" not in plain  # optional field: absent when there is none


def test_offline_bundle_uses_the_collateral_it_carries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pol = _policy(tmp_path, accept_expired=True)
    with_coll = tmp_path / "with.json"
    with_coll.write_text(_tdx_bundle(load_collateral_files(COLL)).dumps())
    rc = verify_main(["--evidence", str(with_coll), "--policy", str(pol), "--now", V5_NOW, "--json"])
    v = json.loads(capsys.readouterr().out)["verdicts"][0]
    assert rc == 1
    assert v["claims"]["tcb_status"] == "UpToDate"  # evaluated from the carried collateral
    assert [c["name"] for c in v["checks"] if not c["ok"]] == ["report_data"]  # not bound to our nonce

    without = tmp_path / "without.json"
    without.write_text(_tdx_bundle([]).dumps())
    assert verify_main(["--evidence", str(without), "--policy", str(pol), "--now", V5_NOW, "--json"]) == 1
    v = json.loads(capsys.readouterr().out)["verdicts"][0]
    assert sorted(c["name"] for c in v["checks"] if not c["ok"]) == ["report_data", "tcb_status"]

    # --collateral supplies it for a bundle that has none
    rc = verify_main(["--evidence", str(without), "--policy", str(pol), "--now", V5_NOW, "--json",
                      "--collateral", str(COLL)])
    v = json.loads(capsys.readouterr().out)["verdicts"][0]
    assert v["claims"]["tcb_status"] == "UpToDate"


def test_collateral_is_refused_for_evidence_that_does_not_use_it(tmp_path: Path) -> None:
    sim = SimulatedSnp(tmp_path)
    with pytest.raises(ValueError, match="does not use it"):
        collect(sim, None, b"spki", bytes(32), collateral=load_collateral_files(COLL),
                hpke_public_key=b"\x07" * 32)
    d = collect(sim, None, b"spki", bytes(32), hpke_public_key=b"\x07" * 32).to_json()
    d["collateral"] = [CollateralFile("x", b"x").to_json()]
    with pytest.raises(ParseError, match="does not use"):
        Bundle.from_json(d)


class RecordedTdx:
    """A TDX provider replaying a recorded quote, with a cached PCS download (no TDX host here)."""

    kind = "tdx"

    def get_evidence(self, report_data: bytes) -> Evidence:
        assert len(report_data) == 64
        return Evidence("tdx", V5.read_bytes(), source="recorded")

    def collateral(self) -> list[CollateralFile]:
        return load_collateral_files(COLL)


def test_collect_takes_collateral_from_a_provider_that_has_it() -> None:
    nonce = bytes(range(32))
    b = collect(RecordedTdx(), None, b"spki", nonce, hpke_public_key=b"\x07" * 32)
    assert len(b.collateral) == len(list(COLL.iterdir()))
    assert binding.parse_nonce(b.to_json()["nonce"]) == nonce
    assert Bundle.loads(b.dumps()).collateral == b.collateral


def test_unreadable_collateral_in_a_bundle_fails_the_tdx_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(_tdx_bundle([CollateralFile("tcbinfo.json", b'{"tcbInfo": 1}')]).dumps())
    assert verify_main(["--evidence", str(path), "--now", V5_NOW, "--json"]) == 1
    v = json.loads(capsys.readouterr().out)["verdicts"][0]
    assert [(c["name"], c["ok"]) for c in v["checks"]] == [("collateral", False)]
    assert "unreadable" in v["checks"][0]["detail"] and "tcbInfo" in v["checks"][0]["detail"]
