"""Review: `teecube admin` and `teecube db` exit non-zero with one line, never a traceback, for input
files and database URLs they cannot use. Before:

- a policy or static-key file nested a thousand brackets deep: RecursionError traceback;
- a file (or stdin) that is not UTF-8: UnicodeDecodeError traceback;
- `teecube db current --database-url 'not a url'`: ArgumentError traceback (the URL was parsed,
  to be shown without its password, outside the command's error handling).

And `--pepper-file` lost to the environment's pepper (last test).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from domains import db
from domains.cli import admin_main, db_main
from domains.keys import resolve_key

IDP = ["idp", "add", "--domain", "acme", "--issuer", "https://issuer.example", "--audience", "a",
       "--algorithms", "RS256", "--domain-claim", "tenant", "--domain-claim-value", "acme"]


@pytest.fixture
def url(tmp_path: Path) -> str:
    found = f"sqlite:///{tmp_path / 'cli.db'}"
    db.upgrade(found)
    assert admin_main(["domain", "create", "acme", "--database-url", found]) == 0
    return found


def _one_line(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("teecube: error: ") and all(n in err for n in needles), err
    return err


@pytest.mark.parametrize("argv", [
    ["policy", "validate", "--file"],
    ["policy", "set", "--domain", "acme", "--file"],
    [*IDP, "--static-key-file"],
])
def test_json_nested_past_the_parser(url, tmp_path, capsys, argv) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text('{"version": 1, "rules": [], "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    capsys.readouterr()
    assert admin_main([*argv, str(deep), "--database-url", url]) == 2
    _one_line(capsys, "argument --")


def test_json_nested_deeper_than_the_admin_api_takes(url, tmp_path, capsys) -> None:
    nested = tmp_path / "nested.json"
    nested.write_text('{"version": 1, "rules": [], "x": ' + "[" * 100 + "]" * 100 + "}")
    capsys.readouterr()
    assert admin_main(["policy", "validate", "--file", str(nested), "--database-url", url]) == 2
    _one_line(capsys, "config is nested too deeply")


@pytest.mark.parametrize("argv", [["policy", "validate", "--file"], [*IDP, "--static-key-file"]])
def test_a_file_that_is_not_utf8(url, tmp_path, capsys, argv) -> None:
    binary = tmp_path / "key.bin"
    binary.write_bytes(b"\xff\xfe\x00-----BEGIN")
    capsys.readouterr()
    assert admin_main([*argv, str(binary), "--database-url", url]) == 1
    _one_line(capsys, f"cannot read {binary}: not UTF-8 text")


def test_stdin_that_is_not_utf8(url, capsys, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b'{"version": \xff}'), encoding="utf-8"))
    capsys.readouterr()
    assert admin_main(["policy", "validate", "--file", "-", "--database-url", url]) == 1
    _one_line(capsys, "cannot read -: not UTF-8 text")


@pytest.mark.parametrize("bad", ["not a url s3cret", "postgresql://u:s3cret@127.0.0.1:notaport/db"])
def test_db_and_admin_with_a_database_url_that_does_not_parse(capsys, bad) -> None:
    for main, argv in ((db_main, ["current"]), (admin_main, ["domain", "list"])):
        capsys.readouterr()
        assert main([*argv, "--database-url", bad]) == 1
        assert "s3cret" not in _one_line(capsys)


def test_pepper_file_flag_wins_over_the_environment(url, tmp_path, capsys, monkeypatch) -> None:
    """`--pepper-file` was ignored whenever TEECUBE_PEPPER or TEECUBE_PEPPER_FILE was set: the key
    was hashed with another pepper than the operator named (or the command failed on the env's)."""
    flag_pepper, env_pepper = "f" * 40, "e" * 40
    (tmp_path / "pepper").write_text(flag_pepper + "\n")
    monkeypatch.setenv("TEECUBE_PEPPER", env_pepper)
    monkeypatch.setenv("TEECUBE_PEPPER_FILE", str(tmp_path / "missing"))
    capsys.readouterr()
    assert admin_main(["key", "create", "--domain", "acme", "--pepper-file", str(tmp_path / "pepper"),
                       "--database-url", url, "--json"]) == 0
    secret = json.loads(capsys.readouterr().out)["secret"]
    factory = db.session_factory(url)
    with factory() as s:
        assert resolve_key(s, secret, flag_pepper.encode()) is not None
        assert resolve_key(s, secret, env_pepper.encode()) is None
    factory.kw["bind"].dispose()
    monkeypatch.setenv("TEECUBE_PEPPER", "short")  # without the flag, the environment's pepper
    assert admin_main(["key", "create", "--domain", "acme", "--database-url", url]) == 1
    _one_line(capsys, "pepper from TEECUBE_PEPPER is too short")


def test_a_value_and_unset_for_one_field_is_a_usage_error(url, capsys) -> None:
    """`domain update acme --rpm 5 --unset requests_per_minute` silently cleared the limit."""
    assert admin_main(["domain", "update", "acme", "--rpm", "7", "--database-url", url]) == 0
    capsys.readouterr()
    argv = ["domain", "update", "acme", "--rpm", "5", "--unset", "requests_per_minute", "--database-url", url]
    assert admin_main(argv) == 2
    _one_line(capsys, "--unset: requests_per_minute is also given a value (--rpm/--requests-per-minute)")
    assert admin_main(["domain", "show", "acme", "--database-url", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["requests_per_minute"] == 7  # unchanged
    assert admin_main(["domain", "update", "acme", "--unset", "requests_per_minute", "--database-url", url,
                       "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["requests_per_minute"] is None
