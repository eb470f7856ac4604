"""httpx2 transports that seal every request body to the attested HPKE key and open the answers.

Used by `AttestedConnection.http_client()` / `async_http_client()`, so the `openai` SDK (sync and
async, streaming or not) sends only ciphertext: whoever terminates TLS on the way (a balancer, a
relay) sees the HTTP headers and sizes, never a prompt or a completion. A 2xx answer that is not
sealed, a frame that does not open, or a stream cut before its final frame raises `WireError`.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2

from attestation import hpke_wire
from attestation.claims import VerificationError
from attestation.hpke_wire import ResponseOpener, WireError

_DROP = ("content-length", "transfer-encoding", "content-type", "content-encoding",
         hpke_wire.H_ENCRYPTION.lower(), hpke_wire.H_CONTENT_TYPE.lower())


def _should_seal(request: httpx2.Request) -> bool:
    """The OpenAI API's bodies (the paths the proxy opens: /v1/...); a console form is not sealed."""
    return request.method in ("POST", "PUT", "PATCH") and request.url.path.startswith("/v1/")


def _sealed_request(
    request: httpx2.Request, public_key: bytes, body: bytes
) -> tuple[httpx2.Request, ResponseOpener]:
    headers, sealed, opener = hpke_wire.seal_request(public_key, request.method, request.url.path, body)
    merged = httpx2.Headers(request.headers)
    for name in ("content-length", "content-type", "transfer-encoding"):
        merged.pop(name, None)
    merged.update(headers)
    return httpx2.Request(request.method, request.url, headers=merged, content=sealed,
                          extensions=request.extensions), opener


def _plain_headers(response: httpx2.Response) -> list[tuple[str, str]]:
    original = response.headers.get(hpke_wire.H_CONTENT_TYPE) or "application/json"
    kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _DROP]
    return [*kept, ("content-type", original)]


def _refuse_plain(response: httpx2.Response) -> bool:
    """An unsealed answer: errors pass (the proxy could not open the request); success never does."""
    if hpke_wire.H_ENCRYPTION in response.headers:
        return False
    if response.status_code < 400:
        raise WireError(f"HTTP {response.status_code} answer to an encrypted request is not sealed: refused")
    return True


class _EventParser:
    """Splits a stream of `data: <base64>` SSE events and opens each frame."""

    def __init__(self, opener: ResponseOpener, status: int) -> None:
        self.opener, self.status, self.buffer = opener, status, b""

    def feed(self, chunk: bytes) -> list[bytes]:
        self.buffer += chunk
        out = []
        while (end := self.buffer.find(b"\n\n")) >= 0:
            block, self.buffer = self.buffer[:end], self.buffer[end + 2:]
            data = b"".join(line[5:].strip() for line in block.split(b"\n") if line.startswith(b"data:"))
            if not data:
                continue
            plain = self.opener.open_event(self.status, data.decode("ascii", "replace"))
            if plain is not None:
                out.append(plain)
        return out

    def finish(self) -> None:
        if not self.opener.finished:
            raise WireError("encrypted answer ended before its final frame (truncated)")


class _OpenedStream(httpx2.SyncByteStream):
    def __init__(self, response: httpx2.Response, parser: _EventParser) -> None:
        self.response, self.parser = response, parser

    def __iter__(self) -> Iterator[bytes]:
        stream = self.response.stream
        if not isinstance(stream, httpx2.SyncByteStream):
            raise RuntimeError("the inner sync transport returned an async response stream")
        for chunk in stream:
            yield from self.parser.feed(chunk)
        self.parser.finish()

    def close(self) -> None:
        self.response.close()


class _AsyncOpenedStream(httpx2.AsyncByteStream):
    def __init__(self, response: httpx2.Response, parser: _EventParser) -> None:
        self.response, self.parser = response, parser

    async def __aiter__(self) -> AsyncIterator[bytes]:
        stream = self.response.stream
        if not isinstance(stream, httpx2.AsyncByteStream):
            raise RuntimeError("the inner async transport returned a sync response stream")
        async for chunk in stream:
            for plain in self.parser.feed(chunk):
                yield plain
        self.parser.finish()

    async def aclose(self) -> None:
        await self.response.aclose()


def _is_stream(response: httpx2.Response) -> bool:
    return response.headers.get("content-type", "").startswith("text/event-stream")


