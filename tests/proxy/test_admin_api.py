"""The operator admin API against a real proxy and a real database (SQLite; PostgreSQL when
TEECUBE_TEST_DATABASE_URL is set). No upstream is needed: `/v1/models` reads grants only.

Every test uses its own domain names, so tests are independent of order.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import httpx2
import jwt
import openai
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import text

from tests.proxy.conftest import PEPPER, ProxyThread, Tenancy, database_url_for, proxy_config

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
TOKEN = "op-" + secrets.token_urlsafe(24)
ACTOR = "admin-api:operator"
UPSTREAM = "http://127.0.0.1:9/v1"  # never contacted: these tests only list models


class Admin:
    """An HTTP client for /admin/v1 that keeps every response it saw."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx2.Client(base_url=base_url, timeout=30, trust_env=False)
        self.seen: list[tuple[str, str, int, str]] = []

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = TOKEN,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx2.Response:
        hdrs = dict(headers or {})
        if token is not None:
            hdrs.setdefault("Authorization", f"Bearer {token}")
        if body is not None:
            content = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        resp = self.http.request(method, path, content=content, headers=hdrs)
        self.seen.append((method, path, resp.status_code, resp.text))
        return resp

    def ok(self, method: str, path: str, body: Any = None, *, status: int = 200) -> Any:
        resp = self.call(method, path, body)
        assert resp.status_code == status, resp.text
        return resp.json()

    def err(
        self, method: str, path: str, body: Any = None, *, status: int, code: str | None, **kwargs: Any
    ) -> dict[str, Any]:
        resp = self.call(method, path, body, **kwargs)
        assert resp.status_code == status, resp.text
        error = resp.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["code"] == code
        assert "Traceback" not in resp.text
        return error


@pytest.fixture(scope="module", params=BACKENDS)
def world(request, tmp_path_factory) -> Iterator[dict[str, Any]]:
    database = database_url_for(request.param, tmp_path_factory, "admin")
    url = next(database)  # keep the generator alive: closing it drops a PostgreSQL database
    tenancy = Tenancy(url)  # migrates the database
    proxy = ProxyThread(proxy_config(url, operator_token=TOKEN)).start()
    admin = Admin(proxy.base_url)
    yield {"proxy": proxy, "admin": admin, "tenancy": tenancy, "url": url, "backend": request.param}
    admin.http.close()
    proxy.stop()
    tenancy.factory.kw["bind"].dispose()
    database.close()


def _setup(admin: Admin, dom: str, alias: str = "chat") -> str:
    """Operator flow through the API: domain, deployment, grant, key. Returns the key's secret."""
    admin.ok("POST", "/admin/v1/domains", {"name": dom}, status=201)
    admin.ok(
        "POST",
        "/admin/v1/deployments",
        {"name": f"dep-{dom}", "kind": "openai", "url": UPSTREAM, "served_model_name": "m"},
        status=201,
    )
    admin.ok("PUT", f"/admin/v1/domains/{dom}/models/{alias}", {"deployment": f"dep-{dom}"})
    return admin.ok("POST", f"/admin/v1/domains/{dom}/keys", {"name": "k"}, status=201)["secret"]


def _aliases(world, secret: str) -> list[str]:
    return [m.id for m in world["proxy"].client(secret).models.list()]


def _refused(world, secret: str) -> bool:
    try:
        world["proxy"].client(secret).models.list()
    except openai.AuthenticationError:
        return True
    return False


def _audit(world, object_id: str) -> list[dict[str, Any]]:
    with world["tenancy"].factory() as s:
        rows = (
            s.execute(
                text(
                    "SELECT actor, action, object_id, before, after FROM audit_events "
                    "WHERE object_id = :o ORDER BY id"
                ),
                {"o": object_id},
            )
            .mappings()
            .all()
        )
    return [{**r, "before": _json(r["before"]), "after": _json(r["after"])} for r in rows]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


# ---- the operator flow -------------------------------------------------------------------------


