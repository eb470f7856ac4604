"""The provider protocol and the evidence it hands back."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Protocol

from attestation.claims import ParseError

KINDS = ("sev-snp", "tdx", "simulated", "nvidia-gpu")
MAX_GPUS = 16  # GPUs one bundle may carry evidence for (an HGX board has 8)


def checked_gpu_count(value: Any, minimum: int, what: str) -> int | None:
    """`value` as a number of GPUs (minimum..MAX_GPUS, not a bool), None when absent; ValueError naming
    `what` otherwise (a bundle's and a policy's `gpu_count`)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_GPUS:
        raise ValueError(f"{what}: expected an integer {minimum} to {MAX_GPUS}, got {repr(value)[:40]}")
    return value


class NoTeeError(RuntimeError):
    """The requested TEE is not present on this machine (a startup error, never a fallback)."""


@dataclass(slots=True)
class Evidence:
    kind: str  # "sev-snp" | "tdx" | "simulated" | "nvidia-gpu"
    report: bytes  # SNP report, TDX quote, or NVIDIA SPDM report
    certs: dict[str, bytes] = field(default_factory=dict)  # "vcek"/"vlek" DER, "chain" PEM (ASK, ARK)
    product: str | None = None  # SNP product line when known ("Milan", "Simulated", ...)
    source: str = ""  # "configfs-tsm", "sev-guest", "nvml", "simulated"
    nonce: bytes | None = None  # GPU: the SPDM request nonce used

    @property
    def simulated(self) -> bool:
        return self.kind == "simulated"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "simulated": self.simulated,
            "source": self.source,
            "product": self.product,
            "report": base64.b64encode(self.report).decode(),
            "certs": {k: base64.b64encode(v).decode() for k, v in self.certs.items()},
            "nonce": self.nonce.hex() if self.nonce is not None else None,
        }

    @classmethod
    def from_json(cls, d: Any) -> Evidence:
        try:
            kind = d["kind"]
            if kind not in KINDS:
                raise ParseError(f"unknown evidence kind {kind!r}")
            if bool(d.get("simulated", False)) != (kind == "simulated"):
                raise ParseError("evidence 'simulated' flag disagrees with its kind")
            certs = d.get("certs") or {}
            if not isinstance(certs, dict) or not all(isinstance(v, str) for v in certs.values()):
                raise ParseError("evidence 'certs' must be an object of base64 strings")
            product = d.get("product")
            if product is not None and not isinstance(product, str):
                raise ParseError("evidence 'product' must be a string")
            nonce = d.get("nonce")
            if nonce is not None and not isinstance(nonce, str):
                raise ParseError("evidence 'nonce' must be a hex string")
            return cls(
                kind=kind,
                report=base64.b64decode(d["report"], validate=True),
                certs={str(k): base64.b64decode(v, validate=True) for k, v in certs.items()},
                product=product,
                source=str(d.get("source", "")),
                nonce=bytes.fromhex(nonce) if nonce else None,
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ParseError(f"malformed evidence: {e}") from e


class Provider(Protocol):
    kind: str

    def get_evidence(self, report_data: bytes) -> Evidence: ...


class GpuProvider(Protocol):
    """Evidence for every GPU of the machine, each over the same nonce; optionally `cc_mode`
    and `gpu_count` attributes (the server's word, carried in the bundle)."""

    kind: str
    reason: str  # why get_all_evidence returned []

    def get_all_evidence(self, nonce: bytes) -> list[Evidence]: ...
