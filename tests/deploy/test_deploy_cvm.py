"""deploy/cvm: the systemd units and cloud-init run the real commands from the installed tree,
carry no secrets through (unmeasured) user-data, and the measurement an operator computes with
measure-snp.sh (the public sev-snp-measure) goes into a client policy that accepts a report with
that measurement and refuses one launched differently."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest
import sevsnpmeasure  # noqa: F401  (measure-snp.sh runs its console script)
import yaml
from deploy_helpers import BIN, DEPLOY, REPO, parse_role
from fake_ovmf import build as build_ovmf

from attestation import policy as policy_file
from attestation.providers.simulated import SimulatedSnp
from attestation.snp import check

CVM = DEPLOY / "cvm"
INSTALL_ROOT = "/opt/teecube"  # where the image puts this repository
MEASURE = CVM / "measure-snp.sh"


def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """systemd unit: sections of keys, each key with all its values (keys repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        assert current is not None, f"{path.name}: key outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not Key=Value: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def _repo_path(installed: str) -> Path:
    assert installed.startswith(INSTALL_ROOT + "/"), installed
    return REPO / installed.removeprefix(INSTALL_ROOT + "/")


def test_teecube_service_runs_the_entrypoint_with_serve() -> None:
    unit = _unit(CVM / "teecube.service")
    service = unit["Service"]
    (exec_start,) = service["ExecStart"]
    argv = shlex.split(exec_start.replace("%d", "/run/credentials/teecube.service"))
    assert _repo_path(argv[0]) == REPO / "deploy" / "docker" / "entrypoint.sh"
    args = parse_role(argv[1:])
    assert args.device == "cuda" and args.tee == "auto" and not args.no_tls
    assert args.state_dir == "/var/lib/teecube" and "teecube" in service["StateDirectory"]
    # Secrets come as systemd credentials and are what the app reads.
    creds = dict(c.split(":", 1) for c in service["LoadCredential"])
    assert set(creds) == {"pepper", "operator-token"}
    assert "TEECUBE_PEPPER_FILE=%d/pepper" in service["Environment"]
    assert args.operator_token_file == "/run/credentials/teecube.service/operator-token"
    for path in creds.values():
        assert f"ConditionPathExists={path}" in {f"ConditionPathExists={v}"
                                                 for v in unit["Unit"]["ConditionPathExists"]}
    (teecube_bin,) = [e for e in service["Environment"] if e.startswith("TEECUBE_BIN=")]
    assert teecube_bin.endswith("/venv/bin/teecube")
    assert service["User"] == ["teecube"] and service["NoNewPrivileges"] == ["yes"]
    assert service["KillSignal"] == ["SIGTERM"]
    assert "teecube-gpu-ready.service" in unit["Unit"]["After"][0]


def test_gpu_ready_unit_sets_the_cc_ready_state() -> None:
    service = _unit(CVM / "teecube-gpu-ready.service")["Service"]
    assert service["ExecStart"] == ["/usr/bin/nvidia-smi conf-compute -srs 1"]
    assert service["Type"] == ["oneshot"]


def test_cloud_init_installs_the_repo_files_and_carries_no_secret() -> None:
    text = (CVM / "cloud-init.yaml").read_text()
    assert text.startswith("#cloud-config\n")
    config = yaml.safe_load(text)
    installed = [cmd for cmd in config["runcmd"] if cmd[0] == "install" and "-d" not in cmd]
    for cmd in installed:
        assert _repo_path(cmd[-2]).exists(), cmd
    targets = {Path(cmd[-1]).name for cmd in installed}
    assert {"teecube.service", "teecube-gpu-ready.service", "99-teecube-tee.rules"} <= targets
    assert ["systemctl", "enable", "teecube-gpu-ready.service", "teecube.service"] in config["runcmd"]
    # User-data comes from the host and is not measured: no pepper, token or password in it.
    for secret in ("TEECUBE_PEPPER", "TEECUBE_OPERATOR_TOKEN", "TEECUBE_ENGINE_API_KEY", "PASSWORD"):
        assert secret not in text.upper().replace("TEECUBE_PEPPER_FILE", "")
    (env_file,) = [f for f in config["write_files"] if f["path"] == "/etc/teecube/teecube.env"]
    names = {ln.split("=", 1)[0] for ln in env_file["content"].splitlines() if ln}
    assert names == {"TEECUBE_DATABASE_URL", "TEECUBE_REDIS_URL", "TEECUBE_TEE"}
    assert config["users"][0]["name"] == "teecube" and "tee" in config["users"][0]["groups"]


def _measure(tmp_path: Path, cmdline: str, vcpus: int, vcpu_type: str = "EPYC-v4") -> str:
    ovmf = build_ovmf(tmp_path / "OVMF.fd")
    (tmp_path / "vmlinuz").write_bytes(b"kernel image bytes")
    (tmp_path / "initrd.img").write_bytes(b"initrd bytes")
    (tmp_path / "cmdline.txt").write_text(cmdline + "\n")  # a trailing newline is not measured
    result = subprocess.run(
        [str(MEASURE), str(ovmf), str(tmp_path / "vmlinuz"), str(tmp_path / "initrd.img"),
         str(tmp_path / "cmdline.txt"), str(vcpus), vcpu_type],
        capture_output=True, text=True, env={"PATH": f"{BIN}:/usr/bin:/bin"}, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    value = result.stdout.strip()
    assert len(value) == 96 and int(value, 16) >= 0, value  # SHA-384, hex
    return value


CMDLINE = "console=ttyS0 root=/dev/mapper/root roothash=" + "ab" * 32


@pytest.mark.slow
def test_measure_snp_depends_on_every_launch_input(tmp_path: Path) -> None:
    base = _measure(tmp_path, CMDLINE, 16)
    assert _measure(tmp_path, CMDLINE, 16) == base  # deterministic
    assert _measure(tmp_path, CMDLINE.replace("ab", "cd"), 16) != base  # another root filesystem
    assert _measure(tmp_path, CMDLINE, 8) != base
    assert _measure(tmp_path, CMDLINE, 16, "EPYC-Milan") != base


def test_measure_snp_refuses_missing_inputs(tmp_path: Path) -> None:
    result = subprocess.run([str(MEASURE), str(tmp_path / "none.fd"), "k", "i", "c", "4"],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "no such file" in result.stderr
    assert subprocess.run([str(MEASURE)], capture_output=True).returncode == 2


@pytest.mark.parametrize("section", ["sev-snp", "simulated"])
@pytest.mark.slow
def test_the_measurement_goes_into_the_policy_allow_list(tmp_path: Path, section: str) -> None:
    """docs/deploy.md's flow: compute, write into `[<section>] measurements`, clients enforce it."""
    expected = _measure(tmp_path, CMDLINE, 16)
    other = _measure(tmp_path, CMDLINE, 8)  # the host launched it with fewer vCPUs
    path = tmp_path / "policy.toml"
    path.write_text(f'require_gpu = false\n\n["{section}"]\nmeasurements = ["{expected}"]\n'
                    "allow_debug = false\nallow_migration_agent = false\n")
    pol = policy_file.load(path).section(section)
    assert pol.measurements == [expected]
    if section == "sev-snp":
        return  # a real SNP report needs AMD hardware; the simulated one runs the same validator
    for launched, ok in ((expected, True), (other, False)):
        sim = SimulatedSnp(tmp_path / "sim", measurement=bytes.fromhex(launched))
        ev = sim.get_evidence(b"\x11" * 64)
        verdict = check(ev.report, ev.certs["vcek"], ev.certs["chain"], product=ev.product, policy=pol,
                        trusted_simulated_root=sim.root_pem)
        (measured,) = [c for c in verdict.checks if c.name == "measurement"]
        assert measured.ok is ok and verdict.ok is ok, verdict.failures()
