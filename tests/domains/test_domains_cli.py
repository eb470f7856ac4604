"""`teecube admin` and `teecube db` end to end: in-process with --json, and as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from domains.cli import admin_main, db_main
from domains.keys import resolve_key

PEPPER = "cli-test-pepper-" + "0123456789abcdef" * 2
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def admin(db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    monkeypatch.setenv("TEECUBE_PEPPER", PEPPER)

    def run(*argv: str, expect: int = 0) -> Any:
        code = admin_main([*argv, "--database-url", db_url, "--json", "--actor", "cli:tester"])
        out, err = capsys.readouterr()
        assert code == expect, err
        if expect:
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
            return err
        return json.loads(out)

    return run


@pytest.mark.slow
def test_admin_end_to_end_json(admin: Any, factory: sessionmaker[Session]) -> None:
    dom = admin("domain", "create", "acme", "--rpm", "60", "--guardrail-fail-mode", "open")
    assert (dom["name"], dom["status"], dom["requests_per_minute"], dom["guardrail_fail_mode"]) == (
        "acme",
        "active",
        60,
        "open",
    )
    dep = admin(
        "deployment",
        "add",
        "vllm",
        "--kind",
        "openai",
        "--url",
        "http://10.1.2.3:8000/v1",
        "--served-model-name",
        "meta-llama/Llama-3.1-8B-Instruct",
        "--credential-ref",
        "env:VLLM_KEY",
        "--context-length",
        "8192",
    )
    assert dep["credential_ref"] == "env:VLLM_KEY" and dep["context_length"] == 8192
    assert [d["name"] for d in admin("deployment", "list")] == ["vllm"]
    grant = admin("grant", "--domain", "acme", "--alias", "llama", "--deployment", "vllm", "--tpm", "1000")
    assert (grant["domain"], grant["alias"], grant["deployment"], grant["tokens_per_minute"]) == (
        "acme",
        "llama",
        "vllm",
        1000,
    )
    assert [g["alias"] for g in admin("models", "--domain", "acme")] == ["llama"]

    created = admin(
        "key", "create", "--domain", "acme", "--name", "ci", "--models", "llama", "--expires-in", "30d"
    )
    key, secret = created["key"], created["secret"]
    assert secret.startswith("sk-tc-") and key["prefix"] == secret[:10] and "secret_hash" not in key
    assert key["allowed_aliases"] == ["llama"] and key["expires_at"]
    listed = admin("key", "list", "--domain", "acme")
    assert [k["key_id"] for k in listed] == [key["key_id"]]
    assert secret not in json.dumps(listed) and all("secret_hash" not in k for k in listed)
    with factory() as s:
        assert resolve_key(s, secret, PEPPER.encode()) is not None

    rotated = admin("key", "rotate", key["key_id"])
    assert rotated["key"]["key_id"] == key["key_id"] and rotated["secret"] != secret
    revoked = admin("key", "revoke", key["key_id"])
    assert revoked["revoked_at"] is not None
    with factory() as s:
        assert resolve_key(s, secret, PEPPER.encode()) is None
        assert resolve_key(s, rotated["secret"], PEPPER.encode()) is None

    assert admin("revoke", "--domain", "acme", "--alias", "llama") == {
        "alias": "llama",
        "domain": "acme",
        "deleted": True,
    }
    assert admin("domain", "disable", "acme")["status"] == "disabled"
    assert [d["status"] for d in admin("domain", "list")] == ["disabled"]
    events = admin("audit", "list", "--limit", "100")
    assert {e["actor"] for e in events} == {"cli:tester"}
    assert [e["action"] for e in reversed(events)] == [
        "domain.create",
        "deployment.add",
        "grant.set",
        "key.create",
        "key.rotate",
        "key.revoke",
        "grant.revoke",
        "domain.disable",
    ]


@pytest.mark.slow
def test_admin_policy_and_idp(admin: Any, tmp_path: Path) -> None:
    admin("domain", "create", "acme")
    assert [(p["version"], p["active"]) for p in admin("policy", "list", "--domain", "acme")] == [(1, True)]
    policy_file = tmp_path / "policy.json"
    rule = {"id": "pii.email", "scanner": "email", "input": "mask", "output": "off"}
    config = {"version": 1, "rules": [rule]}
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({"version": 1, "rules": ["pii.email"]}))
    err = admin("policy", "set", "--domain", "acme", "--file", str(invalid), "--activate", expect=1)
    assert "rules[0]" in err  # the proxy's compiler names the field; nothing is stored
    assert [p["version"] for p in admin("policy", "list", "--domain", "acme")] == [1]
    policy_file.write_text(json.dumps(config))
    assert admin("policy", "set", "--domain", "acme", "--file", str(policy_file))["active"] is False
    assert (
        admin("policy", "set", "--domain", "acme", "--file", str(policy_file), "--activate")["version"] == 3
    )
    assert admin("policy", "activate", "--domain", "acme", "--version", "2")["active"] is True
    assert admin("policy", "show", "--domain", "acme")["config"] == config
    idp = admin(
        "idp",
        "add",
        "--domain",
        "acme",
        "--issuer",
        "https://login.acme.test",
        "--audience",
        "teecube",
        "--algorithms",
        "RS256,ES256",
        "--domain-claim",
        "tenant",
        "--domain-claim-value",
        "acme",
        "--jwks-url",
        "https://login.acme.test/jwks",
    )
    assert idp["algorithms"] == ["ES256", "RS256"] and idp["domain"] == "acme"
    assert [i["issuer"] for i in admin("idp", "list")] == ["https://login.acme.test"]
    err = admin(
        "idp",
        "add",
        "--domain",
        "acme",
        "--issuer",
        "https://x.test",
        "--audience",
        "a",
        "--algorithms",
        "HS256",
        "--domain-claim",
        "t",
        "--domain-claim-value",
        "v",
        "--jwks-url",
        "https://x.test/j",
        expect=1,
    )
    assert "HS256" in err
    assert admin("idp", "remove", "https://login.acme.test")["deleted"] is True
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert "not valid JSON" in admin("policy", "set", "--domain", "acme", "--file", str(bad), expect=2)


def test_admin_errors_are_one_line(admin: Any) -> None:
    admin("domain", "create", "acme")
    assert "already exists" in admin("domain", "create", "acme", expect=1)
    assert "not found" in admin("key", "revoke", "key_000000000000", expect=1)
    assert "not found" in admin("key", "create", "--domain", "nope", expect=1)
    assert "credentials in the URL" in admin(
        "deployment",
        "add",
        "d",
        "--kind",
        "openai",
        "--url",
        "http://u:p@h/",
        "--served-model-name",
        "m",
        expect=1,
    )
    assert "invalid choice" in admin("key", "explode", expect=2)
    assert "requests_per_minute must be a positive integer" in admin(
        "domain", "create", "x", "--rpm", "ten", expect=2
    )


def test_human_tables_and_secret_notice(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEECUBE_PEPPER", PEPPER)
    assert admin_main(["domain", "create", "acme", "--database-url", db_url]) == 0
    assert admin_main(["key", "create", "--domain", "acme", "--database-url", db_url]) == 0
    assert admin_main(["domain", "list", "--database-url", db_url]) == 0
    out = capsys.readouterr().out
    assert "NAME  STATUS" in out and "not be shown again" in out and "secret: sk-tc-" in out


@pytest.mark.slow
def test_deployment_update_and_status(admin: Any) -> None:
    admin(
        "deployment",
        "add",
        "d",
        "--kind",
        "ollama",
        "--url",
        "http://127.0.0.1:11434",
        "--served-model-name",
        "m",
    )
    updated = admin(
        "deployment", "update", "d", "--url", "unix:/run/e.sock", "--credential-ref", "file:/run/k"
    )
    assert (updated["url"], updated["credential_ref"], updated["served_model_name"]) == (
        "unix:/run/e.sock",
        "file:/run/k",
        "m",
    )
    assert admin("deployment", "update", "d", "--unset", "credential_ref")["credential_ref"] is None
    assert admin("deployment", "disable", "d")["status"] == "disabled"
    assert admin("deployment", "enable", "d")["status"] == "active"
    assert "invalid upstream URL" in admin("deployment", "update", "d", "--url", "gopher://x", expect=1)
    actions = [e["action"] for e in admin("audit", "list")]
    assert actions.count("deployment.update") == 2 and "deployment.disable" in actions


@pytest.mark.slow
def test_domain_update(admin: Any) -> None:
    admin("domain", "create", "acme", "--rpm", "10")
    updated = admin(
        "domain", "update", "acme", "--tpm", "5000", "--max-n", "2", "--guardrail-fail-mode", "open"
    )
    assert (updated["requests_per_minute"], updated["tokens_per_minute"], updated["max_n"]) == (10, 5000, 2)
    assert updated["guardrail_fail_mode"] == "open"
    assert admin("domain", "update", "acme", "--unset", "requests_per_minute")["requests_per_minute"] is None
    assert "positive" in admin("domain", "update", "acme", "--max-messages", "0", expect=2)
    events = [e for e in admin("audit", "list") if e["action"] == "domain.update"]
    assert len(events) == 2 and events[-1]["before"]["tokens_per_minute"] is None
    assert events[-1]["after"]["tokens_per_minute"] == 5000


@pytest.mark.slow
def test_db_cli_and_unmigrated_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert admin_main(["domain", "list", "--database-url", url]) == 1
    assert "teecube db upgrade" in capsys.readouterr().err
    assert db_main(["upgrade", "--database-url", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["revision"] == "0002"
    assert db_main(["downgrade", "base", "--database-url", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["revision"] is None
    assert db_main(["current", "--database-url", url]) == 0
    assert "revision none" in capsys.readouterr().out
    assert db_main(["downgrade", "--database-url", url]) == 2
    assert db_main(["upgrade", "nonexistent", "--database-url", url]) == 1
    assert "Traceback" not in capsys.readouterr().err


def _teecube(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEECUBE_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "teecube.cli", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_cli_from_another_directory_uses_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real entry point, and the default database var/teecube.db under the cwd."""
    upgraded = _teecube(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "var" / "teecube.db").is_file()
    monkeypatch.chdir(tmp_path)
    for name in ("TEECUBE_DATABASE_URL", "TEECUBE_PEPPER", "TEECUBE_PEPPER_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert admin_main(["domain", "create", "acme"]) == 0
    assert admin_main(["key", "create", "--domain", "acme"]) == 1
    assert "no pepper" in capsys.readouterr().err
    (tmp_path / "var" / "pepper").write_text(PEPPER)
    assert admin_main(["key", "create", "--domain", "acme", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["secret"].startswith("sk-tc-")
    broken = _teecube(tmp_path, "admin", "key", "rotate", "key_nope", "--json")
    assert broken.returncode == 1 and broken.stderr.count("\n") == 1 and "Traceback" not in broken.stderr
    assert "not found" in broken.stderr
