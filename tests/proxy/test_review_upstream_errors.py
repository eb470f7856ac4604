"""An upstream's refusal of a bad request reaches the tenant as a 4xx whatever shape its server
writes errors in: vLLM before 0.10 (`{"object": "error", "message": ...}`, flat), a bare
`{"error": "message"}`, FastAPI's 422 `{"detail": [...]}`, a non-JSON body. Before, only OpenAI's
`{"error": {...}}` was read and every other 400/422 became a 503 "temporarily unavailable, please
retry" (so a too-long prompt sent to an older vLLM was retried by the SDKs, and never explained).
The relayed message keeps no value pydantic quoted from the request (`input_value=...`: prompt
text), and `param` is passed only when short and printable."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx
import pytest
from aiohttp import web

from tests.proxy.conftest import AppThread, ProxyThread, Tenancy, database_url_for, proxy_config

CANARY = "zq-canary-7d1f-in-the-prompt"
CONTEXT = "This model's maximum context length is 2048 tokens. However, you requested 9000 tokens."
PYDANTIC = ("1 validation error for ChatCompletionRequest\nmessages.0.content\n  Input should be a valid "
            "string [type=string_type, input_value={{'text': '{text}'}}, input_type=dict]")


class Upstream(AppThread):
    """Answers every request with the error shape its model name asks for."""

    def __init__(self) -> None:
        super().__init__(self._app)

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        text = body["messages"][0]["content"]
        shapes: dict[str, tuple[int, object]] = {
            "vllm-flat": (400, {"object": "error", "message": CONTEXT, "type": "BadRequestError",
                                "param": None, "code": 400}),
            "vllm-pydantic": (400, {"object": "error", "message": PYDANTIC.format(text=text),
                                    "type": "BadRequestError", "param": "x" * 100, "code": 400}),
            "bare": (400, {"error": "option top_q is not supported"}),
            "fastapi": (422, {"detail": [{"loc": ["body", "messages"], "msg": "bad", "input": text}]}),
        }
        if body["model"] == "text":
            return web.Response(status=400, text=f"bad request: {text}")
        status, payload = shapes[body["model"]]
        return web.json_response(payload, status=status)


MODELS = ["vllm-flat", "vllm-pydantic", "bare", "fastapi", "text"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Iterator[tuple[ProxyThread, str]]:
    upstream = Upstream().start()
    urls = database_url_for("sqlite", tmp_path_factory, "upstream_errors")
    t = Tenancy(next(urls))
    t.domain("ue")
    for model in MODELS:
        t.deployment(f"dep-{model}", f"http://127.0.0.1:{upstream.port}", served=model, kind="openai",
                     credential_ref=None)
        t.grant("ue", model, f"dep-{model}")
    key = t.key("ue", "k")
    proxy = ProxyThread(proxy_config(t.url, prefix_cache_isolation=False)).start()
    yield proxy, key
    proxy.stop()
    upstream.stop()
    urls.close()


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", MODELS)
def test_an_upstream_refusal_in_any_shape_is_a_4xx_without_request_text(setup, model, stream) -> None:
    proxy, key = setup
    r = httpx.post(f"{proxy.base_url}/v1/chat/completions", timeout=30,
                   json={"model": model, "messages": [{"role": "user", "content": CANARY}], "max_tokens": 2,
                         "stream": stream},
                   headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    assert CANARY not in r.text
    assert error["param"] is None  # none given, or one too long to be a field name
    if model == "vllm-flat":
        assert error["message"] == CONTEXT
    if model == "vllm-pydantic":
        assert "input_value=[redacted]" in error["message"]
        assert "Input should be a valid string" in error["message"]
    if model == "bare":
        assert error["message"] == "option top_q is not supported"
    if model in ("fastapi", "text"):
        assert error["message"] == "The request was rejected by the model server."
