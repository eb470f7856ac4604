"""--reasoning-parser through a real server with the official SDK: reasoning_content in whole messages
and stream deltas; chat_template_kwargs (enable_thinking) reach the chat template."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from server_harness import MODEL, RunningServer, http, start_server

from engine.server.settings import ServerConfig
from tests.engine.tiny_models import build_tiny_model

pytestmark = pytest.mark.slow  # its own engine server (engine-level tests cover the rest)

ASK = [{"role": "user", "content": "Name three colours."}]
THINKING_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% if enable_thinking is defined and enable_thinking is false %}"
    "{{ '<think>\n\n</think>\n\n' }}{% endif %}"
    "{% endif %}"
)


@pytest.fixture(scope="module")
def server(server_factory) -> RunningServer:
    return server_factory(ServerConfig(reasoning_parser="deepseek_r1"), max_model_len=512, num_kv_blocks=64)


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url + "/v1", api_key="x", max_retries=0, timeout=120) as c:
        yield c


def test_reasoning_content_whole_and_streamed(client: openai.OpenAI) -> None:
    # SmolLM2 never closes a think block, so with deepseek_r1 (the prompt opened it) all is reasoning
    resp = client.chat.completions.create(model=MODEL, messages=ASK, max_tokens=12, temperature=0)
    message = resp.choices[0].message
    reasoning = message.model_extra["reasoning_content"]
    assert reasoning and message.content is None
    chunks = list(
        client.chat.completions.create(model=MODEL, messages=ASK, max_tokens=12, temperature=0, stream=True)
    )
    streamed = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks if c.choices
    )
    assert streamed == reasoning
    assert not any(c.choices[0].delta.content for c in chunks[1:] if c.choices)
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_template_kwargs_checked(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(
            model=MODEL, messages=ASK, max_tokens=2, extra_body={"chat_template_kwargs": {"messages": []}}
        )
    assert exc.value.param == "chat_template_kwargs.messages"
    resp = client.chat.completions.create(
        model=MODEL,
        messages=ASK,
        max_tokens=2,
        extra_body={"chat_template_kwargs": {"enable_thinking": False}},
    )
    assert resp.choices[0].finish_reason in ("stop", "length")


@pytest.fixture(scope="module")
def thinking_server(tmp_path_factory) -> Iterator[RunningServer]:
    path: Path = build_tiny_model("qwen3", tmp_path_factory.mktemp("think"))
    config_file = path / "tokenizer_config.json"
    import json

    cfg = json.loads(config_file.read_text())
    cfg["chat_template"] = THINKING_TEMPLATE
    config_file.write_text(json.dumps(cfg))
    server, stop = start_server(
        path, ServerConfig(reasoning_parser="qwen3"), max_model_len=128, num_kv_blocks=32
    )
    yield server
    stop()


def test_enable_thinking_reaches_the_template(thinking_server: RunningServer) -> None:
    def prompt(kwargs: dict | None) -> int:
        body = {"messages": ASK, **({"chat_template_kwargs": kwargs} if kwargs else {})}
        return http(thinking_server.base_url + "/tokenize", body)[2]["count"]

    assert prompt({"enable_thinking": False}) > prompt(None) == prompt({"enable_thinking": True})
    with openai.OpenAI(base_url=thinking_server.base_url + "/v1", api_key="x", max_retries=0) as c:
        r = c.chat.completions.create(
            model=MODEL,
            messages=ASK,
            max_tokens=6,
            temperature=0,
            extra_body={"chat_template_kwargs": {"enable_thinking": False}},
        )
    # qwen3: no <think> in the output, so everything is content
    assert r.choices[0].message.model_extra["reasoning_content"] is None
