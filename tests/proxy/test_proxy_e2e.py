"""The proxy end to end: the official `openai` SDK → proxy → a real engine (bundled SmolLM2)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx2 as httpx
import openai
import pytest
from sqlalchemy import text

from proxy.body import estimate_prompt_tokens
from tests.proxy.conftest import ProxyThread, Tenancy, database_url_for, proxy_config

CHAT = [{"role": "user", "content": "Name a colour."}]


@pytest.fixture(scope="module")
def setup(engine, tmp_path_factory) -> Iterator[tuple[ProxyThread, Tenancy]]:
    urls = database_url_for("sqlite", tmp_path_factory, "e2e")
    url = next(urls)
    t = Tenancy(url)
    t.domain("acme", max_n=4, max_tokens_cap=64)
    t.deployment("smol", f"unix:{engine.socket}")
    t.deployment("dead", "unix:/nonexistent/teecube-test.sock")
    t.grant("acme", "chat", "smol")
    t.grant("acme", "broken", "dead")
    t.grant("acme", "tiny-rpm", "smol", requests_per_minute=1)
    t.grant("acme", "hidden", "smol", enabled=False)
    t.key("acme", "main")
    t.key("acme", "chat-only", allowed_aliases=["chat"])
    t.domain("uncapped")
    t.grant("uncapped", "chat", "smol")
    t.key("uncapped", "uncapped")
    proxy = ProxyThread(proxy_config(url)).start()
    yield proxy, t
    proxy.stop()
    urls.close()


def test_models_list_shows_only_granted_enabled_aliases(setup) -> None:
    proxy, t = setup
    ids = sorted(m.id for m in proxy.client(t.keys["main"]).models.list())
    assert ids == ["broken", "chat", "tiny-rpm"]
    assert [m.id for m in proxy.client(t.keys["chat-only"]).models.list()] == ["chat"]


def test_chat_completion(setup) -> None:
    proxy, t = setup
    resp = proxy.client(t.keys["main"]).chat.completions.with_raw_response.create(
        model="chat", messages=CHAT, max_tokens=8, temperature=0
    )
    completion = resp.parse()
    assert completion.model == "chat"  # the tenant's alias, never the upstream's name
    assert completion.choices[0].message.content
    assert completion.usage.completion_tokens == 8
    assert resp.headers["x-request-id"].startswith("req_")


def test_completions(setup) -> None:
    proxy, t = setup
    out = proxy.client(t.keys["main"]).completions.create(
        model="chat", prompt="The sky is", max_tokens=5, temperature=0
    )
    assert out.model == "chat" and out.choices[0].text and out.usage.completion_tokens == 5


def test_completions_echo_with_logprobs_through_the_proxy(setup) -> None:
    """The real engine's prompt logprobs pass the default output guardrails, whole and streamed."""
    proxy, t = setup
    client = proxy.client(t.keys["main"])
    kwargs: dict = dict(model="chat", prompt="The sky is blue and", max_tokens=3, temperature=0, echo=True)
    whole = client.completions.create(logprobs=1, **kwargs).choices[0]
    lp = whole.logprobs
    assert whole.text.startswith("The sky is blue and") and lp.token_logprobs[0] is None
    assert len(lp.tokens) == len(lp.token_logprobs) > 3 and all(v < 0 for v in lp.token_logprobs[1:] if v)
    streamed = list(client.completions.create(logprobs=1, stream=True, **kwargs))
    assert "".join(c.choices[0].text for c in streamed if c.choices) == whole.text
    lps = [c.choices[0].logprobs for c in streamed if c.choices and c.choices[0].logprobs]
    assert [t for x in lps for t in x.tokens] == lp.tokens


def test_stream_with_usage(setup) -> None:
    proxy, t = setup
    stream = proxy.client(t.keys["main"]).chat.completions.create(
        model="chat", messages=CHAT, max_tokens=6, temperature=0, stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 6
    assert all(c.model == "chat" for c in chunks)


def test_stream_without_usage_strips_the_usage_chunk(setup) -> None:
    proxy, t = setup
    chunks = list(
        proxy.client(t.keys["main"]).chat.completions.create(
            model="chat", messages=CHAT, max_tokens=6, temperature=0, stream=True
        )
    )
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "length"


@pytest.mark.slow
def test_same_text_streamed_and_not(setup) -> None:
    proxy, t = setup
    client = proxy.client(t.keys["main"])
    full = client.chat.completions.create(model="chat", messages=CHAT, max_tokens=10, temperature=0)
    streamed = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model="chat", messages=CHAT, max_tokens=10, temperature=0, stream=True
        )
        if c.choices
    )
    assert streamed == full.choices[0].message.content


def test_bad_key_is_authentication_error(setup) -> None:
    proxy, _ = setup
    for key in ("sk-tc-nope", "garbage", "a.b.c", "x" * 5000):
        with pytest.raises(openai.AuthenticationError) as info:
            proxy.client(key).chat.completions.create(model="chat", messages=CHAT)
        assert info.value.code == "invalid_api_key"


