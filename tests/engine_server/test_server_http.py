"""Raw HTTP against a real server: malformed bodies, limits, unknown fields, disconnects, metrics, UDS."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket

import aiohttp
import pytest
from server_harness import AUTH, MODEL, RunningServer, http

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "Tell me a long story."}]
METRIC_NAMES = (
    "vllm:num_requests_running",
    "vllm:num_requests_waiting",
    "vllm:kv_cache_usage_perc",
    "vllm:prompt_tokens_total",
    "vllm:generation_tokens_total",
    "vllm:num_preemptions_total",
    "vllm:prefix_cache_queries_total",
    "vllm:prefix_cache_hits_total",
    "vllm:time_to_first_token_seconds_bucket",
    "vllm:inter_token_latency_seconds_bucket",
    "vllm:e2e_request_latency_seconds_count",
    "vllm:request_queue_time_seconds_sum",
)


@pytest.fixture(scope="module")
def server(api_server: RunningServer) -> RunningServer:
    return api_server


def error_of(server: RunningServer, path: str, body: object = None, raw: bytes | None = None) -> tuple:
    status, _, payload = http(server.base_url + path, body, AUTH, raw=raw)
    assert set(payload) == {"error"} and set(payload["error"]) == {"message", "type", "param", "code"}
    return status, payload["error"]


def test_malformed_json_is_400(server: RunningServer) -> None:
    status, err = error_of(server, CHAT, raw=b'{"model": "smol", "messages": [')
    assert status == 400 and err["code"] == "invalid_json"
    status, err = error_of(server, CHAT, raw=b"")
    assert status == 400 and err["code"] == "invalid_json"
    status, err = error_of(server, CHAT, raw=b"[1, 2]")
    assert status == 400 and err["param"] == "body"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": MODEL}, "messages"),
        ({"messages": MESSAGES}, "model"),
        ({"model": MODEL, "messages": MESSAGES, "max_tokens": 1.5}, "max_tokens"),
        ({"model": MODEL, "messages": MESSAGES, "temperature": True}, "temperature"),
        ({"model": MODEL, "messages": MESSAGES, "stream": "yes"}, "stream"),
        ({"model": MODEL, "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"model": MODEL, "messages": [{"role": "user", "content": 7}]}, "messages[0].content"),
        (
            {"model": MODEL, "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            "messages[0].content[0].type",
        ),
        ({"model": MODEL, "messages": MESSAGES, "stop_token_ids": [-1]}, "stop_token_ids"),
        ({"model": MODEL, "messages": MESSAGES, "seed": -5}, "seed"),
        ({"model": MODEL, "messages": MESSAGES, "min_tokens": 5, "max_tokens": 2}, "min_tokens"),
        (
            {"model": MODEL, "messages": MESSAGES, "stream": True, "stream_options": {"bogus": 1}},
            "stream_options.bogus",
        ),
        ({"model": MODEL, "messages": MESSAGES, "temprature": 0.5}, "temprature"),
    ],
)
def test_wrong_types_and_ranges_name_the_param(server: RunningServer, body: dict, param: str) -> None:
    status, err = error_of(server, CHAT, body)
    assert status == 400 and err["param"] == param and err["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": MODEL, "prompt": 5}, "prompt"),
        ({"model": MODEL, "prompt": [1, 10**9]}, "prompt"),
        ({"model": MODEL, "prompt": []}, "prompt"),
        ({"model": MODEL, "prompt": "x", "logprobs": 21}, "logprobs"),
        ({"model": MODEL, "prompt": "x", "echo": "yes", "logprobs": 1}, "echo"),
        ({"model": MODEL, "prompt": "x", "echo": True, "logprobs": 21}, "logprobs"),
        ({"model": MODEL, "prompt": "x", "suffix": "y"}, "suffix"),
    ],
)
def test_completion_params(server: RunningServer, body: dict, param: str) -> None:
    status, err = error_of(server, "/v1/completions", body)
    assert status == 400 and err["param"] == param


def test_oversized_body_is_413(server: RunningServer) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x" * (100 * 1024)}]}
    assert error_of(server, CHAT, body)[0] == 413


def test_unknown_route_and_method_are_openai_errors(server: RunningServer) -> None:
    assert error_of(server, "/v1/nothing-here", {})[0] == 404
    status, _, payload = http(server.base_url + CHAT, headers=AUTH, method="GET")
    assert status == 405 and "error" in payload


def test_request_id_is_echoed(server: RunningServer) -> None:
    body = {"model": MODEL, "messages": MESSAGES, "max_tokens": 1}
    _, headers, _ = http(server.base_url + CHAT, body, {**AUTH, "X-Request-Id": "abc-123"})
    assert headers["x-request-id"] == "abc-123"
    _, headers, _ = http(server.base_url + CHAT, body, {**AUTH, "X-Request-Id": "bad id\u00e9"})
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])


async def _read_some_then_drop(
    server: RunningServer, chunks: int, messages: list = MESSAGES
) -> tuple[int, int]:
    body = {"model": MODEL, "messages": messages, "max_tokens": 400, "ignore_eos": True, "stream": True}
    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with session.post(server.base_url + CHAT, json=body) as resp:
            assert resp.status == 200
            seen = 0
            async for line in resp.content:
                if line.startswith(b"data: "):
                    seen += 1
                if seen >= chunks:
                    break
            stats = server.engine.stats()
            resp.connection.transport.abort()  # the client goes away mid-stream
    return stats.total_blocks, stats.free_blocks


def test_client_disconnect_aborts_and_frees_blocks(server: RunningServer) -> None:
    total, free_while_streaming = asyncio.run(_read_some_then_drop(server, chunks=3))
    assert free_while_streaming < total
    assert server.wait_for(server.all_blocks_free, timeout=60)
    text = http(server.base_url + "/metrics")[2]
    aborts = re.search(r'^vllm:request_success_total\{.*finished_reason="abort".*\} (\S+)$', text, re.M)
    assert aborts and float(aborts.group(1)) >= 1


def test_metrics_use_vllm_names(server: RunningServer) -> None:
    http(server.base_url + CHAT, {"model": MODEL, "messages": MESSAGES, "max_tokens": 3}, AUTH)
    status, headers, text = http(server.base_url + "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    for name in METRIC_NAMES:
        assert re.search(rf'^{name}{{.*engine="0".*model_name="{MODEL}".*}} ', text, re.M), name
    e2e = re.search(r"^vllm:e2e_request_latency_seconds_count\{.*\} (\S+)$", text, re.M)
    assert e2e and float(e2e.group(1)) >= 1
    assert "Tell me a long story" not in text


def test_health_is_open_and_empty(server: RunningServer) -> None:
    status, _, body = http(server.base_url + "/health")
    assert status == 200 and body == ""


async def _over_unix_socket(path: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=path), headers=AUTH) as session:
        body = {"model": MODEL, "messages": MESSAGES, "max_tokens": 2, "temperature": 0}
        async with session.post("http://engine" + CHAT, json=body) as resp:
            return resp.status, await resp.json()


def test_unix_socket(server: RunningServer) -> None:
    assert server.uds
    status, body = asyncio.run(_over_unix_socket(server.uds))
    assert status == 200 and body["usage"]["completion_tokens"] <= 2


def test_truncated_request_does_not_break_the_server(server: RunningServer) -> None:
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as s:
        payload = json.dumps({"model": MODEL, "messages": MESSAGES}).encode()
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-key\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (len(payload) + 50) + payload
        )
    assert http(server.base_url + "/health")[0] == 200


SECRET = "SECRET-PROMPT-7f3a"


def test_prompt_text_never_reaches_logs_or_errors(
    server: RunningServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_messages = [{"role": "user", "content": SECRET}]
    http(server.base_url + CHAT, {"model": MODEL, "messages": secret_messages, "max_tokens": 3}, AUTH)
    status, err = error_of(server, CHAT, {"model": MODEL, "messages": secret_messages, "stop": [SECRET, 5]})
    assert status == 400 and SECRET not in json.dumps(err)
    asyncio.run(_read_some_then_drop(server, chunks=2, messages=secret_messages))

    def explode(messages: list, **_: object) -> str:
        raise RuntimeError(f"template blew up on {messages[0]['content']}")  # a message quoting the prompt

    monkeypatch.setattr(server.engine.tokenizer, "apply_chat_template", explode)
    status, headers, payload = http(
        server.base_url + CHAT, {"model": MODEL, "messages": secret_messages}, AUTH
    )
    assert status == 500 and payload["error"]["code"] == "internal_error"
    assert headers["x-request-id"] in payload["error"]["message"] and SECRET not in json.dumps(payload)
    assert "RuntimeError" in caplog.text and "Traceback" not in json.dumps(payload)
    assert SECRET not in caplog.text