def test_operator_flow_key_works_then_revoke_stops_it(world):
    admin = world["admin"]
    secret = _setup(admin, "flow")
    assert secret.startswith("sk-tc-")
    assert _aliases(world, secret) == ["chat"]
    key_id = admin.ok("GET", "/admin/v1/keys?domain=flow")["data"][0]["key_id"]

    revoked = admin.ok("POST", f"/admin/v1/keys/{key_id}/revoke")
    assert revoked["revoked_at"] is not None and revoked["key_id"] == key_id
    # The change drops this proxy's caches: refused on the very next request.
    assert _refused(world, secret)
    # Revoking again changes nothing; rotating a revoked key is a conflict.
    assert admin.ok("POST", f"/admin/v1/keys/{key_id}/revoke")["revoked_at"] == revoked["revoked_at"]
    admin.err("POST", f"/admin/v1/keys/{key_id}/rotate", status=409, code="conflict")
    assert [e["action"] for e in _audit(world, key_id)] == ["key.create", "key.revoke"]


def test_rotation_gives_a_new_secret_and_the_old_one_stops(world):
    admin = world["admin"]
    old = _setup(admin, "rot")
    key_id = admin.ok("GET", "/admin/v1/keys?domain=rot")["data"][0]["key_id"]
    rotated = admin.ok("POST", f"/admin/v1/keys/{key_id}/rotate")
    new = rotated["secret"]
    assert new != old and rotated["key"]["key_id"] == key_id
    assert rotated["key"]["prefix"] == new[:10] and rotated["key"]["rotated_at"]
    assert _refused(world, old)
    assert _aliases(world, new) == ["chat"]
    (event,) = [e for e in _audit(world, key_id) if e["action"] == "key.rotate"]
    assert event["actor"] == ACTOR and event["before"]["prefix"] == old[:10]
    assert event["after"]["prefix"] == new[:10]
    admin.err("POST", "/admin/v1/keys/key_000000000000/rotate", status=404, code="not_found")


def test_secrets_appear_only_in_create_and_rotate_responses(world, log_capture):
    admin = world["admin"]
    start = len(admin.seen)
    first = _setup(admin, "sec")
    key_id = admin.ok("GET", "/admin/v1/keys?domain=sec")["data"][0]["key_id"]
    second = admin.ok("POST", f"/admin/v1/keys/{key_id}/rotate")["secret"]
    restricted = admin.ok(
        "POST",
        "/admin/v1/domains/sec/keys",
        {"allowed_aliases": ["chat"], "expires_in_seconds": 3600, "requests_per_minute": 5},
        status=201,
    )
    assert restricted["key"]["allowed_aliases"] == ["chat"] and restricted["key"]["expires_at"]
    for path in (
        "/admin/v1/keys",
        f"/admin/v1/keys/{key_id}",
        "/admin/v1/keys?domain=sec",
        "/admin/v1/audit?limit=1000",
        "/admin/v1/domains/sec",
        "/admin/v1/domains",
    ):
        admin.ok("GET", path)
    admin.err("GET", "/admin/v1/keys?domain=nope", status=404, code="not_found")

    with world["tenancy"].factory() as s:
        hashes = list(s.execute(text("SELECT secret_hash FROM api_keys")).scalars())
        audit_text = json.dumps([list(r) for r in s.execute(text("SELECT * FROM audit_events"))], default=str)
    forbidden = [PEPPER.decode(), TOKEN, *hashes]
    for secret in (first, second, restricted["secret"]):
        assert secret not in audit_text
        carriers = [(m, p) for m, p, _, body in admin.seen[start:] if secret in body]
        assert len(carriers) == 1 and carriers[0][0] == "POST"
        assert carriers[0][1].endswith(("/keys", "/rotate"))
    for value in forbidden:
        assert value not in audit_text
        assert not [p for _, p, _, body in admin.seen if value in body]
    assert "secret_hash" not in audit_text
    logs = "\n".join(log_capture.lines)
    for value in (first, second, restricted["secret"], *forbidden):
        assert value not in logs
    resp = admin.call("POST", f"/admin/v1/keys/{key_id}/rotate")
    assert resp.headers["Cache-Control"] == "no-store"


# ---- authentication ------------------------------------------------------------------------------