def test_unknown_and_ungranted_models_are_the_same_404(setup) -> None:
    proxy, t = setup
    bodies = []
    for model in ("does-not-exist", "hidden"):
        with pytest.raises(openai.NotFoundError) as info:
            proxy.client(t.keys["main"]).chat.completions.create(model=model, messages=CHAT)
        assert info.value.code == "model_not_found"
        bodies.append(info.value.body["message"].replace(model, "X"))
    assert bodies[0] == bodies[1]
    with pytest.raises(openai.NotFoundError):  # a key restricted to `chat` cannot reach `tiny-rpm`
        proxy.client(t.keys["chat-only"]).chat.completions.create(model="tiny-rpm", messages=CHAT)


def test_bad_requests(setup) -> None:
    proxy, t = setup
    client = proxy.client(t.keys["main"])
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="chat", messages=CHAT, n=9)
    assert info.value.param == "n"
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="chat", messages=CHAT, max_tokens=65)
    assert info.value.param == "max_tokens"
    with pytest.raises(openai.BadRequestError) as info:  # the engine's check, passed through
        client.chat.completions.create(model="chat", messages=CHAT, temperature=-1)
    assert info.value.param == "temperature"
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="chat", messages=CHAT, extra_body={"api_base": "http://evil"})
    assert info.value.code == "forbidden_field"
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="chat", messages=CHAT, extra_body={"metadata": {"nested": [{"base_url": "http://x"}]}}
        )
    assert info.value.code == "forbidden_field"


def test_context_length_exceeded_passes_through(setup) -> None:
    proxy, t = setup
    long_prompt = "hello " * 3000
    with pytest.raises(openai.BadRequestError) as info:
        proxy.client(t.keys["main"]).chat.completions.create(
            model="chat", messages=[{"role": "user", "content": long_prompt}], max_tokens=8
        )
    assert info.value.code == "context_length_exceeded"


def test_rate_limit(setup) -> None:
    proxy, t = setup
    client = proxy.client(t.keys["main"])
    client.chat.completions.create(model="tiny-rpm", messages=CHAT, max_tokens=2)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="tiny-rpm", messages=CHAT, max_tokens=2)
    headers = info.value.response.headers
    assert headers["x-ratelimit-limit-requests"] == "1"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert int(headers["retry-after"]) >= 1


def test_upstream_unreachable_is_503_without_details(setup) -> None:
    proxy, t = setup
    with pytest.raises(openai.InternalServerError) as info:
        proxy.client(t.keys["main"]).chat.completions.create(model="broken", messages=CHAT, max_tokens=2)
    assert info.value.status_code == 503
    assert "sock" not in info.value.message and "nonexistent" not in info.value.message


def test_raw_http_errors(setup) -> None:
    proxy, t = setup
    headers = {"Authorization": f"Bearer {t.keys['main']}", "Content-Type": "application/json"}
    with httpx.Client(base_url=proxy.base_url, timeout=30) as http:
        r = http.post("/v1/chat/completions", content=b"{not json", headers=headers)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
        r = http.post("/v1/chat/completions", content=b"[1,2]", headers=headers)
        assert r.status_code == 400
        big = json.dumps({"model": "chat", "messages": [{"role": "user", "content": "x" * (2 << 20)}]})
        r = http.post("/v1/chat/completions", content=big, headers=headers)
        assert r.status_code == 413 and set(r.json()["error"]) == {"message", "type", "param", "code"}
        r = http.get("/v1/nothing-here", headers=headers)
        assert r.status_code == 404 and "error" in r.json()
        r = http.post("/v1/chat/completions", json={"model": "chat", "messages": CHAT, "max_tokens": 2},
                      headers=headers | {"x-request-id": "client-chosen-42"})
        assert r.status_code == 200 and r.headers["x-request-id"] == "client-chosen-42"
        r = http.post("/v1/chat/completions", json={"model": "chat", "messages": CHAT, "max_tokens": 2},
                      headers=headers | {"x-request-id": "bad id with spaces"})
        assert r.headers["x-request-id"].startswith("req_")


