"""Console review: JSON text in a form field that the admin API refuses was a 500 or was taken.

The policy editor, "try it" and an identity provider's static keys parse JSON from a textarea.
Nested a thousand brackets deep it was a 500 (RecursionError from the JSON scanner); a lone
surrogate (`"\\ud800"`) was a 500 when the page showed it back (no page encodes it); NaN was
taken. `domains.operator_actions.fields` now refuses them as the admin API's body parser does
(proxy/body.py), naming the field, for the console and `teecube admin` alike.
"""

from __future__ import annotations

import re

import pytest

from domains.operator_actions import ActionInvalid, parse
from domains.operator_actions.inputs import KeyCreate, PolicyValidate
from tests.console.review import flashes, secured

DEEP = '{"version": 1, "rules": [], "x": ' + "[" * 20_000 + "]" * 20_000 + "}"


@pytest.mark.parametrize("config, message", [
    (DEEP, "config is not valid JSON."),
    ('{"version": 1, "rules": [], "x": ' + "[" * 100 + "]" * 100 + "}", "config is nested too deeply"),
    ('{"version": 1, "rules": [], "\\ud800": 1}', "config holds text that is not valid Unicode."),
    ('{"version": 1, "rules": [], "x": NaN}', "config is not valid JSON."),
])
@pytest.mark.parametrize("path", ["/console/domains/acme/policies", "/console/domains/acme/policies/try"])
def test_policy_json_the_api_refuses_is_refused_by_the_editor(http, operator, config, message, path) -> None:
    cookie, csrf = operator
    r = http.post(path, data={"csrf": csrf, "config": config, "sample": "hello"}, headers=cookie)
    assert r.status_code == 400, r.text[:300]
    assert any(f.startswith(message) for f in flashes(r.text)), flashes(r.text)
    secured(r)


def test_static_keys_nested_past_the_parser_are_refused(http, operator) -> None:
    cookie, csrf = operator
    form = {"csrf": csrf, "issuer": "https://issuer.example", "audience": "a", "algorithms": "RS256",
            "domain_claim": "tenant", "domain_claim_value": "acme", "static_keys": "[" * 20_000}
    r = http.post("/console/domains/acme/idps", data=form, headers=cookie)
    assert r.status_code == 303 and r.headers["Location"] == "/console/domains/acme"
    page = http.get("/console/domains/acme", headers=cookie).text
    assert "static_keys must be a list of PEM strings or JWK objects." in flashes(page)
    assert "https://issuer.example" not in page  # not added


@pytest.mark.parametrize("text, message", [
    ("[" * 5_000, "is not valid JSON."),
    ('{"a": Infinity}', "is not valid JSON."),
    ('{"a": 1e999}', "holds a number that is not finite."),
    ('{"a": "\\udc80"}', "holds text that is not valid Unicode."),
    ('{"a": ' + "[" * 65 + "]" * 65 + "}", "is nested too deeply (at most 64 levels)."),
])
def test_the_one_parse_refuses_what_the_admin_api_body_parser_refuses(text, message) -> None:
    for source in ("form", "text"):  # the console's forms, `teecube admin`'s files
        with pytest.raises(ActionInvalid, match=re.escape("config " + message)) as caught:
            parse(PolicyValidate, {"config": text}, source)
        assert caught.value.param == "config"
    ok = '{"version": 1, "rules": [], "a": ' + "[" * 60 + "]" * 60 + "}"
    assert parse(PolicyValidate, {"config": ok}, "form").config["version"] == 1
    with pytest.raises(ActionInvalid, match="name holds text that is not valid Unicode"):  # argv bytes
        parse(KeyCreate, {"domain": "d", "name": "caf\udce9"}, "text")
