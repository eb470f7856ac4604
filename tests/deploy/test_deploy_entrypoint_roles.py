"""deploy/docker/entrypoint.sh's roles on a SQLite file (fast), and the GPU constraints rewrite."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deploy_helpers import DOCKER, ENTRYPOINT, env_with_venv, free_port, teecube_bin
from packaging.requirements import Requirement

from domains import db

_spec = importlib.util.spec_from_file_location("gpu_constraints", DOCKER / "gpu_constraints.py")
assert _spec is not None and _spec.loader is not None
_gpu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_gpu)
gpu_constraints = _gpu.gpu_constraints


def _entry(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ENTRYPOINT), *args], env=env, capture_output=True, text=True, timeout=timeout)


def _env(url: str, **extra: str) -> dict[str, str]:
    return env_with_venv(TEECUBE_DATABASE_URL=url, TEECUBE_BIN=teecube_bin(), **extra)


@pytest.mark.slow
def test_migrate_role_upgrades_to_head_and_exits(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/t.db"
    result = _entry(["migrate"], _env(url))
    assert result.returncode == 0, result.stderr
    assert db.current(url) == db.head()
    assert f"revision {db.head()}" in result.stderr


@pytest.mark.slow
def test_proxy_role_migrates_unless_told_not_to(tmp_path: Path) -> None:
    skipped = f"sqlite:///{tmp_path}/skip.db"
    result = _entry(["proxy", "--help"], _env(skipped, TEECUBE_MIGRATE="0"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: teecube proxy")  # exec'd the real command
    assert "TEECUBE_MIGRATE=0: not migrating" in result.stderr
    assert db.current(skipped) is None

    migrated = f"sqlite:///{tmp_path}/yes.db"
    result = _entry(["proxy", "--help"], _env(migrated))
    assert result.returncode == 0, result.stderr
    assert db.current(migrated) == db.head()


@pytest.mark.slow
def test_engine_role_needs_no_database(tmp_path: Path) -> None:
    # An unreachable database URL: the engine role must not wait for it.
    env = _env(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none", TEECUBE_DB_WAIT="30")
    result = _entry(["engine", "--help"], env, timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: teecube engine")


@pytest.mark.slow
def test_gives_up_on_an_unreachable_database_after_the_wait(tmp_path: Path) -> None:
    env = _env(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none", TEECUBE_DB_WAIT="2")
    start = time.monotonic()
    result = _entry(["serve", "--demo"], env)
    assert result.returncode == 1
    assert "did not answer within 2s" in result.stderr
    assert time.monotonic() - start < 30


@pytest.mark.slow
def test_other_subcommands_pass_through_and_no_role_is_usage(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/t.db"
    result = _entry(["db", "current"], _env(url))
    assert result.returncode == 0 and "revision none" in result.stdout, result.stderr
    result = _entry([], _env(url))
    assert result.returncode == 2 and "usage: entrypoint.sh" in result.stderr


CONSTRAINTS = """# a comment
numpy==2.4.6
nvidia-ml-py==13.615.71
nvidia-cublas-cu12==12.9.1
torch==2.13.0
triton==3.9.0
"""


def test_gpu_constraints_pin_the_base_images_torch_and_keep_the_rest() -> None:
    installed = {"torch": "2.13.0+cu130", "triton": "3.9.0", "nvidia-cublas-cu12": "12.9.0", "numpy": "9"}
    lines = gpu_constraints(CONSTRAINTS.splitlines(), installed)
    pins = [Requirement(ln) for ln in lines if ln and not ln.startswith("#")]
    reqs = {r.name: str(r.specifier) for r in pins}
    assert reqs == {
        "numpy": "==2.4.6",              # repo pin kept, not the interpreter's version
        "nvidia-ml-py": "==13.615.71",   # a PyPI package, not part of the CUDA base
        "nvidia-cublas-cu12": "==12.9.0",
        "torch": "==2.13.0+cu130",
        "triton": "==3.9.0",
    }
    # torch==2.13.0 in pyproject.toml accepts the base image's CUDA build.
    assert Requirement("torch==2.13.0").specifier.contains("2.13.0+cu130")


def test_gpu_constraints_script_on_the_repo_constraints() -> None:
    result = subprocess.run([sys.executable, str(DOCKER / "gpu_constraints.py"), "constraints.txt"],
                            capture_output=True, text=True, cwd=DOCKER.parents[1], check=True)
    names = [Requirement(ln).name for ln in result.stdout.splitlines() if ln and not ln.startswith("#")]
    assert names.count("torch") == 1 and names.count("triton") <= 1
    assert len(names) == len(set(names))