def test_operator_token_required_and_never_echoed(world):
    admin = world["admin"]
    tenant_key = _setup(admin, "authz")
    wrong = "op-" + secrets.token_urlsafe(24)
    for kwargs in (
        {"token": None},
        {"token": wrong},
        {"token": tenant_key},
        {"token": None, "headers": {"Authorization": "Bearer"}},
        {"token": None, "headers": {"Authorization": f"Basic {TOKEN}"}},
        {"token": None, "headers": {"Authorization": TOKEN}},
    ):
        for method, path in (
            ("GET", "/admin/v1/domains"),
            ("POST", "/admin/v1/domains"),
            ("GET", "/admin/v1/audit"),
            ("POST", "/admin/v1/keys/key_x/rotate"),
        ):
            err = admin.err(
                method, path, {"name": "intruder"}, status=401, code="invalid_operator_token", **kwargs
            )
            assert wrong not in json.dumps(err) and tenant_key not in json.dumps(err)
    # Unauthenticated bodies are not read: an oversized one is still a 401, not a 413.
    admin.err(
        "POST",
        "/admin/v1/domains",
        content=b"x" * (300 * 1024),
        token=wrong,
        status=401,
        code="invalid_operator_token",
    )
    admin.err("GET", "/admin/v1/domains/intruder", status=404, code="not_found")


def test_admin_api_is_off_without_an_operator_token(world):
    proxy = ProxyThread(proxy_config(world["url"])).start()
    try:
        resp = httpx2.get(
            f"{proxy.base_url}/admin/v1/domains",
            headers={"Authorization": f"Bearer {TOKEN}"},
            trust_env=False,
        )
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    finally:
        proxy.stop()


# ---- request bodies ------------------------------------------------------------------------------


def test_bad_bodies_are_400_or_413_naming_the_problem(world):
    admin = world["admin"]
    admin.err("POST", "/admin/v1/domains", content=b"{not json", status=400, code="invalid_json")
    admin.err("POST", "/admin/v1/domains", [1, 2], status=400, code="invalid_json")
    admin.err("POST", "/admin/v1/domains", content=b"[" * 200_000, status=400, code="invalid_json")
    err = admin.err(
        "POST", "/admin/v1/domains", {"name": "bodies", "max_n": 10**30}, status=400, code="invalid_request"
    )
    assert err["param"] == "max_n"
    err = admin.err(
        "POST", "/admin/v1/domains", {"name": "bodies", "colour": "red"}, status=400, code="unknown_field"
    )
    assert err["param"] == "colour" and "colour" in err["message"]
    err = admin.err(
        "POST", "/admin/v1/domains", {"name": "bodies", "max_n": "8"}, status=400, code="invalid_request"
    )
    assert err["param"] == "max_n"
    admin.err(
        "POST", "/admin/v1/domains", {"name": "bodies", "max_n": True}, status=400, code="invalid_request"
    )
    err = admin.err("POST", "/admin/v1/domains", {}, status=400, code="invalid_request")
    assert err["param"] == "name"
    big = {"name": "bodies", "pad": "x" * (300 * 1024)}
    admin.err("POST", "/admin/v1/domains", big, status=413, code="request_too_large")
    # Nothing of the above was stored.
    admin.err("GET", "/admin/v1/domains/bodies", status=404, code="not_found")


# ---- domains ---------------------------------------------------------------------------------------


