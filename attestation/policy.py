"""The policy file (TOML or JSON): what a client expects of the server's evidence.

    require_gpu = false
    require_release = true        # measurement must be in a manifest signed by a pinned key
    require_transparency = false  # ...and that manifest must carry a verified Sigstore bundle
    gpu_count = 8                 # optional: exactly this many attested GPUs (1..16; absent = any)
    [sev-snp]        # real AMD SEV-SNP (see attestation.snp.validate.SnpPolicy)
    [simulated]      # the simulated provider, same keys as sev-snp
    [tdx]            # attestation.tdx.validate.TdxPolicy
    [nvidia-gpu]     # attestation.nvgpu.validate.GpuPolicy, applied to every GPU of the bundle

A section that is absent means "evidence of that kind is not acceptable". Every GPU the server
counts must send its own evidence whatever the policy says; `gpu_count` also pins how many there
are, so a server with fewer (or more) GPUs than the one the policy was written for is refused.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attestation.providers.base import Evidence, checked_gpu_count
from attestation.snp.abi import parse_report, product_from_cpuid, product_line
from attestation.snp.kds import parse_endorsement_cert
from attestation.snp.validate import SnpPolicy

if TYPE_CHECKING:  # optional verifiers: imported lazily, only when a build has them
    from attestation.nvgpu.validate import GpuPolicy
    from attestation.tdx.validate import TdxPolicy

SECTIONS = ("sev-snp", "simulated", "tdx", "nvidia-gpu")
_FLAGS = ("require_gpu", "require_release", "require_transparency")
_COUNTS = ("gpu_count",)
_ATTR = {"sev-snp": "snp", "simulated": "simulated", "tdx": "tdx", "nvidia-gpu": "gpu"}


class ModuleNotAvailable(RuntimeError):
    """A verifier (TDX, NVIDIA GPU) is not installed in this build."""


def _policy_class(kind: str) -> Any:
    from attestation.verifier import VERIFIERS

    try:
        return VERIFIERS[kind].policy_class()
    except ImportError as e:
        raise ModuleNotAvailable(f"{kind} verification is not available in this build") from e


@dataclass(slots=True)
class Policy:
    snp: SnpPolicy | None = None
    simulated: SnpPolicy | None = None
    tdx: TdxPolicy | None = None
    gpu: GpuPolicy | None = None
    require_gpu: bool = False
    # The CPU measurement must appear in a release manifest signed by a trusted release key
    # (attestation/release.py). The default client policy sets it; generated policies pin
    # measurements themselves and leave it off.
    require_release: bool = False
    # With require_release: the manifest must also carry a Sigstore bundle that verifies offline
    # (a Rekor transparency-log entry by the pinned release workflow identity).
    require_transparency: bool = False
    # Exactly this many GPUs must be attested (None: as many as the server counts, any number).
    gpu_count: int | None = None

    def section(self, kind: str) -> Any:
        return {"sev-snp": self.snp, "simulated": self.simulated, "tdx": self.tdx, "nvidia-gpu": self.gpu}[
            kind
        ]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Policy:
        unknown = set(d) - {*SECTIONS, *_FLAGS, *_COUNTS}
        if unknown:
            raise ValueError(f"unknown policy sections: {', '.join(sorted(unknown))}")
        flags = {k: d.get(k, False) for k in _FLAGS}
        for k, v in flags.items():
            if not isinstance(v, bool):
                raise ValueError(f"policy {k}: expected true/false")
        p = cls(**flags, gpu_count=checked_gpu_count(d.get("gpu_count"), 1, "policy gpu_count"))
        for kind, attr in _ATTR.items():
            if kind in d:
                if not isinstance(d[kind], dict):
                    raise ValueError(f"policy section [{kind}] must be a table")
                setattr(p, attr, _policy_class(kind).from_dict(d[kind]))
        return p

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k) for k in _FLAGS}
        if self.gpu_count is not None:
            out["gpu_count"] = self.gpu_count
        for kind in SECTIONS:
            section = self.section(kind)
            if section is not None:
                out[kind] = section.to_dict()
        return out


def load(path: str | Path) -> Policy:
    path = Path(path)
    text = path.read_bytes()
    d = (
        json.loads(text)
        if path.suffix == ".json" or text.lstrip()[:1] == b"{"
        else tomllib.loads(text.decode())
    )
    return Policy.from_dict(d)


def dump(policy: Policy, path: str | Path | None = None) -> str:
    """TOML unless `path` ends in .json; written to `path` when given."""
    d = policy.to_dict()
    text = json.dumps(d, indent=2) + "\n" if path and str(path).endswith(".json") else to_toml(d)
    if path:
        Path(path).write_text(text)
    return text


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def to_toml(d: dict[str, Any]) -> str:
    """A small TOML writer for policy files: top-level scalars, then one table per section."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in d.items() if not isinstance(v, dict)]
    for k, v in d.items():
        if isinstance(v, dict):
            lines += ["", f'["{k}"]' if "-" in k else f"[{k}]"]
            lines += [f"{kk} = {_toml_value(vv)}" for kk, vv in v.items() if vv is not None]
    return "\n".join(lines) + "\n"


def snp_policy_from_report(
    report: bytes, vcek_der: bytes | None = None, product: str | None = None
) -> SnpPolicy:
    """Expectations from a known-good SNP report: exactly this measurement, at least this TCB."""
    r = parse_report(report)
    if product is None:
        product = product_from_cpuid(r.cpuid_family, r.cpuid_model)
    if product is None and vcek_der is not None:
        name = parse_endorsement_cert(vcek_der).product_name
        product = product_line(name) if name else None
    return SnpPolicy(
        measurements=[r.measurement.hex()],
        min_tcb=r.tcb("reported", product).parts(),
        allow_debug=False,
        allow_migration_agent=False,
        allow_smt=r.policy.smt,
        vmpl=r.vmpl,
        product=product,
    )


def policy_from_evidence(ev: Evidence, gpus: Evidence | Sequence[Evidence] | None = None) -> Policy:
    """A policy accepting exactly this known-good evidence (and later firmware).

    `gpus` (one Evidence, or every GPU's): each GPU's measurements and versions are accepted on
    any GPU, GPU evidence becomes required and the number of GPUs is pinned.
    """
    p = Policy()
    if ev.kind in ("sev-snp", "simulated"):
        vcek = ev.certs.get("vcek") or ev.certs.get("vlek")
        sp = snp_policy_from_report(ev.report, vcek, ev.product)
        if ev.kind == "simulated":
            p.simulated = sp
        else:
            p.snp = sp
    elif ev.kind == "tdx":
        p.tdx = _policy_class("tdx").from_evidence(ev.report)
    gpu_list = [gpus] if isinstance(gpus, Evidence) else list(gpus or [])
    if gpu_list:
        p.gpu = _policy_class("nvidia-gpu").from_reports([g.report for g in gpu_list])
        p.require_gpu = True
        p.gpu_count = len(gpu_list)
    return p
