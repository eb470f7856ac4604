"""Objects that hold secrets keep them out of repr(): one printed by a log line, a debugger or a
traceback with locals shows none of the pepper, the bearers, the passwords inside the database and
Redis URLs, the TLS/HPKE private keys handed to workers, a console session's CSRF token or new key's
secret, an HPKE context's keys, or the connection table's hash key (canary strings)."""

from __future__ import annotations

import dataclasses

from engine.server.settings import ServerConfig
from proxy.config import ProxyConfig
from proxy.handoff import Handoff

CANARIES = ("CANARY-DBPASS", "CANARY-PEPPER", "CANARY-OPERATOR", "CANARY-METRICS", "CANARY-REDISPASS",
            "CANARY-ENGINEKEY")


def test_proxy_config_repr_shows_no_secret() -> None:
    config = ProxyConfig(
        "postgresql+psycopg://teecube:CANARY-DBPASS@db:5432/teecube",
        b"CANARY-PEPPER" * 3,
        operator_token="CANARY-OPERATOR-0123456789",
        metrics_token="CANARY-METRICS-0123456789",
        redis_url="redis://:CANARY-REDISPASS@redis:6379/0",
    )
    text = repr(config) + str(config)
    assert not [c for c in CANARIES if c in text], text
    assert "redis_prefix" in text and "port=8443" in text  # the rest is still there to read
    # The values themselves are intact, and copies keep the rule.
    assert config.redis_url == "redis://:CANARY-REDISPASS@redis:6379/0"
    assert "CANARY" not in repr(dataclasses.replace(config, port=1))


def test_worker_handoff_repr_shows_no_private_key_or_secret() -> None:
    config = ProxyConfig("sqlite:///x", b"CANARY-PEPPER" * 3, operator_token="CANARY-OPERATOR-0123456789")
    identity = {"key_pem": b"-----BEGIN PRIVATE KEY-----CANARY-TLSKEY", "hpke": b"CANARY-HPKE"}
    handoff = Handoff(config, identity, "/run/m.sock", 1)
    assert "CANARY" not in repr(handoff), repr(handoff)
    assert Handoff.loads(handoff.dumps()).identity == identity


def test_engine_server_config_repr_shows_no_api_key() -> None:
    config = ServerConfig(api_key="CANARY-ENGINEKEY-0123456789")
    assert "CANARY" not in repr(config) and config.api_key == "CANARY-ENGINEKEY-0123456789"


def test_session_hpke_and_table_reprs_show_no_secret() -> None:
    from attestation.hpke import Context
    from proxy.connection_table import TableHandle
    from proxy.console.sessions import ConsoleSession

    session = ConsoleSession("tenant", 0.0, csrf="CANARY-CSRF", secret_once=("d", "sk-tc-CANARY-KEY"))
    assert "CANARY" not in repr(session) and session.csrf_ok("CANARY-CSRF")
    context = Context(b"CANARY-AESKEY-16", b"CANARY-NONCE", b"CANARY-EXPORTER")
    assert "CANARY" not in repr(context)
    assert "CANARY" not in repr(TableHandle(3, b"CANARY-TABLEKEY", 2))