def test_domains(world):
    admin = world["admin"]
    created = admin.ok(
        "POST",
        "/admin/v1/domains",
        {"name": "dom-a", "requests_per_minute": 60, "max_n": 2, "guardrail_fail_mode": "open"},
        status=201,
    )
    assert created["name"] == "dom-a" and created["status"] == "active"
    assert created["requests_per_minute"] == 60 and created["max_n"] == 2
    assert "dom-a" in [d["name"] for d in admin.ok("GET", "/admin/v1/domains")["data"]]
    assert admin.ok("GET", "/admin/v1/domains")["object"] == "list"
    assert admin.ok("GET", "/admin/v1/domains/dom-a")["guardrail_fail_mode"] == "open"
    admin.err("POST", "/admin/v1/domains", {"name": "dom-a"}, status=409, code="conflict")
    err = admin.err("POST", "/admin/v1/domains", {"name": "Bad Name"}, status=400, code="invalid_request")
    assert "domain name" in err["message"]
    admin.err(
        "POST",
        "/admin/v1/domains",
        {"name": "dom-x", "guardrail_fail_mode": "maybe"},
        status=400,
        code="invalid_request",
    )

    patched = admin.ok(
        "PATCH", "/admin/v1/domains/dom-a", {"requests_per_minute": None, "tokens_per_minute": 900}
    )
    assert patched["requests_per_minute"] is None and patched["tokens_per_minute"] == 900
    admin.err("PATCH", "/admin/v1/domains/dom-a", {"max_n": None}, status=400, code="invalid_request")
    admin.err("PATCH", "/admin/v1/domains/dom-a", {"name": "renamed"}, status=400, code="unknown_field")
    admin.err("PATCH", "/admin/v1/domains/ghost", {"max_n": 3}, status=404, code="not_found")

    assert admin.ok("POST", "/admin/v1/domains/dom-a/disable")["status"] == "disabled"
    admin.err("POST", "/admin/v1/domains/dom-a/keys", {}, status=409, code="conflict")
    assert admin.ok("POST", "/admin/v1/domains/dom-a/enable")["status"] == "active"
    admin.err("POST", "/admin/v1/domains/ghost/disable", status=404, code="not_found")

    events = _audit(world, "dom-a")
    assert [e["action"] for e in events] == [
        "domain.create",
        "domain.update",
        "domain.disable",
        "domain.enable",
    ]
    assert all(e["actor"] == ACTOR for e in events)
    update = events[1]
    assert update["before"]["requests_per_minute"] == 60 and update["after"]["requests_per_minute"] is None
    assert events[2]["before"]["status"] == "active" and events[2]["after"]["status"] == "disabled"


def test_disabling_a_domain_stops_its_keys_and_enabling_restores_them(world):
    admin = world["admin"]
    secret = _setup(admin, "dom-b")
    admin.ok("POST", "/admin/v1/domains/dom-b/disable")
    assert _refused(world, secret)
    admin.ok("POST", "/admin/v1/domains/dom-b/enable")
    assert _aliases(world, secret) == ["chat"]


# ---- deployments -----------------------------------------------------------------------------------


def test_deployments(world):
    admin = world["admin"]
    secret = _setup(admin, "depl")
    body = {
        "name": "dep-x",
        "kind": "ollama",
        "url": "http://127.0.0.1:11434",
        "served_model_name": "q",
        "credential_ref": "env:DEP_X_KEY",
        "context_length": 4096,
    }
    created = admin.ok("POST", "/admin/v1/deployments", body, status=201)
    assert {k: created[k] for k in body} == body and created["status"] == "active"
    assert "dep-x" in [d["name"] for d in admin.ok("GET", "/admin/v1/deployments")["data"]]
    admin.err("POST", "/admin/v1/deployments", body, status=409, code="conflict")
    err = admin.err(
        "POST",
        "/admin/v1/deployments",
        body | {"name": "dep-y", "url": "http://u:p@h/"},
        status=400,
        code="invalid_request",
    )
    assert "credentials" in err["message"]
    admin.err(
        "POST",
        "/admin/v1/deployments",
        {"name": "dep-y", "kind": "openai"},
        status=400,
        code="invalid_request",
    )

    patched = admin.ok(
        "PATCH", "/admin/v1/deployments/dep-x", {"url": "http://127.0.0.1:11435", "credential_ref": None}
    )
    assert patched["url"] == "http://127.0.0.1:11435" and patched["credential_ref"] is None
    assert patched["context_length"] == 4096 and patched["served_model_name"] == "q"
    assert admin.ok("GET", "/admin/v1/deployments/dep-x") == patched
    admin.err("PATCH", "/admin/v1/deployments/dep-x", {"kind": "openai"}, status=400, code="unknown_field")
    admin.err("PATCH", "/admin/v1/deployments/ghost", {"url": UPSTREAM}, status=404, code="not_found")

    # A disabled deployment disappears from every domain it is granted to.
    assert admin.ok("POST", "/admin/v1/deployments/dep-depl/disable")["status"] == "disabled"
    assert _aliases(world, secret) == []
    assert admin.ok("POST", "/admin/v1/deployments/dep-depl/enable")["status"] == "active"
    assert _aliases(world, secret) == ["chat"]
    admin.err("POST", "/admin/v1/deployments/ghost/enable", status=404, code="not_found")

    events = _audit(world, "dep-x")
    assert [e["action"] for e in events] == ["deployment.add", "deployment.update"]
    assert (
        events[1]["before"]["credential_ref"] == "env:DEP_X_KEY"
        and events[1]["after"]["credential_ref"] is None
    )


