"""Review: the [sev-snp]/[simulated] policy sections are type-checked like [tdx] and [nvidia-gpu].

Before, `SnpPolicy.from_dict` took any JSON/TOML value: `allow_debug = "false"` (a string, truthy)
ACCEPTED a debug guest, `min_tcb = {snp = "25"}` crashed the verifier with a TypeError, and a
bare string of measurements was split into single hex digits."""

from __future__ import annotations

import pytest
from attest_vectors import SNP_VECTORS

from attestation import policy as policy_mod
from attestation import snp
from attestation.claims import PolicyError
from attestation.cli import verify_main
from attestation.snp.validate import InvalidPolicy, SnpPolicy

BY = {v.name: v for v in SNP_VECTORS}
DEBUG_VEC = BY["gosevguest_milan_v2"]  # POLICY.DEBUG = 1


@pytest.mark.parametrize("section", [
    {"allow_debug": "false"},
    {"allow_debug": 0},
    {"allow_migration_agent": "no"},
    {"allow_smt": None},
    {"default_min_tcb": "true"},
    {"measurements": DEBUG_VEC.measurement},  # a string, not a list
    {"measurements": ["abc"]},
    {"measurements": ["zz" * 48]},
    {"measurements": [5]},
    {"min_tcb": {"snp": "25"}},
    {"min_tcb": {"snp": True}},
    {"min_tcb": {"snp": 256}},
    {"min_tcb": [1, 2]},
    {"min_tcb": {"microcode": 1}},
    {"vmpl": "0"},
    {"vmpl": 4},
    {"vmpl": False},
    {"product": 3},
    {"host_data": "11"},
    {"report_data": 7},
], ids=repr)
@pytest.mark.parametrize("kind", ["sev-snp", "simulated"])
def test_malformed_values_are_refused(kind, section) -> None:
    with pytest.raises(InvalidPolicy):
        policy_mod.Policy.from_dict({kind: section})


def test_invalid_policy_is_a_value_error_and_a_policy_error() -> None:
    assert issubclass(InvalidPolicy, ValueError) and issubclass(InvalidPolicy, PolicyError)


def test_string_false_for_allow_debug_no_longer_admits_a_debug_guest(tmp_path, capsys) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('["sev-snp"]\nallow_debug = "false"\n')
    rc = verify_main(["--evidence", str(DEBUG_VEC.dir / "report.bin"), "--cert",
                      str(DEBUG_VEC.dir / "vcek.der"), "--policy", str(path), "--now",
                      DEBUG_VEC.now.isoformat()])
    assert rc == 1
    assert "allow_debug: expected true/false" in capsys.readouterr().err


def test_well_typed_policy_still_refuses_debug_and_accepts_without_it() -> None:
    strict = policy_mod.Policy.from_dict({"sev-snp": {"allow_debug": False, "measurements":
                                                      [DEBUG_VEC.measurement.upper()]}})
    assert strict.snp is not None and strict.snp.measurements == [DEBUG_VEC.measurement]
    v = snp.check(DEBUG_VEC.report, DEBUG_VEC.cert, now=DEBUG_VEC.now, policy=strict.snp)
    assert [c.name for c in v.failures()] == ["debug_disabled"]
    lax = SnpPolicy(allow_debug=True, min_tcb={"bl": 2, "snp": 5}, vmpl=0, host_data="00" * 32)
    assert snp.check(DEBUG_VEC.report, DEBUG_VEC.cert, now=DEBUG_VEC.now, policy=lax).ok


def test_round_trip_keeps_working(tmp_path) -> None:
    p = policy_mod.Policy(snp=SnpPolicy(measurements=["AB" * 48], min_tcb={"bl": 3}, vmpl=1,
                                        product="Milan", host_data="CD" * 32))
    for name in ("p.toml", "p.json"):
        policy_mod.dump(p, tmp_path / name)
        assert policy_mod.load(tmp_path / name).to_dict() == p.to_dict()
    assert p.snp is not None and p.snp.measurements == ["ab" * 48] and p.snp.host_data == "cd" * 32
