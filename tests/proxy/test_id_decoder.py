"""proxy/guardrails/id_decoder.py against a small aiohttp stand-in for the engine's GET /tokenizer:
revalidation (304), one shared fetch, what makes it fall back (checksum, size, unknown decode
options, errors, timeouts, no `tokenizers`), ranges. The real engine: test_guardrails_proxy.py."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from tokenizers import Tokenizer, decoders, models

from proxy.forward.upstream import Upstream, UpstreamPool
from proxy.guardrails import id_decoder
from proxy.guardrails.id_decoder import IdDecoders, OutOfRange

VOCAB = {"<s>": 0, "hello": 1, "world": 2, "[UNK]": 3}


def tokenizer_json() -> str:
    tok = Tokenizer(models.WordLevel(VOCAB, unk_token="[UNK]"))
    tok.decoder = decoders.WordPiece()
    return tok.to_str()


def document(**over: Any) -> dict[str, Any]:
    text = tokenizer_json()
    doc = {
        "object": "tokenizer",
        "format": "hf-tokenizers",
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "vocab_size": 6,
        "decode": {"skip_special_tokens": False},
        "tokenizer": text,
    }
    return doc | over


class Stand:
    """GET /v1/../tokenizer answered by `handler`; counts requests and records If-None-Match."""

    def __init__(
        self,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None,
        doc: dict[str, Any] | None = None,
    ) -> None:
        self.doc = doc or document()
        self.calls = 0
        self.conditional: list[str | None] = []
        self.handler = handler

    async def serve(self, request: web.Request) -> web.StreamResponse:
        self.calls += 1
        self.conditional.append(request.headers.get("If-None-Match"))
        assert request.query["model"] == "m/1"
        if self.handler is not None:
            return await self.handler(request)
        etag = f'"{self.doc["sha256"]}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(
            body=json.dumps(self.doc).encode(), content_type="application/json", headers={"ETag": etag}
        )


def run(
    stand: Stand, body: Callable[[IdDecoders, Callable[..., Awaitable[Any]]], Awaitable[Any]], **options: Any
) -> Any:
    async def main() -> Any:
        app = web.Application()
        app.router.add_get("/tokenizer", stand.serve)
        server = TestServer(app)
        await server.start_server()
        pool = UpstreamPool()
        decoders_ = IdDecoders(**options)
        upstream = Upstream(str(server.make_url("/v1")))

        def get(kind: str = "teecube") -> Awaitable[Any]:
            return decoders_.decoder(pool, upstream, "m/1", kind, "req-1")

        try:
            return await body(decoders_, get)
        finally:
            await pool.close()
            await server.close()

    return asyncio.run(main())


def test_one_shared_fetch_then_local_decoding_and_a_304_revalidation() -> None:
    stand = Stand()

    async def body(decoders_: IdDecoders, get: Callable[..., Awaitable[Any]]) -> None:
        first = await asyncio.gather(*(get() for _ in range(16)))
        assert stand.calls == 1 and all(d is first[0] for d in first)
        dec = first[0]
        assert dec.decode([1, 2]) == "hello world" and dec.decode([0, 5]) == "<s>"  # 5: in range, no token
        assert await dec.decode_all([[1], [2, 1]]) == ["hello", "world hello"]
        with pytest.raises(OutOfRange):
            dec.decode([1, 6])
        with pytest.raises(OutOfRange):
            await dec.decode_all([[1], [-1]])
        long = [[1, 2] * 5000, [2] * 9000]  # over INLINE_MAX_IDS: decoded in a thread, same text
        assert await dec.decode_all(long) == [dec.decode(ids) for ids in long]
        assert await get("openai") is None and stand.calls == 1  # local decoding: teecube only
        for entry in decoders_._entries.values():  # expired: the current one serves while a 304 revalidates
            entry.until = 0.0
        assert await get() is dec
        await asyncio.sleep(0.2)
        assert stand.calls == 2 and stand.conditional[-1] == f'"{dec.sha256}"'
        assert await get() is dec

    run(stand, body)


def token_ids_document(vocab: int = 6, **over: Any) -> dict[str, Any]:
    """What an engine serving a model without a tokenizer answers (format `token-ids`)."""
    digest = hashlib.sha256(f"token-ids:{vocab}".encode()).hexdigest()
    doc = {"object": "tokenizer", "format": "token-ids", "sha256": digest, "vocab_size": vocab,
           "decode": {"skip_special_tokens": False}, "tokenizer": None}
    return doc | over


def test_a_model_without_a_tokenizer_decodes_every_id_in_range_to_no_text() -> None:
    stand = Stand(doc=token_ids_document())

    async def body(decoders_: IdDecoders, get: Callable[..., Awaitable[Any]]) -> None:
        dec = await get()
        assert dec is not None and stand.calls == 1 and dec.vocab_size == 6
        assert dec.decode([]) == dec.decode([0, 5, 3]) == ""
        assert await dec.decode_all([[1], [2, 1]]) == ["", ""]
        assert await dec.decode_all([[1] * 9000, [2] * 9000]) == ["", ""]  # the threaded path too
        with pytest.raises(OutOfRange):
            dec.decode([6])
        with pytest.raises(OutOfRange):
            await dec.decode_all([[0], [-1]])
        for entry in decoders_._entries.values():
            entry.until = 0.0
        assert await get() is dec  # revalidated with its ETag: a 304 keeps it
        await asyncio.sleep(0.2)
        assert stand.calls == 2 and stand.conditional[-1] == f'"{dec.sha256}"' and await get() is dec

    run(stand, body)


@pytest.mark.parametrize("case", ["checksum", "decode-option", "not-json", "bool-vocab", "404", "500",
                                  "ids-checksum", "ids-vocab-mismatch", "ids-with-tokenizer", "format"])
def test_a_bad_answer_falls_back_and_is_remembered(case: str) -> None:
    docs = {
        "checksum": document(sha256="0" * 64),
        "decode-option": document(
            decode={"skip_special_tokens": False, "clean_up_tokenization_spaces": True}
        ),
        "bool-vocab": document(vocab_size=True),
        "ids-checksum": token_ids_document(sha256="0" * 64),
        "ids-vocab-mismatch": token_ids_document(vocab_size=7),  # the digest names 6
        "ids-with-tokenizer": token_ids_document(tokenizer=tokenizer_json()),
        "format": document(format="sentencepiece"),
    }
    stand = Stand(doc=docs.get(case))
    if case == "not-json":

        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(text="<html>", content_type="text/html")

        stand.handler = handler
    elif case in ("404", "500"):

        async def handler(request: web.Request) -> web.StreamResponse:
            return web.json_response({"error": {"message": "x"}}, status=int(case))

        stand.handler = handler

    async def body(decoders_: IdDecoders, get: Callable[..., Awaitable[Any]]) -> None:
        assert await get() is None and await get() is None
        assert stand.calls == 1  # remembered for failure_ttl_s
        decoders_.forget()
        assert await get() is None and stand.calls == 2

    run(stand, body)


def test_size_limit_and_timeout_fall_back() -> None:
    stand = Stand()

    async def body(decoders_: IdDecoders, get: Callable[..., Awaitable[Any]]) -> None:
        assert await get() is None and stand.calls == 1

    run(stand, body, max_bytes=200)

    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(2)
        return web.Response(status=500)

    run(Stand(slow), body, timeout_s=0.2)


def test_without_tokenizers_installed_nothing_is_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(id_decoder, "_tokenizers_module", lambda: None)
    stand = Stand()

    async def body(decoders_: IdDecoders, get: Callable[..., Awaitable[Any]]) -> None:
        assert await get() is None and await get() is None and stand.calls == 0

    run(stand, body)


def test_switched_off_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """TEECUBE_PROXY_LOCAL_ID_DECODE=0: no fetch, no local decoder (the upstream's /detokenize is asked)."""
    monkeypatch.setenv("TEECUBE_PROXY_LOCAL_ID_DECODE", "0")
    stand = Stand()

    async def body(decoders_: IdDecoders, get: Callable[..., Awaitable[Any]]) -> None:
        assert await get() is None and stand.calls == 0

    run(stand, body)
