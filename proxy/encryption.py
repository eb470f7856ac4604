"""Encrypted requests end to end (HPKE): the proxy side of docs/encrypted-requests.md.

The HPKE key pair is made inside the TEE at start (`attestation.tls.TlsIdentity`) and bound
into every attestation report next to the TLS key. A request to `/v1/*` carrying
`Teecube-Encryption: hpke-v1` is opened here, before any handler sees it, and handed on as the
plain JSON request it was; the answer is sealed under keys exported from the same HPKE
context: a JSON answer as one frame, an SSE stream one frame per event plus a final frame.
Nothing in between (a TLS-terminating balancer, a relay) sees prompts or completions.

Plain requests still work for domains that allow them; a POST to `/v1/*` from a domain with
`require_encrypted_requests` gets a 403 `encryption_required`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.streams import StreamReader
from multidict import CIMultiDict

from attestation import hpke_wire
from attestation.hpke import KeyPair
from proxy.body import read_body_bytes
from proxy.errors import ApiError
from proxy.state import AUTH, CONFIG, DIRECTORY

SEALED_OVERHEAD = 32 + 16  # encapsulated key and AEAD tag
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class Encryption:
    """The attested HPKE key pair and the replay window of the requests sealed to it."""

    key: KeyPair
    guard: hpke_wire.ReplayGuard = field(default_factory=hpke_wire.ReplayGuard)


ENCRYPTION = web.AppKey("encryption", Encryption)

_CODES = {  # fixed messages: nothing from the request is echoed
    "key": (409, "This request is sealed to a key the server no longer holds. Attest the server again.",
            "encryption_key_unknown"),
    "replay": (409, "This encrypted request was already received.", "encryption_replayed"),
    "time": (400, "The encrypted request's time is outside the server's replay window.", "encryption_stale"),
    "other": (400, "The encrypted request could not be opened.", "encryption_invalid"),
}


def _wire_error(err: hpke_wire.WireError) -> web.Response:
    text = str(err)
    kind = ("key" if "another key" in text else "replay" if "replayed" in text
            else "time" if "clock" in text else "other")
    status, message, code = _CODES[kind]
    return ApiError(status, message, code=code).response()


async def _requires_encryption(request: web.Request) -> bool:
    principal = await request.app[AUTH].authenticate(request)  # an ApiError answers bad credentials
    settings = await request.app[DIRECTORY].settings(principal.domain_id)
    return bool(settings is not None and settings.require_encrypted_requests)


class _SealingWriter:
    """Wraps aiohttp's payload writer for one answer: every SSE event leaves sealed."""

    def __init__(self, inner: Any, sealer: hpke_wire.ResponseSealer) -> None:
        self.__dict__.update(_inner=inner, _sealer=sealer, _buffer=b"", _status=200, _sse=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value: Any) -> None:  # e.g. `writer.length = ...`
        setattr(self._inner, name, value)

    async def write_headers(self, status_line: str, headers: CIMultiDict[str]) -> None:
        parts = status_line.split(" ", 2)
        self.__dict__["_status"] = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 200
        original = headers.get("Content-Type", "")
        self.__dict__["_sse"] = original.startswith("text/event-stream")
        if "Content-Length" in headers:  # sealing changes the length: send chunked instead
            del headers["Content-Length"]
            self._inner.length = None
            self._inner.enable_chunking()
            headers["Transfer-Encoding"] = "chunked"
        headers["Content-Type"] = "text/event-stream"
        headers[hpke_wire.H_ENCRYPTION] = hpke_wire.SCHEME
        headers[hpke_wire.H_CONTENT_TYPE] = original
        await self._inner.write_headers(status_line, headers)

    async def _emit(self, data: bytes) -> None:
        await self._inner.write(self._sealer.seal_event(self._status, data))

    async def write(self, chunk: bytes | bytearray | memoryview, *args: Any, **kwargs: Any) -> None:
        if not self._sse:  # not an event stream: each write is one frame
            if chunk:
                await self._emit(bytes(chunk))
            return
        buffer = self._buffer + bytes(chunk)
        while (end := buffer.find(b"\n\n")) >= 0:
            await self._emit(buffer[: end + 2])
            buffer = buffer[end + 2:]
        self.__dict__["_buffer"] = buffer

    async def write_eof(self, chunk: bytes = b"") -> None:
        rest = self._buffer + bytes(chunk)
        self.__dict__["_buffer"] = b""
        if rest:
            await self._emit(rest)
        await self._inner.write(self._sealer.final_event(self._status))
        await self._inner.write_eof()