# ---- grants ------------------------------------------------------------------------------------------


def test_grants(world):
    admin = world["admin"]
    secret = _setup(admin, "grants")
    grant = admin.ok(
        "PUT",
        "/admin/v1/domains/grants/models/org/big:v2",
        {"deployment": "dep-grants", "requests_per_minute": 10, "max_prompt_tokens": 100},
    )
    assert (
        grant["alias"] == "org/big:v2" and grant["deployment"] == "dep-grants" and grant["domain"] == "grants"
    )
    assert grant["requests_per_minute"] == 10 and grant["enabled"] is True
    assert _aliases(world, secret) == ["chat", "org/big:v2"]
    # PUT replaces: limits not given are cleared, `enabled: false` hides the alias.
    replaced = admin.ok(
        "PUT", "/admin/v1/domains/grants/models/org/big:v2", {"deployment": "dep-grants", "enabled": False}
    )
    assert replaced["requests_per_minute"] is None and replaced["enabled"] is False
    assert _aliases(world, secret) == ["chat"]
    listed = admin.ok("GET", "/admin/v1/domains/grants/models")["data"]
    assert [(g["alias"], g["enabled"]) for g in listed] == [("chat", True), ("org/big:v2", False)]

    everywhere = admin.ok("GET", "/admin/v1/grants")["data"]
    assert {("grants", "chat"), ("grants", "org/big:v2")} <= {(g["domain"], g["alias"]) for g in everywhere}
    assert admin.ok("GET", "/admin/v1/grants?domain=grants")["data"] == listed
    admin.err("GET", "/admin/v1/grants?domain=ghost", status=404, code="not_found")

    assert admin.ok("DELETE", "/admin/v1/domains/grants/models/org/big:v2")["deleted"] is True
    admin.err("DELETE", "/admin/v1/domains/grants/models/org/big:v2", status=404, code="not_found")
    admin.err(
        "PUT", "/admin/v1/domains/grants/models/x", {"deployment": "ghost"}, status=404, code="not_found"
    )
    admin.err("PUT", "/admin/v1/domains/grants/models/x", {}, status=400, code="invalid_request")
    admin.err(
        "PUT", "/admin/v1/domains/ghost/models/x", {"deployment": "dep-grants"}, status=404, code="not_found"
    )
    admin.err("GET", "/admin/v1/domains/ghost/models", status=404, code="not_found")

    events = _audit(world, "grants/org/big:v2")
    assert [e["action"] for e in events] == ["grant.set", "grant.set", "grant.revoke"]
    assert events[0]["before"] is None and events[1]["before"]["requests_per_minute"] == 10
    assert events[2]["after"] is None and events[2]["before"]["enabled"] is False


# ---- keys --------------------------------------------------------------------------------------------


