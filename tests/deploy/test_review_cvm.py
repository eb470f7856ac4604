"""Review of deploy/cvm: the GPU confidential-computing check must gate the appliance.

teecube.service is ordered after teecube-gpu-ready.service, but ordering alone is not a
dependency: with only `Wants=`, a failed CC check (GPU not in CC mode) still lets teecube
start and serve prompts from a GPU whose memory and PCIe traffic are in the clear. And a
`Condition*=` that is false makes systemd *skip* a unit, which counts as success for the units
that require it: the check must fail, not be skipped, when nvidia-smi is missing.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest
from deploy_helpers import DEPLOY
from test_deploy_cvm import _unit

CVM = DEPLOY / "cvm"
GPU_READY = "teecube-gpu-ready.service"
HARD = ("Requires", "Requisite", "BindsTo")  # a failed dependency stops this unit from starting


def _words(section: dict[str, list[str]], key: str) -> set[str]:
    return {w for value in section.get(key, []) for w in value.split()}


def test_teecube_requires_the_gpu_cc_check() -> None:
    unit = _unit(CVM / "teecube.service")["Unit"]
    assert any(GPU_READY in _words(unit, key) for key in HARD), \
        f"teecube.service only Wants= {GPU_READY}: a GPU not in CC mode does not stop it"
    assert GPU_READY in _words(unit, "After")  # and starts only once the check has passed


def test_the_cc_check_fails_rather_than_skips() -> None:
    unit = _unit(CVM / GPU_READY)["Unit"]
    skipped_if = [k for k in unit if k.startswith("Condition")]
    assert not skipped_if, f"{skipped_if}: a skipped check satisfies teecube.service's Requires="


@pytest.mark.parametrize(("status", "ok"), [("CC status: ON", True), ("CC status: OFF", False),
                                            ("CC status: DEVTOOLS", False), ("", False)])
def test_the_cc_check_accepts_only_cc_on(tmp_path: Path, status: str, ok: bool) -> None:
    """ExecStartPre run with a stand-in nvidia-smi that prints `status`."""
    service = _unit(CVM / GPU_READY)["Service"]
    (pre,) = service["ExecStartPre"]
    fake = tmp_path / "nvidia-smi"
    fake.write_text(f"#!/bin/sh\n[ \"$1 $2\" = 'conf-compute -f' ] || exit 3\necho '{status}'\n")
    fake.chmod(0o755)
    command = pre.lstrip("-+@!:").replace("/usr/bin/nvidia-smi", str(fake))
    assert command != pre.lstrip("-+@!:"), "the check must call /usr/bin/nvidia-smi"
    result = subprocess.run(shlex.split(command), capture_output=True, timeout=10)
    assert (result.returncode == 0) is ok, (status, result)
    # A failing pre-step is fatal only without the "-" prefix.
    assert not pre.startswith("-")
