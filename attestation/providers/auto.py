"""Pick the evidence provider at startup. Asking for a TEE that is not here is an error, never a
silent fallback to another kind (and never to `simulated`)."""

from __future__ import annotations

import os
from pathlib import Path

from attestation.providers.base import NoTeeError, Provider
from attestation.providers.configfs_tsm import DEFAULT_ROOT, ConfigfsProvider, ConfigfsTsm
from attestation.providers.nvidia import NvidiaGpuProvider
from attestation.providers.sev_guest import DEVICE as SEV_GUEST_DEVICE
from attestation.providers.sev_guest import SevGuestProvider

TEES = ("auto", "sev-snp", "tdx", "simulated")


def detect(configfs_root: str | os.PathLike[str] = DEFAULT_ROOT) -> str | None:
    kind = ConfigfsTsm(configfs_root).probe()
    if kind is not None:
        return kind
    if SEV_GUEST_DEVICE.exists():
        return "sev-snp"
    return None


def select_provider(
    tee: str = "auto",
    *,
    state_dir: str | os.PathLike[str] | None = None,
    configfs_root: str | os.PathLike[str] = DEFAULT_ROOT,
) -> Provider:
    if tee not in TEES:
        raise ValueError(f"--tee must be one of {', '.join(TEES)}, not {tee!r}")
    if tee == "simulated":
        from attestation.providers.simulated import SimulatedSnp

        # `state_dir` is the appliance's state directory; the test chain lives in STATE/attestation/
        return SimulatedSnp(Path(state_dir) / "attestation" if state_dir is not None else None)
    found = detect(configfs_root)
    if tee == "auto":
        if found is None:
            raise NoTeeError("no TEE found (configfs-tsm, /dev/sev-guest): use --tee simulated for a demo")
        tee = found
    if tee == "sev-snp":
        if found == "sev-snp" and Path(configfs_root).is_dir():
            return ConfigfsProvider("sev-snp", ConfigfsTsm(configfs_root))
        if SEV_GUEST_DEVICE.exists():
            return SevGuestProvider()
        raise NoTeeError("--tee sev-snp: not an SEV-SNP guest (no configfs-tsm sev_guest, no /dev/sev-guest)")
    if found == "tdx":
        return ConfigfsProvider("tdx", ConfigfsTsm(configfs_root))
    raise NoTeeError("--tee tdx: this machine is not a TDX guest (no configfs-tsm tdx_guest)")


def select_gpu_provider() -> NvidiaGpuProvider:
    """The NVIDIA provider; its `get_evidence` returns None (with a reason) when no CC GPU is present."""
    return NvidiaGpuProvider()
