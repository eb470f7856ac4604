"""The result every verifier returns: a list of named checks, each passed or failed.

Verifiers raise `VerificationError` (or a subclass) for evidence that cannot be
trusted at all (bad signature, broken chain); a `Verdict` collects what was
checked so `teecube verify` can show a person each claim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class VerificationError(Exception):
    """Evidence failed a cryptographic or structural check."""


class ParseError(VerificationError):
    """Evidence bytes do not have the expected structure."""


class PolicyError(VerificationError):
    """Verified evidence does not satisfy the policy."""


@dataclass(slots=True)
class Check:
    name: str  # short, stable id: "signature", "vcek_chain", "tcb_matches_cert", "debug_disabled", ...
    ok: bool
    detail: str = ""  # human sentence: what was compared with what


@dataclass(slots=True)
class Verdict:
    kind: str  # "sev-snp" | "tdx" | "nvidia-gpu" | "simulated"
    checks: list[Check] = field(default_factory=list)
    claims: dict[str, Any] = field(default_factory=dict)  # parsed facts worth showing (measurement, tcb, ...)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ok": self.ok,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "claims": self.claims,
        }
