"""Local decoding of token-id prompts with the upstream's own tokenizer (teecube engines only).

The guardrails need the text of a token-id prompt. Rather than one `POST /detokenize` round trip
per request, the proxy fetches the engine's tokenizer once (`GET /tokenizer?model=NAME`: the exact
HF `tokenizers` JSON the engine decodes with, its sha256, the model's vocab size and the decode
options /detokenize uses; for a model served without a tokenizer, format `token-ids`: every id decodes
to no text) and decodes ids itself. One decoder per (upstream base URL, served
model), shared by concurrent first requests (one fetch), revalidated after `ttl_s` with
If-None-Match (a 304 keeps it). The tokenizer comes only from the operator's registered upstream:
the URL is the deployment's, never anything in a tenant's request.

`decoder()` returns None (the caller uses /detokenize) when the upstream is not a teecube engine,
the route is missing or fails (old engines, errors: remembered for `failure_ttl_s`), the answer is
malformed, over `max_bytes` or fails its checksum, or `tokenizers` is not installed. Nothing here
logs ids or text.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from proxy.forward.upstream import Upstream, UpstreamPool

log = logging.getLogger("teecube.proxy.id_decoder")

LOCAL_KINDS = frozenset({"teecube"})
MAX_BYTES = 64 * 1024 * 1024
INLINE_MAX_IDS = 16_384  # more ids than this in one request: decoded in a thread
HF_FORMAT, IDS_ONLY_FORMAT = "hf-tokenizers", "token-ids"  # GET /tokenizer's formats


class OutOfRange(ValueError):
    """An id the upstream's /detokenize would refuse (outside 0 .. vocab_size - 1)."""


def _tokenizers_module() -> Any:
    try:
        import tokenizers
    except ImportError:  # a proxy-only install without it: /detokenize round trips
        return None
    return tokenizers


@dataclass(frozen=True, slots=True)
class LocalDecoder:
    tokenizer: Any  # tokenizers.Tokenizer
    vocab_size: int
    skip_special_tokens: bool
    sha256: str

    def check(self, ids: list[int]) -> None:
        if any(i < 0 or i >= self.vocab_size for i in ids):
            raise OutOfRange("token id out of range")

    def decode(self, ids: list[int]) -> str:
        self.check(ids)
        return self.tokenizer.decode(ids, skip_special_tokens=self.skip_special_tokens)

    async def decode_all(self, prompts: list[list[int]]) -> list[str]:
        """Each id list's text; inline for normal sizes, in a thread for very long prompts."""
        for ids in prompts:
            self.check(ids)
        if sum(len(ids) for ids in prompts) <= INLINE_MAX_IDS:
            return [
                self.tokenizer.decode(ids, skip_special_tokens=self.skip_special_tokens) for ids in prompts
            ]
        return list(
            await asyncio.to_thread(
                self.tokenizer.decode_batch, prompts, skip_special_tokens=self.skip_special_tokens
            )
        )


class _NoText:
    """The tokenizer of a model served without one (GET /tokenizer's `token-ids` format): every id
    decodes to no text, as that engine's /detokenize answers."""

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return ""

    def decode_batch(self, prompts: list[list[int]], skip_special_tokens: bool = False) -> list[str]:
        return [""] * len(prompts)


def parse(raw: bytes) -> LocalDecoder:
    """A decoder from GET /tokenizer's body; ValueError when it is not a usable answer."""
    doc = json.loads(raw)
    if not isinstance(doc, dict) or doc.get("format") not in (HF_FORMAT, IDS_ONLY_FORMAT):
        raise ValueError("not a tokenizer document")
    text, digest = doc.get("tokenizer"), doc.get("sha256")
    vocab, decode = doc.get("vocab_size"), doc.get("decode")
    if not (
        isinstance(digest, str)
        and isinstance(decode, dict)
        and isinstance(vocab, int)
        and not isinstance(vocab, bool)
        and vocab > 0
    ):
        raise ValueError("tokenizer document: missing fields")
    skip = decode.get("skip_special_tokens")
    if set(decode) != {"skip_special_tokens"} or not isinstance(skip, bool):
        raise ValueError("tokenizer document: unknown decode options")  # a step we would not mirror
    if doc["format"] == IDS_ONLY_FORMAT:  # the sha256 covers the format and the vocabulary size
        if text is not None or hashlib.sha256(f"{IDS_ONLY_FORMAT}:{vocab}".encode()).hexdigest() != digest:
            raise ValueError("tokenizer document: not a token-ids document")
        return LocalDecoder(_NoText(), vocab, skip, digest)
    if not isinstance(text, str):
        raise ValueError("tokenizer document: missing fields")
    if hashlib.sha256(text.encode()).hexdigest() != digest:
        raise ValueError("tokenizer document: checksum mismatch")
    tokenizers = _tokenizers_module()
    if tokenizers is None:
        raise ValueError("tokenizers is not installed")
    try:
        tokenizer = tokenizers.Tokenizer.from_str(text)
    except Exception as exc:  # tokenizers raises bare Exceptions (e.g. a newer format)
        raise ValueError("tokenizer document: not loadable") from exc
    return LocalDecoder(tokenizer, vocab, skip, digest)