def _plain_request(request: web.Request, plaintext: bytes, sealer: hpke_wire.ResponseSealer) -> web.Request:
    """The request as the client wrote it, with a writer that seals whatever is streamed back."""
    headers = CIMultiDict(request.headers)
    for name in (hpke_wire.H_ENCRYPTION, hpke_wire.H_KEY_ID, hpke_wire.H_TIME, "Content-Length",
                 "Transfer-Encoding"):
        headers.popall(name, None)
    headers["Content-Type"] = "application/json"
    headers["Content-Length"] = str(len(plaintext))
    reader = StreamReader(request.protocol, 2**16, loop=asyncio.get_running_loop())
    reader.feed_data(plaintext)
    reader.feed_eof()
    plain = request.clone(headers=headers)
    # aiohttp has no public way to replace a request's body or its response writer.
    plain._payload = reader  # type: ignore[attr-defined]
    plain._payload_writer = _SealingWriter(request._payload_writer, sealer)  # type: ignore[attr-defined]
    return plain


def _sealed_response(response: web.Response, sealer: hpke_wire.ResponseSealer) -> web.Response:
    body = response.body if isinstance(response.body, bytes | bytearray) else b""
    headers = CIMultiDict(response.headers)
    original = headers.popall("Content-Type", ["application/json"])[0]
    headers.popall("Content-Length", None)
    headers[hpke_wire.H_ENCRYPTION] = hpke_wire.SCHEME
    headers[hpke_wire.H_CONTENT_TYPE] = original
    sealed = web.Response(status=response.status, body=sealer.seal_body(response.status, bytes(body)),
                          headers=headers)
    sealed.content_type = hpke_wire.MEDIA_TYPE
    return sealed


@web.middleware
async def encryption_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/v1/"):
        return await handler(request)
    try:
        if hpke_wire.H_ENCRYPTION not in request.headers:
            if request.method == "POST" and await _requires_encryption(request):
                raise ApiError(403, "This domain accepts only encrypted requests (HPKE to the attested key): "
                               "connect with attestation.client.connect().", code="encryption_required")
            return await handler(request)
        encryption = request.app.get(ENCRYPTION)
        if encryption is None:
            raise ApiError(400, "This server has no attested encryption key; send plain HTTPS.",
                           code="encryption_unavailable")
        config = request.app[CONFIG]
        # capped and with the body deadline (408), as a plain body: no credential is checked first
        sealed = await read_body_bytes(request, config.default_max_body_bytes + SEALED_OVERHEAD,
                                       timeout=config.body_timeout)
        names = (hpke_wire.H_ENCRYPTION, hpke_wire.H_KEY_ID, hpke_wire.H_TIME)
        headers = {k: request.headers[k] for k in names if k in request.headers}
        try:
            plaintext, sealer = hpke_wire.open_request(
                encryption.key.private, encryption.key.public_bytes, request.method, request.path, headers,
                sealed, encryption.guard,
            )
        except hpke_wire.WireError as err:
            return _wire_error(err)
    except ApiError as err:
        return err.response()
    response = await handler(_plain_request(request, plaintext, sealer))
    if response.prepared:
        return response  # streamed through the sealing writer
    if not isinstance(response, web.Response):
        return ApiError(500, "Internal error.", code="internal_error").response()
    return _sealed_response(response, sealer)
