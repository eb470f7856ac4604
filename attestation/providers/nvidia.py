"""NVIDIA GPU evidence through nvidia-ml-py (NVML): CC state, SPDM report with a nonce, cert chain.

Every GPU NVML reports is attested over the same nonce, in device order; `gpu_count` records how
many there are. One device failing gives no evidence at all (never a partial set), with a reason
naming the device. No GPU, no driver, or CC off: no evidence and `reason` says why (no error).
"""

from __future__ import annotations

from typing import Any

from attestation.providers.base import MAX_GPUS, Evidence


class NvidiaGpuProvider:
    kind = "nvidia-gpu"

    def __init__(self) -> None:
        self.reason = ""
        self.cc_mode: bool | None = None  # True once NVML reports CC on: clients then demand GPU evidence
        self.gpu_count: int | None = None  # GPUs NVML reports: clients demand evidence for each

    def _nvml(self) -> Any:
        try:
            import pynvml

            pynvml.nvmlInit()
            return pynvml
        except Exception as e:  # ImportError, NVMLError_LibraryNotFound, driver not loaded
            self.reason = f"no NVIDIA driver/GPU ({type(e).__name__})"
            return None

    def get_evidence(self, nonce: bytes) -> Evidence | None:
        """GPU 0's evidence (from a full collection, so a failure on any GPU still gives None)."""
        evidence = self.get_all_evidence(nonce)
        return evidence[0] if evidence else None

    def get_all_evidence(self, nonce: bytes) -> list[Evidence]:
        """Evidence of every GPU, in device order; [] (with `reason`) when any of them has none."""
        self.reason = ""
        nvml = self._nvml()
        if nvml is None:
            return []
        try:
            return self._collect(nvml, nonce)
        except nvml.NVMLError as e:  # CC state or device count
            self.reason = f"NVML error: {e}"
            return []
        finally:
            try:
                nvml.nvmlShutdown()
            except nvml.NVMLError:
                pass

    def _collect(self, nvml: Any, nonce: bytes) -> list[Evidence]:
        state = nvml.nvmlSystemGetConfComputeState()
        self.cc_mode = bool(state.ccFeature)
        self.gpu_count = int(nvml.nvmlDeviceGetCount())
        if not state.ccFeature:
            self.reason = "GPU confidential computing is off"
            return []
        if not 1 <= self.gpu_count <= MAX_GPUS:
            self.reason = f"NVML reports {self.gpu_count} GPUs (a bundle carries 1 to {MAX_GPUS})"
            return []
        if state.devToolsMode:
            self.reason = "GPU is in CC devtools mode (not for production)"
        out = []
        for index in range(self.gpu_count):
            try:
                out.append(_device_evidence(nvml, index, nonce))
            except nvml.NVMLError as e:
                self.reason = f"GPU {index}: NVML error: {e} (so no evidence for any of the {self.gpu_count})"
                return []
        return out


def _device_evidence(nvml: Any, index: int, nonce: bytes) -> Evidence:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    cert = nvml.nvmlDeviceGetConfComputeGpuCertificate(handle)
    chain = bytes(cert.attestationCertChain[: cert.attestationCertChainSize])
    rep = nvml.nvmlDeviceGetConfComputeGpuAttestationReport(handle, nonce)
    report = bytes(rep.attestationReport[: rep.attestationReportSize])
    return Evidence(kind="nvidia-gpu", report=report, certs={"chain": chain}, source="nvml", nonce=nonce)
