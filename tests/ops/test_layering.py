"""Which package may import which: checked on the source (AST) and in fresh interpreters."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _imports(package: str) -> list[tuple[Path, str]]:
    found = []
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found += [(path, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((path, node.module))
    return found


# `teecube bench serve --start-proxy / --proxy-attest` measures the engine through the proxy: these
# two bench modules reach the proxy's harness and the attestation client, lazily, inside functions.
BENCH_BRIDGES = {"engine/bench/serve_proxy.py", "engine/bench/serve.py"}


@pytest.mark.parametrize(("package", "forbidden"), [
    ("engine", ("teecube", "proxy", "domains", "attestation")),
    ("attestation", ("engine", "proxy", "domains", "teecube")),
    ("proxy/routes/admin", ("domains.cli_format", "domains.cli")),
])
def test_package_does_not_import(package: str, forbidden: tuple[str, ...]) -> None:
    bad = [f"{path.relative_to(REPO)}: {name}" for path, name in _imports(package)
           if any(name == f or name.startswith(f + ".") for f in forbidden)
           and str(path.relative_to(REPO)) not in BENCH_BRIDGES]
    assert not bad


def test_nothing_outside_the_directory_uses_its_private_cache() -> None:
    users = [p.relative_to(REPO) for p in (REPO / "proxy").rglob("*.py")
             if p.name != "directory.py" and "._cached(" in p.read_text()]
    assert not users


@pytest.mark.slow
@pytest.mark.parametrize("first", ["proxy.directory", "proxy.auth", "proxy.auth.jwt_auth"])
def test_auth_and_directory_import_without_a_cycle(first: str) -> None:
    code = (f"import sys; import {first}; "
            "print('proxy.auth' in sys.modules if '{first}' == 'proxy.directory' else 'ok')").replace(
        "{first}", first)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert p.returncode == 0, p.stderr
    # the directory no longer pulls in the auth package (which imports the directory)
    assert p.stdout.strip() in ("False", "ok")


def test_one_version_string() -> None:
    hits = [p.relative_to(REPO) for pkg in ("engine", "proxy", "domains", "attestation", "teecube")
            for p in (REPO / pkg).rglob("*.py") if "0.1.0" in p.read_text()]
    assert not hits  # the version lives in pyproject.toml only
