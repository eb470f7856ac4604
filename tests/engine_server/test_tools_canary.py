"""Confidentiality of the new fields: canary text in tool definitions, replayed calls, tool messages,
schemas, regexes, choices and template kwargs never reaches a log line (DEBUG), /metrics, or an error
message, on success and on every refusal."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import openai
import pytest
from server_harness import MODEL, RunningServer, http

from engine.server.settings import ServerConfig


@pytest.fixture(scope="module")
def server(server_factory) -> RunningServer:
    config = ServerConfig(tool_call_parser="hermes", enable_auto_tool_choice=True, reasoning_parser="qwen3")
    return server_factory(config, max_model_len=1024, num_kv_blocks=128)


@pytest.mark.slow
def test_canaries_reach_no_log_metric_or_error(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    canary = f"canary zebra{secrets.token_hex(6)}"
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": canary,
            "parameters": {
                "type": "object",
                "description": canary,
                "properties": {"q": {"type": "string", "default": canary}},
            },
        },
    }
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "lookup", "arguments": f'{{"q": "{canary}"}}'},
    }
    messages = [
        {"role": "user", "content": canary},
        {"role": "assistant", "content": canary, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": canary},
    ]
    errors: list[str] = []
    with openai.OpenAI(base_url=server.base_url + "/v1", api_key="x", max_retries=0, timeout=120) as c:
        c.chat.completions.create(
            model=MODEL,
            messages=messages,
            tools=[tool],
            max_tokens=8,
            extra_body={"chat_template_kwargs": {"note": canary}},
        )
        stream = c.chat.completions.create(
            model=MODEL, messages=messages, tools=[tool], max_tokens=8, stream=True
        )
        for _ in stream:
            pass
        bad: list[dict[str, Any]] = [
            {"guided_json": {"type": "object", "properties": {"a": {"type": canary}}}},
            {"guided_json": {"$ref": f"#/$defs/{canary}"}},
            {"guided_regex": f"({canary}"},
            {"guided_grammar": canary},
            {"guided_choice": [canary, 3]},
            {"response_format": {"type": canary}},
            {"tool_choice": {"type": "function", "function": {"name": canary}}},
            {
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": canary}}}],
                "tool_choice": "required",
            },
            {"chat_template_kwargs": {"messages": canary}},
        ]
        for extra in bad:
            with pytest.raises(openai.BadRequestError) as exc:
                c.chat.completions.create(model=MODEL, messages=messages, max_tokens=2, extra_body=extra)
            errors.append(str(exc.value.body))
    metrics = http(server.base_url + "/metrics")[2]
    for where, text in [("logs", caplog.text), ("metrics", str(metrics)), *(("error", e) for e in errors)]:
        assert canary not in text, where
        assert canary.split()[-1] not in text, where
