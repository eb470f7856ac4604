"""`cache_salt` through the server: requests share prefix-cache blocks only with the same salt, so one
tenant cannot time another's prompt; bad salts are a 400 naming the field."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from server_harness import AUTH, MODEL, RunningServer, http

pytestmark = pytest.mark.slow  # its own engine server (engine-level tests cover the rest)

# long enough for several full blocks of 16 tokens
PROMPT = (
    "The confidential appliance keeps every tenant's prompts apart: a shared prefix cache would let one "
    "tenant learn, from the time to the first token, whether another tenant sent the same text before."
)


@pytest.fixture(scope="module")
def server(api_server: RunningServer) -> RunningServer:
    return api_server


def hits_after(server: RunningServer, path: str, body: dict[str, Any]) -> int:
    """Prefix-cache hit tokens this request added (the engine's counter)."""
    before = server.engine.stats().prefix_cache_hits
    status, _, payload = http(server.base_url + path, body, AUTH)
    assert status == 200, payload
    return server.engine.stats().prefix_cache_hits - before


@pytest.mark.parametrize("path", ["/v1/completions", "/v1/chat/completions"])
def test_salts_isolate_the_prefix_cache(server: RunningServer, path: str) -> None:
    # The server is shared with other modules: every unsalted chat request before this one cached the
    # chat template's opening block, so the text starts with its own id (in a system message for chat).
    unique = f"[{uuid.uuid4()}]"

    def body(salt: str | None) -> dict[str, Any]:
        text = f"{unique} {PROMPT} [{path}]"
        b: dict[str, Any] = {"model": MODEL, "max_tokens": 1, "temperature": 0}
        if path.endswith("chat/completions"):
            b["messages"] = [{"role": "system", "content": unique}, {"role": "user", "content": text}]
        else:
            b["prompt"] = text
        if salt is not None:
            b["cache_salt"] = salt
        return b

    assert hits_after(server, path, body("domain-a")) == 0
    assert hits_after(server, path, body("domain-b")) == 0
    assert hits_after(server, path, body(None)) == 0
    assert hits_after(server, path, body("domain-a")) > 0
    assert hits_after(server, path, body(None)) > 0


@pytest.mark.parametrize("salt", ["", "x" * 257, 5, ["a"]])
def test_bad_salts_are_refused(server: RunningServer, salt: Any) -> None:
    body = {"model": MODEL, "prompt": "hi", "max_tokens": 1, "cache_salt": salt}
    status, _, payload = http(server.base_url + "/v1/completions", body, AUTH)
    assert status == 400 and payload["error"]["param"] == "cache_salt"
    assert "xxxx" not in payload["error"]["message"]
