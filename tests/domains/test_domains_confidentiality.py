"""Nothing secret reaches the database: no key secret, no pepper, no hash outside api_keys."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from domains import keys
from domains.deployments import add_deployment
from domains.grants import grant_model
from domains.models import Base
from domains.tenants import create_domain
from domains.usage import UsageRecordIn, record_usage

ACTOR = "cli:test"


def _dump(engine: Engine) -> list[tuple[str, str, str]]:
    """Every cell of every table as (table, column, text)."""
    cells = []
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)).mappings():
                cells += [(table.name, column, str(value)) for column, value in row.items()]
    return cells


def test_no_secret_or_pepper_anywhere_in_the_database(
    factory: sessionmaker[Session], engine: Engine, pepper: bytes
) -> None:
    secrets_seen: list[str] = []
    with factory.begin() as s:
        create_domain(s, "acme", ACTOR)
        add_deployment(
            s, "dep", "openai", "https://llm.internal/v1", "m", ACTOR, credential_ref="env:UPSTREAM"
        )
        grant_model(s, "acme", "chat", "dep", ACTOR)
    for i in range(3):
        with factory.begin() as s:
            key, secret = keys.create_key(s, "acme", ACTOR, name=f"k{i}", pepper=pepper)
            secrets_seen.append(secret)
    with factory.begin() as s:
        key, rotated = keys.rotate_key(s, key.key_id, ACTOR, pepper=pepper)
        secrets_seen.append(rotated)
        keys.revoke_key(s, keys.list_keys(s)[0].key_id, ACTOR)
    with factory() as s:
        live_hashes = {k.secret_hash for k in keys.list_keys(s)}
        domain_id = keys.list_keys(s)[0].domain_id
    record_usage(factory, [UsageRecordIn("req-1", domain_id, "chat", "ok", 200, 12, key_id=key.key_id)])

    cells = _dump(engine)
    assert {t for t, _, _ in cells} >= {"api_keys", "audit_events", "domains", "usage_records"}
    old_hashes = {keys.hash_secret(s, pepper) for s in secrets_seen} - live_hashes
    needles = [*secrets_seen, *(s[6:] for s in secrets_seen), pepper.decode(), pepper.hex(), *old_hashes]
    for table, column, text in cells:
        for needle in needles:
            assert needle not in text, (table, column)
        for digest in live_hashes:
            if (table, column) != ("api_keys", "secret_hash"):
                assert digest not in text, (table, column)
    assert len(old_hashes) == 1  # the rotated-away hash is gone, not kept
