"""Upstream failures reach the tenant as OpenAI errors without upstream details:
timeout → 504, unreachable or 5xx → 503, a stream that breaks → an `error` event then `[DONE]`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx2 as httpx
import openai
import pytest
from aiohttp import web

from tests.proxy.conftest import AppThread, ProxyThread, Tenancy, database_url_for, proxy_config

CHAT = [{"role": "user", "content": "Hi"}]


def _chunk(text: str) -> bytes:
    body = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class FlakyUpstream(AppThread):
    """An OpenAI-shaped server whose behaviour is chosen by the requested model name."""

    def __init__(self) -> None:
        super().__init__(self._app, handler_cancellation=True)  # a "slow" handler must not hold teardown

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        mode = body["model"]
        if mode == "slow":
            await asyncio.sleep(30)
        if mode == "fails":
            return web.json_response({"error": {"message": "boom at http://10.1.2.3:8000/internal"}},
                                     status=500)
        if mode == "rejects":
            return web.json_response(
                {"error": {"message": "bad top_p; see http://10.1.2.3/docs or /run/secret.sock",
                           "type": "BadRequestError", "param": "top_p", "code": 400}}, status=400)
        # "breaks": two chunks, then the connection is cut mid-stream
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(_chunk("Hello"))
        await resp.write(_chunk(" there"))
        assert request.transport is not None
        request.transport.abort()
        return resp


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Iterator[tuple[ProxyThread, str]]:
    upstream = FlakyUpstream().start()
    urls = database_url_for("sqlite", tmp_path_factory, "failures")
    t = Tenancy(next(urls))
    t.domain("d")
    for mode in ("slow", "fails", "rejects", "breaks"):
        t.deployment(f"dep-{mode}", f"http://127.0.0.1:{upstream.port}", served=mode, kind="openai",
                     credential_ref=None)
        t.grant("d", mode, f"dep-{mode}")
    key = t.key("d", "k")
    proxy = ProxyThread(proxy_config(t.url, upstream_read_timeout=1.0)).start()
    yield proxy, key
    proxy.stop()
    upstream.stop()
    urls.close()


def test_upstream_timeout_is_504(setup) -> None:
    proxy, key = setup
    with pytest.raises(openai.InternalServerError) as info:
        proxy.client(key).chat.completions.create(model="slow", messages=CHAT)
    assert info.value.status_code == 504 and info.value.code == "upstream_timeout"


def test_upstream_5xx_is_503_without_details(setup) -> None:
    proxy, key = setup
    with pytest.raises(openai.InternalServerError) as info:
        proxy.client(key).chat.completions.create(model="fails", messages=CHAT)
    assert info.value.status_code == 503
    assert "10.1.2.3" not in json.dumps(info.value.body)


def test_upstream_4xx_passes_through_sanitised(setup) -> None:
    proxy, key = setup
    with pytest.raises(openai.BadRequestError) as info:
        proxy.client(key).chat.completions.create(model="rejects", messages=CHAT)
    assert info.value.param == "top_p"
    assert "10.1.2.3" not in info.value.message and ".sock" not in info.value.message


def test_stream_broken_mid_way_ends_with_error_event_then_done(setup) -> None:
    proxy, key = setup
    with httpx.Client(timeout=30) as http, http.stream(
        "POST", f"{proxy.base_url}/v1/chat/completions",
        json={"model": "breaks", "messages": CHAT, "stream": True},
        headers={"Authorization": f"Bearer {key}"},
    ) as resp:
        assert resp.status_code == 200
        events = [line[len("data: "):] for line in resp.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    error = json.loads(events[-2])["error"]
    assert error["code"] == "upstream_error" and "10.1.2.3" not in error["message"]
    text = "".join(json.loads(e)["choices"][0]["delta"]["content"] for e in events[:-2])
    assert text == "Hello there"
    # the SDK surfaces the error event as an APIError
    with pytest.raises(openai.APIError):
        for _ in proxy.client(key).chat.completions.create(model="breaks", messages=CHAT, stream=True):
            pass
