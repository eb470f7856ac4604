"""JWT attacks are refused: alg none, HS256 with the RSA public key, expired, wrong audience,
missing exp, unknown kid, another domain's token, keys from a JWKS URL."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from aiohttp import ClientSession, web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from proxy.auth.jwt_auth import IssuerConfig, JwtRejected, JwtVerifier

ISSUER = "https://idp.tenant-a.example"
AUDIENCE = "teecube"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _jwk(key, kid: str) -> dict:
    data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return data | {"kid": kid}


def _config(rsa_key, **over) -> IssuerConfig:
    base = dict(
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithms=("RS256",),
        domain_id=1,
        domain_name="tenant-a",
        domain_claim="tenant",
        domain_claim_value="a",
        aliases_claim="models",
        static_keys=(_jwk(rsa_key, "k1"),),
    )
    return IssuerConfig(**(base | over))


def _claims(**over) -> dict:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300, "tenant": "a",
            "models": ["chat"]}
    return {k: v for k, v in (base | over).items() if v is not None}  # None: the claim left out


def _sign(key, claims: dict, kid: str | None = "k1", alg: str = "RS256") -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


@pytest.fixture
def verifier(rsa_key) -> JwtVerifier:
    v = JwtVerifier(leeway=0)
    v.configure([_config(rsa_key)])
    return v


async def test_valid_token_maps_to_domain_and_aliases(verifier, rsa_key) -> None:
    ident = await verifier.verify(_sign(rsa_key, _claims(models=["chat"])))
    assert ident.domain_name == "tenant-a" and ident.subject == "alice"
    assert ident.allowed_aliases == frozenset({"chat"})


async def test_a_token_without_the_configured_aliases_claim_is_refused(verifier, rsa_key) -> None:
    """Deny by default: the issuer scopes tokens by `models`, so a token without it gets nothing (not
    every alias of the domain); an explicit empty list is a valid token that may use no model."""
    with pytest.raises(JwtRejected, match="missing aliases claim"):
        await verifier.verify(_sign(rsa_key, _claims(models=None)))
    ident = await verifier.verify(_sign(rsa_key, _claims(models=[])))
    assert ident.allowed_aliases == frozenset()
    unscoped = JwtVerifier(leeway=0)
    unscoped.configure([_config(rsa_key, aliases_claim=None)])
    assert (await unscoped.verify(_sign(rsa_key, _claims(models=None)))).allowed_aliases is None


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


async def test_alg_none_is_refused(verifier) -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{_b64(_claims())}."
    with pytest.raises(JwtRejected):
        await verifier.verify(token)


async def test_hs256_signed_with_the_rsa_public_key_is_refused(verifier, rsa_key) -> None:
    public_pem = _pem(rsa_key).encode()
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": "k1"})
    payload = _b64(_claims())
    import hashlib
    import hmac

    sig = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    token = f"{header}.{payload}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"
    with pytest.raises(JwtRejected):
        await verifier.verify(token)


async def test_expired_token_is_refused(verifier, rsa_key) -> None:
    now = int(time.time())
    with pytest.raises(JwtRejected):
        await verifier.verify(_sign(rsa_key, _claims(iat=now - 600, exp=now - 60)))


async def test_wrong_audience_is_refused(verifier, rsa_key) -> None:
    with pytest.raises(JwtRejected):
        await verifier.verify(_sign(rsa_key, _claims(aud="someone-else")))


@pytest.mark.parametrize("missing", ["exp", "iat", "aud"])
async def test_missing_required_claim_is_refused(verifier, rsa_key, missing) -> None:
    claims = _claims()
    del claims[missing]
    with pytest.raises(JwtRejected):
        await verifier.verify(_sign(rsa_key, claims))


async def test_unknown_kid_is_refused(verifier, rsa_key) -> None:
    with pytest.raises(JwtRejected):
        await verifier.verify(_sign(rsa_key, _claims(), kid="not-registered"))


async def test_token_signed_by_another_key_is_refused(verifier) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(JwtRejected):
        await verifier.verify(_sign(other, _claims()))


async def test_token_for_another_domain_is_refused(verifier, rsa_key) -> None:
    with pytest.raises(JwtRejected):
        await verifier.verify(_sign(rsa_key, _claims(tenant="b")))


async def test_unknown_issuer_is_refused(verifier, rsa_key) -> None:
    with pytest.raises(JwtRejected):
        await verifier.verify(_sign(rsa_key, _claims(iss="https://evil.example")))


async def test_algorithm_outside_the_issuers_pin_is_refused(rsa_key) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    v = JwtVerifier(leeway=0)
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key())) | {"kid": "e1"}
    v.configure([_config(rsa_key, static_keys=(_jwk(rsa_key, "k1"), ec_jwk))])  # pinned to RS256
    with pytest.raises(JwtRejected):
        await v.verify(_sign(ec_key, _claims(), kid="e1", alg="ES256"))


async def test_symmetric_algorithms_cannot_be_configured(rsa_key, verifier) -> None:
    v = JwtVerifier(leeway=0)
    v.configure([_config(rsa_key, algorithms=("HS256",))])
    secret = "a-symmetric-secret-of-32-bytes-!!"
    token = jwt.encode(_claims(), secret, algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(JwtRejected):
        await v.verify(token)


async def test_jwks_url_keys_and_rotation(rsa_key) -> None:
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = {"keys": [_jwk(rsa_key, "k1")]}

    async def serve_jwks(_request: web.Request) -> web.Response:
        return web.json_response(jwks)

    app = web.Application()
    app.router.add_get("/jwks.json", serve_jwks)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with ClientSession() as http:
            v = JwtVerifier(http, leeway=0)
            v.configure([_config(rsa_key, static_keys=(), jwks_url=f"http://127.0.0.1:{port}/jwks.json")])
            assert (await v.verify(_sign(rsa_key, _claims()))).subject == "alice"
            # the IdP rotates to k2; the proxy refreshes on the unknown kid (once per interval)
            jwks["keys"].append(_jwk(new_key, "k2"))
            import proxy.auth.jwt_auth as mod

            old = mod.JWKS_REFRESH_INTERVAL
            mod.JWKS_REFRESH_INTERVAL = 0.0
            try:
                assert (await v.verify(_sign(new_key, _claims(sub="bob"), kid="k2"))).subject == "bob"
            finally:
                mod.JWKS_REFRESH_INTERVAL = old
            # a jku header pointing elsewhere changes nothing: the kid is still unknown
            token = jwt.encode(_claims(), new_key, algorithm="RS256",
                               headers={"kid": "k3", "jku": "https://evil.example/jwks"})
            with pytest.raises(JwtRejected):
                await v.verify(token)
    finally:
        await runner.cleanup()
