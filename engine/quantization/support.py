"""Which devices run FP8, and the error that names the flag when this one does not.

FP8 tensor cores (and Triton's e4m3 conversions) need compute capability 8.9 (Ada) or 9.0 (Hopper).
On a CPU the FP8 paths are fp32 reference implementations, slow and for tests only: they run when
TEECUBE_FP8_REFERENCE=1 is set (the tests set it), and a CPU engine asked for FP8 otherwise refuses."""

from __future__ import annotations

import os

import torch

from engine.errors import InvalidParam

REFERENCE_ENV = "TEECUBE_FP8_REFERENCE"
MIN_CAPABILITY = (8, 9)


def reference_allowed() -> bool:
    return os.environ.get(REFERENCE_ENV) == "1"


def fp8_capable(device: torch.device | str) -> bool:
    """A CUDA device with compute capability >= 8.9."""
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return False
    return torch.cuda.get_device_capability(device) >= MIN_CAPABILITY


def check_fp8_device(device: torch.device | str, param: str, flag: str) -> None:
    """Raise InvalidParam(param) naming `flag` unless this device runs FP8 (or the test-only reference
    path is switched on for a CPU)."""
    device = torch.device(device)
    if fp8_capable(device):
        return
    if device.type == "cuda" and torch.cuda.is_available():
        major, minor = torch.cuda.get_device_capability(device)
        name = torch.cuda.get_device_name(device)
        raise InvalidParam(
            param,
            f"{flag} needs an NVIDIA GPU with FP8 support (compute capability >= 8.9: Ada, Hopper);"
            f" {name} has {major}.{minor}",
        )
    if device.type == "cpu" and reference_allowed():
        return
    raise InvalidParam(
        param,
        f"{flag} needs an NVIDIA GPU with FP8 support (compute capability >= 8.9: Ada, Hopper);"
        f" this engine runs on {device.type}",
    )