def _engine_running(engine) -> float:
    status, body = engine.get("/metrics")
    assert status == 200
    for line in body.splitlines():
        if line.startswith("vllm:num_requests_running"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no vllm:num_requests_running metric")


def test_client_disconnect_cancels_the_upstream_request(setup, engine) -> None:
    proxy, t = setup
    body = json.dumps({"model": "chat", "messages": CHAT, "max_tokens": 2000, "stream": True,
                       "ignore_eos": True}).encode()
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t.keys['uncapped']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
        sock.sendall(request)
        sock.settimeout(60)
        received = sock.recv(4096)
        assert received.startswith(b"HTTP/1.1 200"), received[:200]
        while received.count(b"data:") < 3:
            received += sock.recv(4096)
    # The tenant is gone; the engine must stop generating for it.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _engine_running(engine) > 0:
        time.sleep(0.2)
    assert _engine_running(engine) == 0


def test_usage_records_are_written_with_metadata_only(setup) -> None:
    proxy, t = setup
    raw = proxy.client(t.keys["main"]).chat.completions.with_raw_response.create(
        model="chat", messages=CHAT, max_tokens=3
    )
    request_id, usage = raw.headers["x-request-id"], raw.parse().usage
    deadline = time.monotonic() + 10
    row = None
    while time.monotonic() < deadline and row is None:
        with t.factory() as s:
            row = s.execute(
                text("SELECT * FROM usage_records WHERE request_id = :r"), {"r": request_id}
            ).mappings().first()
        time.sleep(0.2)
    assert row is not None
    assert (row["alias"], row["status"], row["status_code"]) == ("chat", "ok", 200)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (usage.prompt_tokens, 3)
    assert row["key_id"].startswith("key_") and row["deployment_id"] is not None


@pytest.mark.slow
def test_fifty_concurrent_requests_respect_a_token_budget(setup) -> None:
    proxy, t = setup
    t.grant("acme", "budget", "smol", tokens_per_minute=600)
    # Each request reserves its prompt estimate + max_tokens up front.
    per_request = estimate_prompt_tokens({"messages": CHAT}, "chat") + 40
    results: list[int] = []
    lock = threading.Lock()
    time.sleep(0.6)  # let the grant cache expire

    def one() -> None:
        try:
            proxy.client(t.keys["main"]).chat.completions.create(
                model="budget", messages=CHAT, max_tokens=40, temperature=0
            )
            code = 200
        except openai.RateLimitError:
            code = 429
        with lock:
            results.append(code)

    threads = [threading.Thread(target=one) for _ in range(50)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    admitted = results.count(200)
    assert results.count(429) + admitted == 50
    # The bucket refills at 10 tokens/s while the 50 requests arrive (well under a few
    # seconds), which can fund at most one more reservation beyond the budget itself.
    assert 1 <= admitted <= 600 // per_request + 1


def test_responses_api_with_the_openai_sdk(setup) -> None:
    """`client.responses.create` against the real engine: whole, streamed (the SDK assembles the final
    Response from the events), a function call and its output sent back, structured text."""
    proxy, t = setup
    client = proxy.client(t.keys["main"])
    whole = client.responses.create(model="chat", input="Name a colour.", instructions="One word.",
                                    max_output_tokens=8, temperature=0)
    assert whole.model == "chat" and whole.output_text and whole.usage.output_tokens <= 8
    assert whole.status in ("completed", "incomplete") and whole.store is False
    with client.responses.stream(model="chat", input="Name a colour.", instructions="One word.",
                                 max_output_tokens=8, temperature=0) as stream:
        deltas = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert deltas == final.output_text == whole.output_text  # greedy: the same text both ways
    assert final.usage.model_dump() == whole.usage.model_dump()
    city = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    tools = [{"type": "function", "name": "get_weather", "description": "Weather", "parameters": city}]
    called = client.responses.create(model="chat", input="Weather in Paris?", tools=tools,
                                     tool_choice="required", max_output_tokens=40, temperature=0)
    call = next(o for o in called.output if o.type == "function_call")
    assert call.name == "get_weather" and "city" in json.loads(call.arguments)
    answer = client.responses.create(model="chat", max_output_tokens=8, temperature=0, input=[
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}])
    assert answer.output_text
    # as the Agents SDK replays a turn: the model's output items as they came, text parts for the output
    replayed = client.responses.create(model="chat", max_output_tokens=8, temperature=0, input=[
        {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]},
        {"type": "message", "role": "assistant", "status": "completed", "id": "msg_1",
         "content": [{"type": "output_text", "text": "Let me look.", "annotations": []}]},
        *[item.model_dump(exclude_none=True) for item in called.output if item.type == "function_call"],
        {"type": "function_call_output", "call_id": call.call_id,
         "output": [{"type": "input_text", "text": "sunny"}]}])
    assert replayed.output_text
    schema = {"type": "object", "properties": {"colour": {"type": "string", "maxLength": 12}},
              "required": ["colour"], "additionalProperties": False}
    shaped = client.responses.create(model="chat", input="Name a colour as JSON.", max_output_tokens=30,
                                     text={"format": {"type": "json_schema", "name": "c", "schema": schema,
                                                      "strict": True}})
    if shaped.status == "completed":
        assert set(json.loads(shaped.output_text)) == {"colour"}
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="chat", input="x", text={"format": {"type": "json_schema", "name": "c",
                                                                          "schema": {"type": "banana"}}})
    assert err.value.body["param"] == "text.format.schema"
