"""Review: the GPU image and the GPU compose override start the engine on a GPU whether or not it
is in confidential-computing mode. On a GPU without CC mode, prompts, weights and the KV cache
cross PCIe and sit in GPU memory in the clear, under an appliance that still presents itself as
confidential. deploy/cvm gates it with teecube-gpu-ready.service; the containers had no gate.

Now entrypoint.sh refuses the GPU roles (serve, engine) unless `nvidia-smi conf-compute -f`
reports "CC status: ON" when TEECUBE_REQUIRE_GPU_CC=1, the GPU image's default, also set by
deploy/compose.gpu.yml; nothing is migrated or started before the check passes.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from deploy_helpers import DEPLOY, DOCKER, ENTRYPOINT, REPO
from dockerfile_parse import env_values, parse


def _fakes(tmp_path: Path, status: str, smi_rc: int = 0) -> dict[str, str]:
    """A PATH with a stand-in nvidia-smi printing `status` and a teecube that logs its argv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\n[ \"$1 $2\" = 'conf-compute -f' ] || exit 9\nprintf '%s\\n' '{status}'\n"
                   f"exit {smi_rc}\n")
    log = tmp_path / "teecube.log"
    teecube = bin_dir / "teecube"
    teecube.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n")
    for f in (smi, teecube):
        f.chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "TEECUBE_BIN": str(teecube), "HOME": str(tmp_path)}


def _run(tmp_path: Path, args: list[str], env: dict[str, str]) -> tuple[int, str, list[str]]:
    r = subprocess.run([str(ENTRYPOINT), *args], env=env, capture_output=True, text=True, timeout=30)
    log = tmp_path / "teecube.log"
    return r.returncode, r.stderr, log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize("role", ["serve", "engine"])
@pytest.mark.parametrize(("status", "rc"), [("CC status: OFF", 0), ("CC status: DEVTOOLS", 0),
                                            ("", 0), ("CC status: ON", 3)])
def test_gpu_roles_refuse_a_gpu_not_in_cc_mode(tmp_path: Path, role: str, status: str, rc: int) -> None:
    env = {**_fakes(tmp_path, status, rc), "TEECUBE_REQUIRE_GPU_CC": "1"}
    code, stderr, ran = _run(tmp_path, [role, "--device", "cuda"], env)
    assert code != 0 and ran == [], (code, stderr, ran)  # not even `db current`
    assert "confidential-computing" in stderr


@pytest.mark.parametrize("role", ["serve", "engine"])
def test_gpu_roles_start_on_a_gpu_in_cc_mode(tmp_path: Path, role: str) -> None:
    env = {**_fakes(tmp_path, "CC status: ON"), "TEECUBE_REQUIRE_GPU_CC": "1"}
    code, stderr, ran = _run(tmp_path, [role, "--device", "cuda"], env)
    assert code == 0, stderr
    assert ran[-1] == f"{role} --device cuda"


def test_without_the_requirement_nothing_is_asked(tmp_path: Path) -> None:
    """The CPU image and checkouts: no nvidia-smi needed."""
    env = _fakes(tmp_path, "CC status: OFF")
    (tmp_path / "bin" / "nvidia-smi").unlink()
    code, stderr, ran = _run(tmp_path, ["engine", "--device", "cpu"], env)
    assert code == 0 and ran == ["engine --device cpu"], stderr


def test_missing_nvidia_smi_is_a_refusal_not_a_pass(tmp_path: Path) -> None:
    env = {**_fakes(tmp_path, "CC status: ON"), "TEECUBE_REQUIRE_GPU_CC": "1"}
    (tmp_path / "bin" / "nvidia-smi").unlink()
    code, _, ran = _run(tmp_path, ["engine"], env)
    assert code != 0 and ran == []


def test_the_gpu_image_and_override_require_cc_and_the_cpu_image_does_not() -> None:
    assert env_values(parse(DOCKER / "Dockerfile.gpu")).get("TEECUBE_REQUIRE_GPU_CC") == "1"
    assert env_values(parse(DOCKER / "Dockerfile.cpu")).get("TEECUBE_REQUIRE_GPU_CC", "0") == "0"
    override = yaml.safe_load((DEPLOY / "compose.gpu.yml").read_text())
    value = str(override["services"]["appliance"]["environment"]["TEECUBE_REQUIRE_GPU_CC"])
    assert value in ("1", "${TEECUBE_REQUIRE_GPU_CC:-1}"), value
    base = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert "TEECUBE_REQUIRE_GPU_CC" not in base["services"]["appliance"].get("environment", {})
    assert os.access(ENTRYPOINT, os.X_OK)
