"""The action table drives all three interfaces: every operator action is reachable from
`teecube admin`, the admin API and the console, and a bad value gets the same message in each."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from domains.cli import DEST, _admin_parser, admin_main
from domains.operator_actions import ACTIONS, Action, ActionInvalid, parse
from proxy.console.web import routes as console_routes  # filled once proxy.console is imported
from proxy.routes.admin import routes as admin_routes
from tests.proxy.conftest import ProxyThread, Tenancy, database_url_for, proxy_config

TOKEN = "op-token-for-operator-actions-0123456789"
REGEX = re.compile(r"\{(\w+):[^}]*\}")
# Console POST routes that are not operator actions: signing in and out.
NOT_ACTIONS = {"/console/login", "/console/logout"}


def _canonical(path: str) -> str:
    return REGEX.sub(r"{\1}", path)


def _routes(table: Any) -> set[tuple[str, str]]:
    return {(r.method, _canonical(r.path)) for r in table}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def _cli_parser(words: tuple[str, ...]) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = _admin_parser()
    for word in words:
        parser = _subcommands(parser)[word]
    return parser


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_every_action_is_in_all_three_interfaces(action: Action) -> None:
    parser = _cli_parser(action.cli)
    assert parser.get_default("action_def") is action
    dests = {a.dest for a in parser._actions}
    assert {DEST + f.name for f in action.fields} <= dests  # every field has its flag or positional

    api = _routes(admin_routes)
    for method, path in (action.http, *action.also_http):
        assert (method, _canonical(path)) in api

    method, path = action.console
    assert (method, "/console" + _canonical(path)) in _routes(console_routes)


def test_the_admin_api_doc_lists_every_action() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "admin-api.md").read_text()
    assert [a.name for a in ACTIONS if f"| {a.name} |" not in doc] == []


def test_no_interface_has_an_action_the_table_lacks() -> None:
    table_api = {(m, _canonical(p)) for a in ACTIONS for m, p in (a.http, *a.also_http)}
    assert _routes(admin_routes) == table_api
    table_console = {
        ("POST", "/console" + _canonical(a.console[1])) for a in ACTIONS if a.console[0] == "POST"
    }
    console_posts = {r for r in _routes(console_routes) if r[0] == "POST" and r[1] not in NOT_ACTIONS}
    assert console_posts == table_console
    words = {a.cli for a in ACTIONS}
    cli = set()
    for top, parser in _subcommands(_admin_parser()).items():
        if parser.get_default("action_def") is not None:
            cli.add((top,))
        else:
            cli |= {(top, w) for w in _subcommands(parser)}
    assert cli == words


# ---- the same bad value, the same message ------------------------------------------------------

# (CLI argv, API method, path, JSON body, the field): each value is refused by the action's input.
CASES = [
    (
        ["domain", "create", "d1", "--max-n", "0"],
        "POST",
        "/admin/v1/domains",
        {"name": "d1", "max_n": 0},
        "max_n",
    ),
    (
        ["domain", "create", "d1", "--guardrail-fail-mode", "maybe"],
        "POST",
        "/admin/v1/domains",
        {"name": "d1", "guardrail_fail_mode": "maybe"},
        "guardrail_fail_mode",
    ),
    (
        ["domain", "update", "d1", "--rpm", "-5"],
        "PATCH",
        "/admin/v1/domains/d1",
        {"requests_per_minute": -5},
        "requests_per_minute",
    ),
    (
        ["deployment", "add", "x", "--kind", "gopher", "--url", "http://h", "--served-model-name", "m"],
        "POST",
        "/admin/v1/deployments",
        {"name": "x", "kind": "gopher", "url": "http://h", "served_model_name": "m"},
        "kind",
    ),
    (
        ["key", "create", "--domain", "d1", "--expires-in", "0"],
        "POST",
        "/admin/v1/domains/d1/keys",
        {"expires_in_seconds": 0},
        "expires_in_seconds",
    ),
    (
        ["key", "create", "--domain", "d1", "--expires-at", "tomorrow"],
        "POST",
        "/admin/v1/domains/d1/keys",
        {"expires_at": "tomorrow"},
        "expires_at",
    ),
    (
        ["key", "create", "--domain", "d1", "--expires-at", "2099-01-01T00:00:00Z", "--expires-in", "60"],
        "POST",
        "/admin/v1/domains/d1/keys",
        {"expires_at": "2099-01-01T00:00:00Z", "expires_in_seconds": 60},
        "expires_in_seconds",
    ),
    (["audit", "list", "--limit", "5000"], "GET", "/admin/v1/audit?limit=5000", None, "limit"),
    (["usage", "--since", "yesterday"], "GET", "/admin/v1/usage?since=yesterday", None, "since"),
    (
        ["policy", "activate", "--domain", "d1", "--version", "0"],
        "POST",
        "/admin/v1/domains/d1/guardrail-policies/0/activate",
        None,
        "version",
    ),
]


@pytest.fixture(scope="module")
def served_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ProxyThread]]:
    urls = database_url_for("sqlite", tmp_path_factory, "actions")
    url = next(urls)
    Tenancy(url)
    served = ProxyThread(proxy_config(url, operator_token=TOKEN)).start()
    yield url, served
    served.stop()
    urls.close()


@pytest.mark.parametrize(("argv", "method", "path", "body", "field"), CASES, ids=lambda v: str(v)[:40])
def test_cli_and_api_refuse_a_value_with_the_same_message(
    served_proxy: tuple[str, ProxyThread],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    method: str,
    path: str,
    body: Any,
    field: str,
) -> None:
    url, served = served_proxy
    assert admin_main([*argv, "--database-url", url]) == 2
    cli_error = capsys.readouterr().err
    resp = httpx2.request(
        method,
        served.base_url + path,
        content=None if body is None else json.dumps(body),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        trust_env=False,
    )
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["param"] == field and error["code"] == "invalid_request"
    assert error["message"] in cli_error and cli_error.count("\n") == 1


def test_a_refused_policy_names_the_field_alike(
    served_proxy: tuple[str, ProxyThread], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url, served = served_proxy
    config = {"version": 1, "rules": [{"id": "x"}]}
    (tmp_path / "bad.json").write_text(json.dumps(config))
    assert (
        admin_main(["policy", "validate", "--file", str(tmp_path / "bad.json"), "--database-url", url]) == 1
    )
    cli_error = capsys.readouterr().err
    resp = httpx2.post(
        served.base_url + "/admin/v1/guardrail-policies/validate",
        json={"config": config},
        headers={"Authorization": f"Bearer {TOKEN}"},
        trust_env=False,
    )
    error = resp.json()["error"]
    assert resp.status_code == 400 and error["param"] == "config.rules[0].scanner"
    assert error["message"] in cli_error
    ok = httpx2.post(
        served.base_url + "/admin/v1/guardrail-policies/validate",
        json={"config": {"version": 1, "rules": []}},
        headers={"Authorization": f"Bearer {TOKEN}"},
        trust_env=False,
    )
    assert ok.json() == {"valid": True}


def test_audit_filters(served_proxy: tuple[str, ProxyThread], capsys: pytest.CaptureFixture[str]) -> None:
    url, served = served_proxy
    assert admin_main(["domain", "create", "audited", "--database-url", url, "--actor", "cli:filter"]) == 0
    assert admin_main(["domain", "create", "other", "--database-url", url, "--actor", "cli:other"]) == 0
    capsys.readouterr()
    assert (
        admin_main(
            [
                "audit",
                "list",
                "--by",
                "cli:filter",
                "--event",
                "domain.create",
                "--database-url",
                url,
                "--json",
            ]
        )
        == 0
    )
    events = json.loads(capsys.readouterr().out)
    assert [(e["actor"], e["object_id"]) for e in events] == [("cli:filter", "audited")]
    assert admin_main(["audit", "list", "--database-url", url, "--json", "--actor", "cli:nobody"]) == 0
    actors = {e["actor"] for e in json.loads(capsys.readouterr().out)}
    assert {"cli:filter", "cli:other"} <= actors  # --actor is who acts, not a filter
    resp = httpx2.get(
        served.base_url + "/admin/v1/audit",
        params={"actor": "cli:filter", "object_type": "domain"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        trust_env=False,
    )
    assert [e["object_id"] for e in resp.json()["data"]] == ["audited"]


def test_console_forms_get_the_same_messages() -> None:
    """A console form is parsed by the same function, from text: the message is the API's."""
    by_name = {a.name: a for a in ACTIONS}
    for name, form, body in [
        ("domain.create", {"name": "d", "max_n": "0"}, {"name": "d", "max_n": 0}),
        ("key.create", {"domain": "d", "expires_in_seconds": "0"}, {"domain": "d", "expires_in_seconds": 0}),
        (
            "deployment.add",
            {"name": "x", "kind": "gopher", "url": "u", "served_model_name": "m"},
            {"name": "x", "kind": "gopher", "url": "u", "served_model_name": "m"},
        ),
    ]:
        messages = []
        for raw, source in ((form, "form"), (body, "json")):
            with pytest.raises(ActionInvalid) as caught:
                parse(by_name[name].input, raw, source)
            messages.append((str(caught.value), caught.value.param))
        assert messages[0] == messages[1]
