"""The proxy's and the engine server's configuration objects keep their secrets out of repr(): a
config printed by a log line, a debugger or a traceback with locals shows none of the pepper, the
bearers or the passwords inside the database and Redis URLs (canary strings)."""

from __future__ import annotations

import dataclasses

from engine.server.settings import ServerConfig
from proxy.config import ProxyConfig

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


def test_engine_server_config_repr_shows_no_api_key() -> None:
    config = ServerConfig(api_key="CANARY-ENGINEKEY-0123456789")
    assert "CANARY" not in repr(config) and config.api_key == "CANARY-ENGINEKEY-0123456789"
