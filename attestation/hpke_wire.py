"""The encrypted-request wire format shared by the client and the proxy (docs/encrypted-requests.md).

Request: body = enc (32 bytes) ‖ HPKE ciphertext of the original JSON body, sealed to the attested
X25519 key with info `INFO` and additional data binding method, path, time and key id.
Response: frames sealed with AES-128-GCM under a key and nonce exported from the request's HPKE
context; frame i uses nonce base ⊕ i and additional data binding the HTTP status, i and whether
it is the last frame. A non-streamed answer is one final frame; a streamed answer is one SSE event
(`data: <base64 frame>`) per upstream SSE event and an empty final frame, so truncation is seen.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from attestation import hpke

MEDIA_TYPE = "application/vnd.teecube.hpke"
SCHEME = "hpke-v1"
H_ENCRYPTION = "Teecube-Encryption"  # "hpke-v1" on requests and on encrypted answers
H_KEY_ID = "Teecube-Key-Id"  # which attested key the request is sealed to
H_TIME = "Teecube-Request-Time"  # the client's clock, unix seconds
H_CONTENT_TYPE = "Teecube-Content-Type"  # the plaintext's media type of a non-streamed answer
INFO = b"teecube encrypted request v1"
REPLAY_WINDOW_S = 300
_RESPONSE_KEY = b"teecube response key v1"
_RESPONSE_NONCE = b"teecube response nonce v1"


class WireError(hpke.HpkeError):
    """An encrypted request or answer is malformed, stale, replayed, or does not open."""


def key_id(public_key: bytes) -> str:
    """Short public name of an HPKE key: the first 16 bytes of its SHA-256, hex."""
    return hashlib.sha256(public_key).digest()[:16].hex()


def request_aad(method: str, path: str, sent_at: int, kid: str) -> bytes:
    return b"\0".join((b"teecube-request-v1", method.upper().encode(), path.encode(), str(sent_at).encode(),
                       kid.encode()))


def _frame_aad(status: int, index: int, final: bool) -> bytes:
    return b"teecube-response-v1\0" + str(status).encode() + struct.pack(">QB", index, final)


@dataclass(slots=True)
class _FrameKeys:
    aead: AESGCM
    base_nonce: bytes
    index: int = 0

    @classmethod
    def from_context(cls, ctx: hpke.Context) -> _FrameKeys:
        return cls(AESGCM(ctx.export(_RESPONSE_KEY, hpke.N_K)), ctx.export(_RESPONSE_NONCE, hpke.N_N))

    def nonce(self) -> bytes:
        counter = self.index.to_bytes(hpke.N_N, "big")
        return bytes(a ^ b for a, b in zip(self.base_nonce, counter, strict=True))


# -- client side -----------------------------------------------------------------------------------


@dataclass(slots=True)
class ResponseOpener:
    """Opens the frames of the answer to one sealed request, in order."""

    keys: _FrameKeys
    finished: bool = False

    def open_frame(self, status: int, frame: bytes, *, final: bool) -> bytes:
        if self.finished:
            raise WireError("frame after the final frame")
        try:
            pt = self.keys.aead.decrypt(self.keys.nonce(), frame, _frame_aad(status, self.keys.index, final))
        except InvalidTag as e:
            raise WireError(f"encrypted answer frame {self.keys.index} does not open") from e
        self.keys.index += 1
        self.finished = final
        return pt

    def open_body(self, status: int, body: bytes) -> bytes:
        return self.open_frame(status, body, final=True)

    def open_event(self, status: int, data: str) -> bytes | None:
        """One SSE `data:` value: the plaintext event bytes, or None for the final frame."""
        try:
            frame = base64.b64decode(data, validate=True)
        except ValueError as e:
            raise WireError("encrypted SSE event is not base64") from e
        if len(frame) == 16:  # a tag alone: the empty final frame
            self.open_frame(status, frame, final=True)
            return None
        return self.open_frame(status, frame, final=False)


def seal_request(public_key: bytes, method: str, path: str, body: bytes,
                 *, now: float | None = None) -> tuple[dict[str, str], bytes, ResponseOpener]:
    """Headers and body of the encrypted request, and the opener for its answer."""
    kid = key_id(public_key)
    sent_at = int(now if now is not None else time.time())
    enc, ctx = hpke.setup_sender(hpke.public_key_from_bytes(public_key), INFO)
    sealed = enc + ctx.seal(body, request_aad(method, path, sent_at, kid))
    headers = {"Content-Type": MEDIA_TYPE, H_ENCRYPTION: SCHEME, H_KEY_ID: kid, H_TIME: str(sent_at)}
    return headers, sealed, ResponseOpener(_FrameKeys.from_context(ctx))


# -- server side -----------------------------------------------------------------------------------


@dataclass(slots=True)
class ReplayGuard:
    """Refuses a request sent outside the window, or one whose encapsulated key was seen within it."""

    window_s: int = REPLAY_WINDOW_S
    max_entries: int = 200_000
    _seen: OrderedDict[bytes, float] = field(default_factory=OrderedDict)

    def check_time(self, sent_at: int, now: float) -> None:
        if abs(now - sent_at) > self.window_s:
            raise WireError(f"request time {sent_at} is more than {self.window_s} s from the server's clock")

    def remember(self, enc: bytes, now: float) -> None:
        """Called only after the request opened: a forged request cannot burn someone else's key."""
        while self._seen and next(iter(self._seen.values())) < now - 2 * self.window_s:
            self._seen.popitem(last=False)
        digest = hashlib.sha256(enc).digest()
        if digest in self._seen:
            raise WireError("replayed request (its encapsulated key was already used)")
        if len(self._seen) >= self.max_entries:
            raise WireError("too many encrypted requests in the replay window; retry shortly")
        self._seen[digest] = now