@dataclass(slots=True)
class _Entry:
    decoder: LocalDecoder | None  # None: the route failed; use /detokenize until `until`
    until: float  # monotonic time after which it is revalidated (or retried)


class IdDecoders:
    def __init__(
        self,
        *,
        ttl_s: float = 300.0,
        failure_ttl_s: float = 300.0,
        timeout_s: float = 10.0,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.ttl_s = ttl_s
        self.failure_ttl_s = failure_ttl_s
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._fetches: dict[tuple[str, str], asyncio.Task[_Entry]] = {}
        self.fetch_count = 0  # GET /tokenizer requests sent (tests, metrics)
        # TEECUBE_PROXY_LOCAL_ID_DECODE=0: always ask the upstream's /detokenize (as before local decoding)
        self.enabled = os.environ.get("TEECUBE_PROXY_LOCAL_ID_DECODE", "1") != "0"

    def forget(self) -> None:
        self._entries.clear()

    async def decoder(
        self, pool: UpstreamPool, upstream: Upstream, model: str, kind: str | None, request_id: str
    ) -> LocalDecoder | None:
        if kind not in LOCAL_KINDS or not self.enabled:
            return None
        key = (upstream.base_url, model)
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry is not None and now < entry.until:
            return entry.decoder
        task = self._fetches.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(
                self._fetch(pool, upstream, model, entry.decoder if entry else None, request_id)
            )
            self._fetches[key] = task
            task.add_done_callback(lambda _t, key=key: self._fetches.pop(key, None))
        if entry is not None and entry.decoder is not None:
            return entry.decoder  # revalidating in the background; the current one serves meanwhile
        try:
            return (await asyncio.shield(task)).decoder
        except Exception:  # _fetch catches its own errors; belt and braces
            return None

    async def _fetch(
        self,
        pool: UpstreamPool,
        upstream: Upstream,
        model: str,
        current: LocalDecoder | None,
        request_id: str,
    ) -> _Entry:
        key = (upstream.base_url, model)
        try:
            entry = await self._load(pool, upstream, model, current, request_id)
        except Exception as exc:  # any failure is remembered for failure_ttl_s, not retried per request
            log.warning(
                "GET /tokenizer failed request_id=%s error=%s; using /detokenize",
                request_id,
                type(exc).__name__,
            )
            entry = _Entry(None, time.monotonic() + self.failure_ttl_s)
        if len(self._entries) > 1024:
            self._entries.clear()
        self._entries[key] = entry
        return entry

    async def _load(
        self,
        pool: UpstreamPool,
        upstream: Upstream,
        model: str,
        current: LocalDecoder | None,
        request_id: str,
    ) -> _Entry:
        """The route's answer as an entry; its errors (a credential, the network, a bad document)
        raise, and _fetch logs and remembers them."""
        if _tokenizers_module() is None:
            return _Entry(None, float("inf"))
        url = upstream.server_endpoint("/tokenizer?model=" + quote(model, safe=""))
        headers = pool.headers(upstream, request_id)
        headers.pop("Content-Type", None)
        if current is not None:
            headers["If-None-Match"] = f'"{current.sha256}"'
        self.fetch_count += 1
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with pool.session(upstream).get(
            url, headers=headers, allow_redirects=False, timeout=timeout
        ) as resp:
            if resp.status == 304 and current is not None:
                return _Entry(current, time.monotonic() + self.ttl_s)
            if resp.status != 200:
                log.info(
                    "no local token-id decoding for upstream model (GET /tokenizer: HTTP %s); "
                    "using /detokenize",
                    resp.status,
                )
                return _Entry(None, time.monotonic() + self.failure_ttl_s)
            if (resp.content_length or 0) > self.max_bytes:
                raise ValueError("tokenizer over the size limit")
            raw = bytearray()
            async for chunk in resp.content.iter_chunked(1 << 16):
                raw += chunk
                if len(raw) > self.max_bytes:
                    raise ValueError("tokenizer over the size limit")
        decoder = await asyncio.to_thread(parse, bytes(raw))
        return _Entry(decoder, time.monotonic() + self.ttl_s)
