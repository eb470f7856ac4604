"""Identity providers (asymmetric algorithms, public keys only) and batched usage records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domains import idp
from domains.errors import Conflict, Invalid, NotFound
from domains.models import AuditEvent, UsageRecord
from domains.tenants import create_domain, get_domain
from domains.usage import UsageRecordIn, record_usage

ACTOR = "cli:test"
_KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC_PEM = (
    _KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
PRIVATE_PEM = _KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
BASE = dict(
    issuer="https://login.acme.test",
    audience="teecube",
    algorithms=["ES256"],
    domain_claim="tenant",
    domain_claim_value="acme",
)


def test_identity_providers(factory: sessionmaker[Session]) -> None:
    with factory.begin() as s:
        create_domain(s, "acme", ACTOR)
        p = idp.add_identity_provider(
            s, "acme", ACTOR, static_keys=[PUBLIC_PEM], aliases_claim="models", **BASE
        )
        assert p.algorithms == ["ES256"] and p.static_keys == [PUBLIC_PEM]
        idp.add_identity_provider(
            s,
            "acme",
            ACTOR,
            **{**BASE, "issuer": "https://b.test"},
            jwks_url="https://b.test/.well-known/jwks.json",
        )
    with factory() as s:
        assert [p.issuer for p in idp.list_identity_providers(s, "acme")] == [
            "https://b.test",
            BASE["issuer"],
        ]
        found = idp.get_identity_provider(s, BASE["issuer"])
        assert found is not None and found.domain_claim_value == "acme"
    with factory.begin() as s:
        idp.remove_identity_provider(s, "https://b.test", ACTOR)
    with factory() as s:
        actions = s.scalars(
            select(AuditEvent.action).where(AuditEvent.object_type == "identity_provider")
        ).all()
        assert actions == ["idp.add", "idp.add", "idp.remove"]
    with factory.begin() as s, pytest.raises(NotFound):
        idp.remove_identity_provider(s, "https://b.test", ACTOR)
    with factory.begin() as s, pytest.raises(Conflict):
        idp.add_identity_provider(s, "acme", ACTOR, static_keys=[PUBLIC_PEM], **BASE)


@pytest.mark.parametrize(
    "change",
    [
        {"algorithms": ["HS256"]},
        {"algorithms": ["none"]},
        {"algorithms": ["RS256", "HS512"]},
        {"algorithms": []},
        {"static_keys": [PRIVATE_PEM]},
        {"static_keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "secret"}]},
        {"static_keys": [{"kty": "oct", "k": "c2VjcmV0"}]},
        {"static_keys": ["not a key"]},
        {"static_keys": None, "jwks_url": "http://evil.test/jwks"},
        {"static_keys": None, "jwks_url": "https://user:pw@idp.test/jwks"},
        {"static_keys": [PUBLIC_PEM], "jwks_url": "https://idp.test/jwks"},
        {"static_keys": None},
        {"domain_claim": ""},
    ],
)
def test_identity_provider_refusals(factory: sessionmaker[Session], change: dict) -> None:
    with factory.begin() as s:
        create_domain(s, "acme", ACTOR)
    args = {**BASE, "static_keys": [PUBLIC_PEM], **change}
    with factory.begin() as s, pytest.raises(Invalid):
        idp.add_identity_provider(s, "acme", ACTOR, **args)


def test_record_usage_batches(factory: sessionmaker[Session]) -> None:
    with factory.begin() as s:
        domain_id = create_domain(s, "acme", ACTOR).id
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    batch = [
        UsageRecordIn(
            f"req-{i}",
            domain_id,
            "chat",
            "ok",
            200,
            40 + i,
            key_id="key_0123456789ab",
            prompt_tokens=10,
            completion_tokens=i,
            created_at=at,
        )
        for i in range(50)
    ]
    batch.append(
        UsageRecordIn("req-b", domain_id, "chat", "blocked", 400, 3, guardrail_rule_ids=("pii.card", "x:1"))
    )
    assert record_usage(factory, batch) == 51
    assert record_usage(factory, []) == 0
    with factory() as s:
        rows = s.scalars(select(UsageRecord).order_by(UsageRecord.id)).all()
        assert len(rows) == 51 and rows[0].created_at == at and rows[49].completion_tokens == 49
        assert rows[-1].guardrail_rule_ids == "pii.card,x:1" and rows[-1].key_id is None
        assert get_domain(s, domain_id).name == "acme"
    with pytest.raises(Invalid):
        record_usage(
            factory,
            [
                UsageRecordIn(
                    "r", domain_id, "chat", "blocked", 400, 1, guardrail_rule_ids=("my card is 4111 1111",)
                )
            ],
        )
