"""SEV-SNP policy: what a verified report must say (go-sev-guest `validate` in spirit)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from attestation.claims import PolicyError, Verdict
from attestation.snp.abi import Report

TCB_PARTS = ("bl", "tee", "snp", "ucode", "fmc")

# The floor a careful client applies when its policy names no `min_tcb` (`default_min_tcb`), to
# every TCB the report names (reported, current, committed, launch). Per product line:
#   Milan  bl 4, tee 0, snp 24, ucode 217: REPORTED_TCB of the newest genuine Milan report we hold
#          (tests/data/vectors/snp/coco_milan_v3_vlek, AWS, VLEK; its committed microcode is 219).
#   Genoa  bl 7, tee 0, snp 14: Tinfoil's published production minimum (tinfoilsh/verifier,
#          attestation/sev.go; ../shared/reference/attestation.md 1.3). Its ucode 72 is left out:
#          Genoa (model 0x11) and Siena/Bergamo (model 0xA0, ucode 25 in coco_genoa_v3) share the
#          product line and its VCEKs but not the microcode numbering.
#   Turin  fmc 1, bl 3, tee 2, snp 5, ucode 97: the genuine Turin report (anolis_turin_v5).
# These are floors genuine hardware is shown to meet, not the fixed levels of AMD's latest SEV
# bulletins (AMD-SB-3019, CVE-2024-56161, microcode signature verification, 2025-02; AMD-SB-3015,
# CVE-2024-21944 "BadRAM", 2024-12; AMD-SB-3020, CVE-2025-0033, RMP initialisation, 2025-10):
# their per-product SPL tables are not in the reference material here and were not checked, and
# the Milan floor in particular may be below the SB-3019 microcode. A deployment that must exclude
# those should set `min_tcb` to the bulletin's values (docs/attestation.md, "SEV-SNP TCB floor").
SNP_MIN_TCB: dict[str, dict[str, int]] = {
    "Milan": {"bl": 4, "tee": 0, "snp": 24, "ucode": 217},
    "Genoa": {"bl": 7, "tee": 0, "snp": 14},
    "Turin": {"fmc": 1, "bl": 3, "tee": 2, "snp": 5, "ucode": 97},
}


class InvalidPolicy(PolicyError, ValueError):
    """An SEV-SNP policy (file section) is malformed: unknown keys, wrong types, bad hex."""


def _hex(v: object, size: int, name: str) -> str:
    if not isinstance(v, str) or len(v) != 2 * size:
        raise InvalidPolicy(f"policy {name}: expected {2 * size} hex digits")
    try:
        bytes.fromhex(v)
    except ValueError as e:
        raise InvalidPolicy(f"policy {name}: not hex") from e
    return v.lower()


@dataclass(slots=True)
class SnpPolicy:
    measurements: list[str] = field(default_factory=list)  # hex; empty = any (warned)
    min_tcb: dict[str, int] = field(default_factory=dict)  # {"bl":, "tee":, "snp":, "ucode":, "fmc":}
    allow_debug: bool = False
    allow_migration_agent: bool = False
    allow_smt: bool = True
    vmpl: int | None = None  # expected VMPL; None = any
    product: str | None = None  # "Milan" | "Genoa" | "Turin" (or "Simulated")
    host_data: str | None = None  # hex
    report_data: str | None = None  # hex; set by the client to the binding it computed
    default_min_tcb: bool = False  # no min_tcb given: apply SNP_MIN_TCB for the product line

    def __post_init__(self) -> None:
        # A policy file is typed by hand: "false" (a string) must not read as true, a number
        # given as a string must not reach a comparison, a bare string is not a list.
        for name in ("allow_debug", "allow_migration_agent", "allow_smt", "default_min_tcb"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidPolicy(f"policy {name}: expected true/false")
        if not isinstance(self.measurements, list | tuple):
            raise InvalidPolicy("policy measurements: expected a list of hex strings")
        self.measurements = [_hex(m, 48, "measurements") for m in self.measurements]
        if not isinstance(self.min_tcb, dict):
            raise InvalidPolicy("policy min_tcb: expected a table of component = number")
        bad = set(self.min_tcb) - set(TCB_PARTS)
        if bad:
            raise InvalidPolicy(f"unknown min_tcb components: {', '.join(sorted(map(str, bad)))}")
        for k, v in self.min_tcb.items():
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 255:
                raise InvalidPolicy(f"policy min_tcb.{k}: expected a number 0-255")
        if self.vmpl is not None and (isinstance(self.vmpl, bool) or not isinstance(self.vmpl, int)
                                      or not 0 <= self.vmpl <= 3):
            raise InvalidPolicy("policy vmpl: expected 0, 1, 2 or 3")
        if self.product is not None and not isinstance(self.product, str):
            raise InvalidPolicy("policy product: expected a product line name")
        if self.host_data is not None:
            self.host_data = _hex(self.host_data, 32, "host_data")
        if self.report_data is not None:
            self.report_data = _hex(self.report_data, 64, "report_data")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SnpPolicy:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise InvalidPolicy(f"unknown sev-snp policy keys: {', '.join(sorted(unknown))}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and k != "report_data"}


def _short(h: str) -> str:
    return h[:12] + "…"


def validate(report: Report, product: str, policy: SnpPolicy, verdict: Verdict) -> None:
    """Append one check per policy item to `verdict`."""
    meas = report.measurement.hex()
    if policy.measurements:
        ok = meas in policy.measurements
        verdict.add(
            "measurement",
            ok,
            f"Measurement {_short(meas)} is in your allow-list"
            if ok
            else f"Measurement {_short(meas)} not in your allow-list",
        )
    min_tcb = policy.min_tcb or (SNP_MIN_TCB.get(product, {}) if policy.default_min_tcb else {})
    if min_tcb:
        # every TCB the report names, as go-sev-guest's MinimumTCB (reported, current, committed)
        # and MinimumLaunchTCB: a guest launched on, or running on, older firmware is refused
        # even when the host reports a newer TCB.
        low = []
        for which in ("reported", "current", "committed", "launch"):
            tcb = report.tcb(which, product).parts()
            low += [f"{which} {k} {tcb.get(k)} < {v}" for k, v in min_tcb.items() if tcb.get(k, 0) < v]
        verdict.add(
            "tcb_minimum",
            not low,
            ("Firmware (TCB) is at least your minimum" if policy.min_tcb
             else f"Firmware (TCB) is at least the {product} floor teecube ships")
            if not low
            else f"Firmware (TCB) below minimum: {', '.join(low)}",
        )
    if not policy.allow_debug:
        verdict.add(
            "debug_disabled",
            not report.policy.debug,
            "Debug disabled" if not report.policy.debug else "Debug ENABLED: the host can read guest memory",
        )
    if not policy.allow_migration_agent:
        verdict.add(
            "migration_agent",
            not report.policy.migrate_ma,
            "No migration agent" if not report.policy.migrate_ma else "A migration agent is allowed",
        )
    if not policy.allow_smt:
        verdict.add(
            "smt",
            not report.policy.smt,
            "SMT (hyper-threading) disallowed by guest policy"
            if not report.policy.smt
            else "Guest policy allows SMT",
        )
    if policy.vmpl is not None:
        verdict.add(
            "vmpl",
            report.vmpl == policy.vmpl,
            f"Report requested at VMPL {report.vmpl}"
            + ("" if report.vmpl == policy.vmpl else f", expected {policy.vmpl}"),
        )
    if policy.product is not None:
        verdict.add(
            "product_policy", policy.product == product, f"Product line {product} (expected {policy.product})"
        )
    if policy.host_data is not None:
        ok = report.host_data.hex() == policy.host_data.lower()
        verdict.add(
            "host_data",
            ok,
            "HOST_DATA matches" if ok else f"HOST_DATA {_short(report.host_data.hex())} differs",
        )
    if policy.report_data is not None:
        ok = report.report_data.hex() == policy.report_data.lower()
        verdict.add(
            "report_data",
            ok,
            "Report is bound to your nonce and this server's TLS key"
            if ok
            else "Report data does not match your nonce and TLS key (replayed or for another key)",
        )