class EncryptingTransport(httpx2.BaseTransport):
    def __init__(self, inner: httpx2.BaseTransport, public_key: bytes) -> None:
        self.inner, self.public_key = inner, public_key

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if not _should_seal(request):
            return self.inner.handle_request(request)
        sealed, opener = _sealed_request(request, self.public_key, request.read())
        response = self.inner.handle_request(sealed)
        try:
            if _refuse_plain(response):
                return response
        except WireError:
            response.close()
            raise
        if _is_stream(response):
            stream = _OpenedStream(response, _EventParser(opener, response.status_code))
            return httpx2.Response(response.status_code, headers=_plain_headers(response), stream=stream,
                                   request=request, extensions=response.extensions)
        try:
            body = opener.open_body(response.status_code, response.read())
        finally:
            response.close()
        return httpx2.Response(response.status_code, headers=_plain_headers(response), content=body,
                               request=request, extensions=response.extensions)

    def close(self) -> None:
        self.inner.close()


class AsyncEncryptingTransport(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport, public_key: bytes) -> None:
        self.inner, self.public_key = inner, public_key

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if not _should_seal(request):
            return await self.inner.handle_async_request(request)
        sealed, opener = _sealed_request(request, self.public_key, await request.aread())
        response = await self.inner.handle_async_request(sealed)
        try:
            if _refuse_plain(response):
                return response
        except WireError:
            await response.aclose()
            raise
        if _is_stream(response):
            stream = _AsyncOpenedStream(response, _EventParser(opener, response.status_code))
            return httpx2.Response(response.status_code, headers=_plain_headers(response), stream=stream,
                                   request=request, extensions=response.extensions)
        try:
            body = opener.open_body(response.status_code, await response.aread())
        finally:
            await response.aclose()
        return httpx2.Response(response.status_code, headers=_plain_headers(response), content=body,
                               request=request, extensions=response.extensions)

    async def aclose(self) -> None:
        await self.inner.aclose()


class OriginRefused(VerificationError):
    """A request to another scheme, host or port than the attested server's (plain HTTP, a redirect
    elsewhere): refused before anything is sent."""


Origin = tuple[str, str, int]


def origin_of(base_url: str) -> Origin:
    """(scheme, host, port) of an attested server's https:// URL."""
    u = urllib.parse.urlsplit(base_url)
    if u.scheme.lower() != "https" or not u.hostname:
        raise OriginRefused(f"{base_url!r}: an attested server is reached over https:// only")
    return "https", u.hostname.lower(), u.port or 443


def _check_origin(url: httpx2.URL, origin: Origin) -> None:
    scheme = url.scheme.lower()
    got = (scheme, url.host.lower(), url.port or {"https": 443, "http": 80}.get(scheme, 0))
    if got != origin:
        raise OriginRefused(f"request to {scheme}://{url.host}:{got[2]} refused: this client only talks to "
                            f"the attested server {origin[0]}://{origin[1]}:{origin[2]}")


class OriginGuard(httpx2.BaseTransport):
    """Sends only to the attested origin, over https (every redirect hop passes through here too)."""

    def __init__(self, inner: httpx2.BaseTransport, origin: Origin) -> None:
        self.inner, self.origin = inner, origin

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        _check_origin(request.url, self.origin)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class AsyncOriginGuard(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport, origin: Origin) -> None:
        self.inner, self.origin = inner, origin

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        _check_origin(request.url, self.origin)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def sync_client(public_key: bytes | None, verify: Any, *, origin: str, **kwargs: Any) -> httpx2.Client:
    """A client for the attested server at `origin` only; requests sealed to `public_key` unless None."""
    inner: httpx2.BaseTransport = httpx2.HTTPTransport(verify=verify, trust_env=False)
    if public_key is not None:
        inner = EncryptingTransport(inner, public_key)
    return httpx2.Client(transport=OriginGuard(inner, origin_of(origin)), trust_env=False, **kwargs)


def async_client(public_key: bytes | None, verify: Any, *, origin: str, **kwargs: Any) -> httpx2.AsyncClient:
    inner: httpx2.AsyncBaseTransport = httpx2.AsyncHTTPTransport(verify=verify, trust_env=False)
    if public_key is not None:
        inner = AsyncEncryptingTransport(inner, public_key)
    return httpx2.AsyncClient(transport=AsyncOriginGuard(inner, origin_of(origin)), trust_env=False, **kwargs)