def test_keys(world):
    admin = world["admin"]
    _setup(admin, "keys")
    admin.ok("PUT", "/admin/v1/domains/keys/models/other", {"deployment": "dep-keys"})
    made = admin.ok(
        "POST",
        "/admin/v1/domains/keys/keys",
        {"name": "ci", "allowed_aliases": ["other"], "expires_at": "2099-01-01T00:00:00Z"},
        status=201,
    )
    assert _aliases(world, made["secret"]) == ["other"]
    assert made["key"]["expires_at"].startswith("2099-01-01")
    listed = admin.ok("GET", "/admin/v1/keys?domain=keys")["data"]
    assert [k["name"] for k in listed] == ["k", "ci"]
    assert all(
        set(k) >= {"key_id", "domain", "prefix"} and "secret" not in k and "secret_hash" not in k
        for k in listed
    )
    assert admin.ok("GET", f"/admin/v1/keys/{made['key']['key_id']}")["name"] == "ci"
    assert {k["key_id"] for k in listed} <= {k["key_id"] for k in admin.ok("GET", "/admin/v1/keys")["data"]}

    admin.err(
        "POST",
        "/admin/v1/domains/keys/keys",
        {"allowed_aliases": ["nope"]},
        status=400,
        code="invalid_request",
    )
    admin.err(
        "POST", "/admin/v1/domains/keys/keys", {"expires_at": "tomorrow"}, status=400, code="invalid_request"
    )
    admin.err(
        "POST",
        "/admin/v1/domains/keys/keys",
        {"expires_at": "2099-01-01T00:00:00Z", "expires_in_seconds": 60},
        status=400,
        code="invalid_request",
    )
    admin.err(
        "POST", "/admin/v1/domains/keys/keys", {"secret": "sk-tc-mine"}, status=400, code="unknown_field"
    )
    admin.err("POST", "/admin/v1/domains/ghost/keys", {}, status=404, code="not_found")
    admin.err("POST", "/admin/v1/keys/key_000000000000/revoke", status=404, code="not_found")
    admin.err("GET", "/admin/v1/keys/key_000000000000", status=404, code="not_found")


# ---- identity providers --------------------------------------------------------------------------------


def _public_jwk() -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())) | {"kid": "k1"}


def test_identity_providers(world):
    admin = world["admin"]
    admin.ok("POST", "/admin/v1/domains", {"name": "idp"}, status=201)
    body = {
        "issuer": "https://idp.example/admin-test",
        "audience": "teecube",
        "algorithms": ["RS256"],
        "domain_claim": "tenant",
        "domain_claim_value": "idp",
        "static_keys": [_public_jwk()],
    }
    added = admin.ok("POST", "/admin/v1/domains/idp/identity-providers", body, status=201)
    assert added["issuer"] == body["issuer"] and added["algorithms"] == ["RS256"] and added["domain"] == "idp"
    listed = admin.ok("GET", "/admin/v1/domains/idp/identity-providers")["data"]
    assert [p["issuer"] for p in listed] == [body["issuer"]] and listed[0]["domain"] == "idp"
    assert admin.ok("GET", "/admin/v1/identity-providers?domain=idp")["data"] == listed
    assert body["issuer"] in [p["issuer"] for p in admin.ok("GET", "/admin/v1/identity-providers")["data"]]
    admin.err("POST", "/admin/v1/domains/idp/identity-providers", body, status=409, code="conflict")
    other = body | {"issuer": "https://idp.example/other"}
    err = admin.err(
        "POST",
        "/admin/v1/domains/idp/identity-providers",
        other | {"algorithms": ["HS256"]},
        status=400,
        code="invalid_request",
    )
    assert "HS256" in err["message"]
    private = [_public_jwk() | {"d": "AAAA"}]
    admin.err(
        "POST",
        "/admin/v1/domains/idp/identity-providers",
        other | {"static_keys": private},
        status=400,
        code="invalid_request",
    )
    admin.err(
        "POST",
        "/admin/v1/domains/idp/identity-providers",
        other | {"jwks_url": "https://idp.example/j"},
        status=400,
        code="invalid_request",
    )  # both sources given
    admin.err(
        "POST",
        "/admin/v1/domains/idp/identity-providers",
        {"issuer": "x"},
        status=400,
        code="invalid_request",
    )

    too_long = other | {"issuer": "https://idp.example/" + "x" * 600}
    if world["backend"] == "postgresql":  # SQLite does not enforce column lengths
        err = admin.err(
            "POST", "/admin/v1/domains/idp/identity-providers", too_long, status=400, code="invalid_request"
        )
        assert "x" * 50 not in err["message"]

    gone = admin.ok("DELETE", "/admin/v1/identity-providers?issuer=https://idp.example/admin-test")
    assert gone == {"issuer": body["issuer"], "deleted": True}
    assert admin.ok("GET", "/admin/v1/domains/idp/identity-providers")["data"] == []
    admin.err(
        "DELETE",
        "/admin/v1/identity-providers?issuer=https://idp.example/admin-test",
        status=404,
        code="not_found",
    )
    admin.err("DELETE", "/admin/v1/identity-providers", status=400, code="invalid_request")
    assert [e["action"] for e in _audit(world, body["issuer"])] == ["idp.add", "idp.remove"]