@dataclass(slots=True)
class ResponseSealer:
    keys: _FrameKeys

    def _seal(self, status: int, plaintext: bytes, final: bool) -> bytes:
        aad = _frame_aad(status, self.keys.index, final)
        frame = self.keys.aead.encrypt(self.keys.nonce(), plaintext, aad)
        self.keys.index += 1
        return frame

    def seal_body(self, status: int, plaintext: bytes) -> bytes:
        return self._seal(status, plaintext, True)

    def seal_event(self, status: int, event: bytes) -> bytes:
        if not event:
            raise WireError("an empty event would read as the final frame")
        return b"data: " + base64.b64encode(self._seal(status, event, False)) + b"\n\n"

    def final_event(self, status: int) -> bytes:
        return b"data: " + base64.b64encode(self._seal(status, b"", True)) + b"\n\n"


def open_request(
    private_key: x25519.X25519PrivateKey, public_key: bytes, method: str, path: str,
    headers: dict[str, str], body: bytes, guard: ReplayGuard, *, now: float | None = None,
) -> tuple[bytes, ResponseSealer]:
    """The plaintext body of an encrypted request and the sealer for its answer. Raises WireError."""
    if headers.get(H_ENCRYPTION) != SCHEME:
        raise WireError(f"unknown encryption scheme {headers.get(H_ENCRYPTION)!r}, expected {SCHEME}")
    kid = key_id(public_key)
    if headers.get(H_KEY_ID) != kid:
        raise WireError("request is sealed to another key (the server restarted?): attest again")
    try:
        sent_at = int(headers.get(H_TIME, ""))
    except ValueError as e:
        raise WireError(f"missing or malformed {H_TIME}") from e
    if len(body) < hpke.N_ENC + 16:
        raise WireError("encrypted body is shorter than an encapsulated key and a tag")
    enc = body[: hpke.N_ENC]
    now = now if now is not None else time.time()
    guard.check_time(sent_at, now)
    try:
        ctx = hpke.setup_receiver(enc, private_key, INFO)
        plaintext = ctx.open(body[hpke.N_ENC:], request_aad(method, path, sent_at, kid))
    except WireError:
        raise
    except hpke.HpkeError as e:
        raise WireError(f"encrypted request does not open: {e}") from e
    guard.remember(enc, now)
    return plaintext, ResponseSealer(_FrameKeys.from_context(ctx))
