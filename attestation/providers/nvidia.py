"""NVIDIA GPU evidence through nvidia-ml-py (NVML): CC state, SPDM report with a nonce, cert chain.

No GPU, no driver, or CC off: `get_evidence` returns None and `reason` says why (no error).
"""

from __future__ import annotations

from typing import Any

from attestation.providers.base import Evidence


class NvidiaGpuProvider:
    kind = "nvidia-gpu"

    def __init__(self, index: int = 0) -> None:
        self.index = index
        self.reason = ""
        self.cc_mode: bool | None = None  # True once NVML reports CC on: clients then demand GPU evidence

    def _nvml(self) -> Any:
        try:
            import pynvml

            pynvml.nvmlInit()
            return pynvml
        except Exception as e:  # ImportError, NVMLError_LibraryNotFound, driver not loaded
            self.reason = f"no NVIDIA driver/GPU ({type(e).__name__})"
            return None

    def get_evidence(self, nonce: bytes) -> Evidence | None:
        nvml = self._nvml()
        if nvml is None:
            return None
        try:
            state = nvml.nvmlSystemGetConfComputeState()
            self.cc_mode = bool(state.ccFeature)
            if not state.ccFeature:
                self.reason = "GPU confidential computing is off"
                return None
            if state.devToolsMode:
                self.reason = "GPU is in CC devtools mode (not for production)"
            handle = nvml.nvmlDeviceGetHandleByIndex(self.index)
            cert = nvml.nvmlDeviceGetConfComputeGpuCertificate(handle)
            chain = bytes(cert.attestationCertChain[: cert.attestationCertChainSize])
            rep = nvml.nvmlDeviceGetConfComputeGpuAttestationReport(handle, nonce)
            report = bytes(rep.attestationReport[: rep.attestationReportSize])
            return Evidence(
                kind="nvidia-gpu", report=report, certs={"chain": chain}, source="nvml", nonce=nonce
            )
        except nvml.NVMLError as e:
            self.reason = f"NVML error: {e}"
            return None
        finally:
            try:
                nvml.nvmlShutdown()
            except nvml.NVMLError:
                pass