# ---- guardrail policies ----------------------------------------------------------------------------------


def test_guardrail_policies(world):
    admin = world["admin"]
    admin.ok("POST", "/admin/v1/domains", {"name": "pol"}, status=201)
    base = "/admin/v1/domains/pol/guardrail-policies"
    (v1,) = admin.ok("GET", base)["data"]
    assert v1["version"] == 1 and v1["active"] is True

    v2 = admin.ok("POST", base, {"config": {"version": 1, "rules": [], "description": "v2"}}, status=201)
    assert v2["version"] == 2 and v2["active"] is False and v2["created_by"] == ACTOR
    assert admin.ok("GET", f"{base}/active")["version"] == 1
    v3 = admin.ok("POST", base, {"config": {"version": 1, "rules": []}, "activate": True}, status=201)
    assert v3["version"] == 3
    assert admin.ok("GET", f"{base}/active")["version"] == 3
    assert admin.ok("POST", f"{base}/2/activate")["active"] is True
    active = admin.ok("GET", f"{base}/active")
    assert active["version"] == 2 and active["config"]["description"] == "v2"
    assert [p["active"] for p in admin.ok("GET", base)["data"]] == [False, True, False]

    # Invalid configs: 400 naming the field, and nothing stored.
    for config, field in (
        ({"version": 1, "rules": [{"id": "r1"}]}, "rules[0].scanner"),
        ({"version": 1, "rules": [], "bogus": 1}, "bogus"),
        ({"version": 7, "rules": []}, "version"),
    ):
        err = admin.err("POST", base, {"config": config}, status=400, code="invalid_request")
        assert field in err["message"] and err["param"] == f"config.{field}"
    admin.err("POST", base, {"config": [1]}, status=400, code="invalid_request")
    admin.err(
        "POST",
        base,
        {"config": {"version": 1, "rules": []}, "activate": "yes"},
        status=400,
        code="invalid_request",
    )
    assert len(admin.ok("GET", base)["data"]) == 3
    admin.err("POST", f"{base}/9/activate", status=404, code="not_found")
    admin.err("GET", "/admin/v1/domains/ghost/guardrail-policies/active", status=404, code="not_found")

    actions = [e["action"] for e in _audit(world, "pol/v2")]
    assert actions == ["policy.create", "policy.activate"]
    (activate,) = [e for e in _audit(world, "pol/v2") if e["action"] == "policy.activate"]
    assert activate["before"]["active_version"] == 3 and activate["after"]["active_version"] == 2


# ---- audit -----------------------------------------------------------------------------------------------


def test_audit_lists_latest_events_with_before_and_after(world):
    admin = world["admin"]
    admin.ok("POST", "/admin/v1/domains", {"name": "aud"}, status=201)
    admin.ok("PATCH", "/admin/v1/domains/aud", {"max_n": 3})
    latest = admin.ok("GET", "/admin/v1/audit?limit=2")
    assert latest["object"] == "list" and len(latest["data"]) == 2
    newest = latest["data"][0]
    assert (newest["action"], newest["object_id"], newest["actor"]) == ("domain.update", "aud", ACTOR)
    assert newest["before"]["max_n"] == 8 and newest["after"]["max_n"] == 3
    assert latest["data"][1]["action"] == "domain.create" and latest["data"][1]["before"] is None
    for bad in ("0", "-1", "abc", "100000", "²", "9" * 5000):
        admin.err("GET", f"/admin/v1/audit?limit={bad}", status=400, code="invalid_request")
    # Reads are not audited.
    assert admin.ok("GET", "/admin/v1/audit?limit=1")["data"][0]["id"] == newest["id"]
