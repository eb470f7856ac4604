"""docs/deploy.md: the files it names exist, and the operator commands it shows really work
(`teecube admin`/`teecube db` lines run in order, in-process, against a fresh SQLite file)."""

from __future__ import annotations

import contextlib
import io
import re
import secrets
import shlex
from pathlib import Path

import pytest
import yaml
from deploy_helpers import REPO, parse_role

from teecube.cli import main as teecube_main

DOC = REPO / "docs" / "deploy.md"
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]+$|<")  # KEY_ID, REVISION, <hex>


def _code_lines() -> list[str]:
    lines, pending, inside = [], "", False
    for raw in DOC.read_text().splitlines():
        if raw.startswith("```"):
            inside = not inside
            continue
        if not inside:
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        lines.append(pending + raw)
        pending = ""
    return lines


def _teecube_commands() -> list[list[str]]:
    """argv after `teecube` on each code line (plain, `docker compose exec …`, `kubectl exec … --`)."""
    out = []
    for line in _code_lines():
        line = line.split("#", 1)[0]
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if "teecube" in words:
            out.append(words[words.index("teecube") + 1:])
    return out


def test_named_files_exist() -> None:
    text = DOC.read_text()
    # Repository files: a path under deploy/, docs/ or attestation/ with an extension (not
    # `kubectl exec deploy/teecube-proxy`, a Kubernetes name).
    files = r"(?:deploy|docs|attestation)/[\w./-]*\.\w+|docker-compose\.yml"
    named = set(re.findall(rf"(?<![\w/])({files})", text))
    assert "deploy/docker/entrypoint.sh" in named
    for name in named:
        path = REPO / name
        # compose.env, k8s/secret.yaml: the operator's copies of compose.env.example, secret.example.yaml
        templates = (Path(f"{path}.example"), path.with_name(f"{path.stem}.example{path.suffix}"))
        assert path.exists() or any(t.exists() for t in templates), name


def test_operator_commands_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEECUBE_DATABASE_URL", f"sqlite:///{tmp_path}/doc.db")
    monkeypatch.setenv("TEECUBE_PEPPER", secrets.token_hex(32))
    runnable = [c for c in _teecube_commands()
                if c and c[0] in ("admin", "db") and not any(PLACEHOLDER.search(w) for w in c)]
    kinds = {" ".join(c[:3]) for c in runnable}
    assert {"admin deployment add", "admin domain create", "admin key create"} <= kinds, kinds
    assert teecube_main(["db", "upgrade"]) == 0
    for argv in runnable:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = teecube_main(argv)
        assert code == 0, f"teecube {' '.join(argv)}: {out.getvalue()}"


def test_the_documented_engine_socket_is_where_serve_puts_it() -> None:
    """The compose registration names the socket `teecube serve --state-dir D` creates: D/run/engine.sock."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    state_dir = parse_role(compose["services"]["appliance"]["command"]).state_dir
    urls = [c[c.index("--url") + 1] for c in _teecube_commands() if "--url" in c]
    assert f"unix:{state_dir}/run/engine.sock" in urls
