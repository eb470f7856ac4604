"""The engine `teecube serve` starts gets none of the proxy's secrets or store addresses: it runs model
code on tenants' text and needs only its own API key (the pepper, the operator token and the database
URL stay with the proxy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from teecube.serve import ENGINE_KEY_ENV, PROXY_ONLY_ENV, engine_environment


def test_engine_environment_drops_the_proxys_secrets() -> None:
    environ = {name: "secret" for name in PROXY_ONLY_ENV} | {ENGINE_KEY_ENV: "k", "PATH": "/bin"}
    assert engine_environment(environ) == {ENGINE_KEY_ENV: "k", "PATH": "/bin"}


@pytest.mark.slow
def test_the_live_engine_process_holds_no_operator_token(live_demo: Any) -> None:
    environ = Path(f"/proc/{live_demo.engine_pid}/environ").read_bytes().split(b"\0")
    names = {entry.split(b"=", 1)[0].decode() for entry in environ if entry}
    assert ENGINE_KEY_ENV in names  # the environment read is the engine's
    assert "TEECUBE_OPERATOR_TOKEN" in live_demo.extra_env  # and serve was given the token
    assert not names & set(PROXY_ONLY_ENV), names & set(PROXY_ONLY_ENV)
