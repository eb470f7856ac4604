"""Shared by tests/deploy: repo paths, the venv's CLI, free ports, process inspection."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
DOCKER = DEPLOY / "docker"
ENTRYPOINT = DOCKER / "entrypoint.sh"
HEALTHCHECK = DOCKER / "healthcheck.py"
BIN = Path(sys.executable).parent


def teecube_bin() -> str:
    """The installed console script next to this interpreter (what the images put on PATH)."""
    script = BIN / "teecube"
    assert script.exists(), f"no teecube console script at {script}: `make install` first"
    return str(script)


def env_with_venv(**extra: str) -> dict[str, str]:
    """os.environ with this venv's bin first on PATH, as the images have /opt/venv/bin."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEECUBE_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def run_teecube(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([teecube_bin(), *args], env=env, capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return []


def children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


def parse_role(argv: list[str]) -> argparse.Namespace:
    """Parse an image/unit command `ROLE ARGS...` with the real CLI's parser for that role.

    The role is what deploy/docker/entrypoint.sh dispatches on; any flag the real `teecube
    serve|proxy|engine` does not accept fails here (AssertionError with argparse's message).
    """
    role, rest = argv[0], argv[1:]
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            if role == "serve":
                return _parse_serve(rest)
            if role == "proxy":
                from proxy.cli import add_proxy_arguments

                parser = argparse.ArgumentParser(prog="teecube proxy")
                add_proxy_arguments(parser)
                return parser.parse_args(rest)
            if role == "engine":
                from engine.cli import build_parser

                return build_parser().parse_args(rest)
            if role == "migrate":
                assert not rest, f"migrate takes no arguments: {rest}"
                return argparse.Namespace()
    except SystemExit as exc:
        raise AssertionError(f"`teecube {' '.join(argv)}` is refused: {stderr.getvalue().strip()}") from exc
    raise AssertionError(f"unknown role {role!r}")


def _parse_serve(rest: list[str]) -> argparse.Namespace:
    """`teecube serve`'s parser lives inside its main(): run main() with the server stubbed."""
    import teecube.serve as serve

    seen: list[argparse.Namespace] = []

    async def fake_run(args: argparse.Namespace, *_engine_flags_and_start: object) -> int:
        seen.append(args)
        return 0

    with mock.patch.object(serve, "run", fake_run):
        assert serve.main(rest) == 0
    return seen[0]
