"""No credential ever reaches a model outside its grant, by listing or by request.

Three domains with colliding aliases, keys restricted to subsets, revoked and expired
keys, and JWTs of one domain used against another — on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import jwt
import openai
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import text

from domains.idp import add_identity_provider
from domains.keys import revoke_key
from proxy.state import DIRECTORY
from tests.proxy.conftest import ProxyThread, Tenancy, database_url_for, proxy_config

CHAT = [{"role": "user", "content": "Hi"}]
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict:
    import json

    return json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())) | {"kid": kid}


@pytest.fixture(scope="module", params=BACKENDS)
def world(request, engine, tmp_path_factory) -> Iterator[dict]:
    urls = database_url_for(request.param, tmp_path_factory, "tenancy")
    url = next(urls)
    t = Tenancy(url)
    sock = f"unix:{engine.socket}"
    # Every domain has an alias `chat`, each bound to a different deployment.
    for dom in ("alpha", "beta", "gamma"):
        t.domain(dom)
        t.deployment(f"dep-{dom}", sock)
        t.grant(dom, "chat", f"dep-{dom}")
    t.deployment("dep-shared", sock)
    t.grant("alpha", "code", "dep-shared")
    t.grant("beta", "secret-model", "dep-shared")
    keys = {
        "alpha": t.key("alpha", "alpha-all"),
        "alpha-code-only": t.key("alpha", "alpha-code", allowed_aliases=["code"]),
        "beta": t.key("beta", "beta-all"),
        "gamma": t.key("gamma", "gamma-all"),
        "alpha-revoked": t.key("alpha", "alpha-revoked"),
        "alpha-expired": t.key("alpha", "alpha-expired", expires_at=datetime.now(UTC) + timedelta(seconds=2)),
    }
    with t.factory.begin() as s:
        key_id = s.execute(text("SELECT key_id FROM api_keys WHERE name = 'alpha-revoked'")).scalar_one()
        revoke_key(s, key_id, "test:operator")
    idp_keys = {}
    for dom in ("alpha", "beta"):
        priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        idp_keys[dom] = priv
        with t.factory.begin() as s:
            add_identity_provider(
                s, dom, "test:operator", issuer=f"https://idp.{dom}.example", audience="teecube",
                algorithms=["RS256"], domain_claim="tenant", domain_claim_value=dom,
                static_keys=[_jwk(priv, f"{dom}-1")], aliases_claim="models",
            )
    proxy = ProxyThread(proxy_config(url)).start()
    time.sleep(2.1)  # let the short-lived key expire
    yield {"proxy": proxy, "tenancy": t, "keys": keys, "idp": idp_keys}
    proxy.stop()
    urls.close()


def _token(world, dom: str, *, signer: str | None = None, **claims) -> str:
    now = int(time.time())
    body = {"iss": f"https://idp.{dom}.example", "aud": "teecube", "sub": f"user-{dom}", "iat": now,
            "exp": now + 300, "tenant": dom, "models": ["chat", "code", "secret-model"]} | claims
    body = {k: v for k, v in body.items() if v is not None}  # None: the claim left out
    return jwt.encode(body, world["idp"][signer or dom], algorithm="RS256",
                      headers={"kid": f"{signer or dom}-1"})


def _models(world, credential: str) -> list[str]:
    return sorted(m.id for m in world["proxy"].client(credential).models.list())


def _served_by(world, alias_client: openai.OpenAI, model: str) -> str:
    """Which deployment served a request: read back from the usage record of its request id."""
    raw = alias_client.chat.completions.with_raw_response.create(model=model, messages=CHAT, max_tokens=1)
    request_id = raw.headers["x-request-id"]
    t: Tenancy = world["tenancy"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with t.factory() as s:
            row = s.execute(
                text("SELECT d.name FROM usage_records u JOIN deployments d ON u.deployment_id = d.id "
                     "WHERE u.request_id = :r"), {"r": request_id}
            ).first()
        if row:
            return row[0]
        time.sleep(0.2)
    raise AssertionError("no usage record")


def test_listing_is_scoped_to_the_domain_and_key(world) -> None:
    keys = world["keys"]
    assert _models(world, keys["alpha"]) == ["chat", "code"]
    assert _models(world, keys["beta"]) == ["chat", "secret-model"]
    assert _models(world, keys["gamma"]) == ["chat"]
    assert _models(world, keys["alpha-code-only"]) == ["code"]
    assert _models(world, _token(world, "alpha", models=["chat"])) == ["chat"]
    # the default claim names every alias of both domains: "code" is alpha's, so beta's token gains nothing
    assert _models(world, _token(world, "beta")) == ["chat", "secret-model"]
    with pytest.raises(openai.AuthenticationError):  # the issuer scopes by `models`: no claim, no token
        _models(world, _token(world, "beta", models=None))


@pytest.mark.slow
def test_colliding_aliases_route_to_each_domains_own_deployment(world) -> None:
    p, keys = world["proxy"], world["keys"]
    assert _served_by(world, p.client(keys["alpha"]), "chat") == "dep-alpha"
    assert _served_by(world, p.client(keys["beta"]), "chat") == "dep-beta"
    assert _served_by(world, p.client(keys["gamma"]), "chat") == "dep-gamma"
    assert _served_by(world, p.client(_token(world, "beta")), "chat") == "dep-beta"


@pytest.mark.parametrize(
    ("credential", "model"),
    [
        ("alpha", "secret-model"),  # beta's alias
        ("gamma", "code"),  # alpha's alias
        ("gamma", "secret-model"),
        ("alpha-code-only", "chat"),  # outside the key's subset
        ("beta", "code"),
        ("alpha", "dep-beta"),  # a deployment name is not an alias
        ("alpha", "SmolLM2-135M-Instruct"),  # nor is the upstream's served name
    ],
)
def test_requests_outside_the_grant_are_404(world, credential, model) -> None:
    client = world["proxy"].client(world["keys"][credential])
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model=model, messages=CHAT, max_tokens=1)
    assert info.value.code == "model_not_found"


@pytest.mark.parametrize("label", ["alpha-revoked", "alpha-expired"])
def test_revoked_and_expired_keys_are_401(world, label) -> None:
    client = world["proxy"].client(world["keys"][label])
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="chat", messages=CHAT, max_tokens=1)


def test_jwt_of_one_domain_cannot_reach_another(world) -> None:
    p = world["proxy"]
    # alpha's token with beta's tenant claim: alpha's issuer maps only to alpha
    with pytest.raises(openai.AuthenticationError):
        p.client(_token(world, "alpha", tenant="beta")).models.list()
    # a token claiming beta's issuer but signed with alpha's key
    with pytest.raises(openai.AuthenticationError):
        p.client(_token(world, "beta", signer="alpha")).models.list()
    # alpha's JWT restricted to `chat` cannot use `code`, and never sees beta's models
    client = p.client(_token(world, "alpha", models=["chat"]))
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="code", messages=CHAT, max_tokens=1)
    with pytest.raises(openai.NotFoundError):
        p.client(_token(world, "alpha")).chat.completions.create(
            model="secret-model", messages=CHAT, max_tokens=1
        )


def _pass_the_cache_ttl(world) -> None:
    """Move the proxy directory's clock past its TTL (an injected clock: no sleep)."""
    directory = world["proxy"].app[DIRECTORY]
    offset = world["proxy"].config.cache_ttl + 0.1
    base = directory.clock
    directory.clock = lambda: base() + offset


def test_revocation_takes_effect_within_the_cache_bound(world) -> None:
    t: Tenancy = world["tenancy"]
    secret = t.key("gamma", "gamma-soon-revoked")
    client = world["proxy"].client(secret)
    assert _models(world, secret) == ["chat"]
    with t.factory.begin() as s:
        key_id = s.execute(text("SELECT key_id FROM api_keys WHERE name = 'gamma-soon-revoked'")).scalar_one()
        revoke_key(s, key_id, "test:operator")
    _pass_the_cache_ttl(world)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_disabled_domain_loses_access(world) -> None:
    from domains.tenants import disable_domain, enable_domain

    t: Tenancy = world["tenancy"]
    with t.factory.begin() as s:
        disable_domain(s, "gamma", "test:operator")
    _pass_the_cache_ttl(world)
    try:
        with pytest.raises(openai.AuthenticationError):
            world["proxy"].client(world["keys"]["gamma"]).models.list()
    finally:
        with t.factory.begin() as s:
            enable_domain(s, "gamma", "test:operator")
