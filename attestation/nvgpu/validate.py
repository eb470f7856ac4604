"""GPU policy: what a verified Hopper report must show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from attestation.claims import PolicyError, Verdict
from attestation.nvgpu.abi import AttestationReport, parse_report


class InvalidPolicy(PolicyError, ValueError):
    """A GPU policy (file section) is malformed: unknown keys, bad hex, wrong sizes."""


def _unhex(v: Any, name: str) -> bytes:
    try:
        return bytes.fromhex(v) if isinstance(v, str) else bytes(v)
    except (TypeError, ValueError) as e:
        raise InvalidPolicy(f"policy {name}: not hex") from e


@dataclass(slots=True)
class GpuPolicy:
    """Defaults are production: a nonce is required and the measurements must be appraised,
    either against RIMs passed to `check` or against `measurements` pinned here.

    `measurements` maps SPDM block index → allowed digests.
    """

    require_nonce: bool = True
    require_measurement_appraisal: bool = True
    measurements: dict[int, list[bytes]] = field(default_factory=dict)
    driver_versions: list[str] = field(default_factory=list)
    vbios_versions: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("require_nonce", "require_measurement_appraisal"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidPolicy(f"policy {name}: expected true/false")
        for name in ("driver_versions", "vbios_versions"):
            if not isinstance(getattr(self, name), list | tuple):
                raise InvalidPolicy(f"policy {name}: expected a list of versions")
        try:
            self.measurements = {
                int(k): [_unhex(v, f"measurements[{k}]") for v in vs] for k, vs in self.measurements.items()
            }
        except (TypeError, ValueError, AttributeError) as e:
            raise InvalidPolicy(f"policy measurements malformed: {e}") from e
        self.driver_versions = [str(v) for v in self.driver_versions]
        self.vbios_versions = [str(v) for v in self.vbios_versions]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GpuPolicy:
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise InvalidPolicy(f"unknown GPU policy keys: {sorted(unknown)}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return {
            "require_nonce": self.require_nonce,
            "require_measurement_appraisal": self.require_measurement_appraisal,
            "measurements": {str(k): [v.hex() for v in vs] for k, vs in sorted(self.measurements.items())},
            "driver_versions": list(self.driver_versions),
            "vbios_versions": list(self.vbios_versions),
        }

    @classmethod
    def from_evidence(cls, report: bytes | AttestationReport) -> GpuPolicy:
        """Pin a known-good report: every measurement block, the driver and VBIOS versions."""
        r = report if isinstance(report, AttestationReport) else parse_report(report)
        return cls(
            measurements={b.index: [b.value] for b in r.response.blocks},
            driver_versions=[r.driver_version] if r.driver_version else [],
            vbios_versions=[r.vbios_version] if r.vbios_version else [],
        )

    @classmethod
    def from_reports(cls, reports: Sequence[bytes | AttestationReport]) -> GpuPolicy:
        """Pin several known-good reports (every GPU of a machine): what any of them shows."""
        policy = cls()
        for one in map(cls.from_evidence, reports):
            for idx, values in one.measurements.items():
                allowed = policy.measurements.setdefault(idx, [])
                allowed += [v for v in values if v not in allowed]
            policy.driver_versions += [v for v in one.driver_versions if v not in policy.driver_versions]
            policy.vbios_versions += [v for v in one.vbios_versions if v not in policy.vbios_versions]
        return policy

    @classmethod
    def from_verdict(cls, verdict: Verdict) -> GpuPolicy:
        if verdict.kind != "nvidia-gpu":
            raise InvalidPolicy(f"verdict kind {verdict.kind!r} is not nvidia-gpu")
        c = verdict.claims
        try:
            return cls(
                measurements={int(k): [v] for k, v in c["measurements"].items()},
                driver_versions=[c["driver_version"]] if c.get("driver_version") else [],
                vbios_versions=[c["vbios_version"]] if c.get("vbios_version") else [],
            )
        except (KeyError, AttributeError) as e:
            raise InvalidPolicy(f"verdict lacks claim {e}") from e


def report_claims(r: AttestationReport) -> dict[str, Any]:
    return {
        "driver_version": r.driver_version,
        "vbios_version": r.vbios_version,
        "vbios_rim_id": r.vbios_rim_id,
        "request_nonce": r.request.nonce.hex(),
        "fwid": r.fwid.hex() if r.fwid else None,
        "measurements": {str(b.index): b.value.hex() for b in r.response.blocks},
        "opaque": {f.name: f.value.hex() for f in r.response.opaque},
    }


def validate_report(r: AttestationReport, verdict: Verdict, policy: GpuPolicy, *, rims_given: bool) -> None:
    if policy.driver_versions:
        ok = r.driver_version in policy.driver_versions
        verdict.add("driver_version", ok,
                    f"{r.driver_version} {'in' if ok else 'not in'} {policy.driver_versions}")
    if policy.vbios_versions:
        ok = r.vbios_version in policy.vbios_versions
        verdict.add("vbios_version", ok,
                    f"{r.vbios_version} {'in' if ok else 'not in'} {policy.vbios_versions}")
    if policy.measurements:
        bad = []
        for idx, allowed in sorted(policy.measurements.items()):
            if r.measurement(idx) not in allowed:
                bad.append(idx)
        verdict.add("pinned_measurements", not bad,
                    f"{len(policy.measurements) - len(bad)} of {len(policy.measurements)} pinned blocks match"
                    + (f"; differ: {bad}" if bad else ""))
    if policy.require_measurement_appraisal and not rims_given and not policy.measurements:
        verdict.add("measurements", False, "no RIM given and no measurements pinned: firmware not appraised")
