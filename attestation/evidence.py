"""The JSON bundle served at `GET /attestation` (and carried in the TLS certificate), and its parser."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from attestation import binding
from attestation.claims import ParseError
from attestation.providers.base import Evidence, GpuProvider, Provider

FORMAT = "teecube-attestation/1"


@dataclass(slots=True)
class Bundle:
    nonce: bytes
    tls_spki_der: bytes
    cpu: Evidence
    gpu: Evidence | None = None
    gpu_reason: str | None = None
    tls_cert_pem: str | None = None

    @property
    def simulated(self) -> bool:
        return self.cpu.simulated

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "simulated": self.simulated,
            "binding": "report_data = SHA-512('teecube-attestation-v1\\0' || SHA-256(tls.spki_der) || nonce)",
            "nonce": self.nonce.hex(),
            "tls": {
                "spki_der": base64.b64encode(self.tls_spki_der).decode(),
                "spki_sha256": binding.spki_sha256(self.tls_spki_der).hex(),
                "cert_pem": self.tls_cert_pem,
            },
            "cpu": self.cpu.to_json(),
            "gpu": self.gpu.to_json() if self.gpu is not None else None,
            "gpu_reason": self.gpu_reason,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, d: Any) -> Bundle:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ParseError(f"not a {FORMAT} bundle")
        try:
            cpu = Evidence.from_json(d["cpu"])
            if bool(d.get("simulated")) != cpu.simulated:
                raise ParseError("bundle 'simulated' flag disagrees with its CPU evidence")
            gpu = Evidence.from_json(d["gpu"]) if d.get("gpu") else None
            return cls(
                nonce=binding.parse_nonce(d["nonce"]),
                tls_spki_der=base64.b64decode(d["tls"]["spki_der"], validate=True),
                cpu=cpu,
                gpu=gpu,
                gpu_reason=d.get("gpu_reason"),
                tls_cert_pem=d["tls"].get("cert_pem"),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ParseError(f"malformed attestation bundle: {e}") from e

    @classmethod
    def loads(cls, text: str | bytes) -> Bundle:
        try:
            return cls.from_json(json.loads(text))
        except json.JSONDecodeError as e:
            raise ParseError(f"attestation bundle is not JSON: {e}") from e


def collect(
    provider: Provider,
    gpu_provider: GpuProvider | None,
    spki_der: bytes,
    nonce: bytes,
    tls_cert_pem: str | None = None,
) -> Bundle:
    """Ask the providers for evidence bound to `spki_der` and `nonce`."""
    cpu = provider.get_evidence(binding.report_data(spki_der, nonce))
    gpu, reason = None, None
    if gpu_provider is None:
        reason = "no GPU provider configured"
    else:
        gpu = gpu_provider.get_evidence(binding.gpu_nonce(spki_der, nonce))
        reason = None if gpu is not None else gpu_provider.reason
    return Bundle(nonce, spki_der, cpu, gpu, reason, tls_cert_pem)
