"""HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-128-GCM, with contexts.

`cryptography` 50 ships `cryptography.hazmat.primitives.hpke`, but only as single-shot
`Suite.encrypt/decrypt`: no context, so no `Export` — and teecube's responses are encrypted
under keys exported from the request's context. This module implements the RFC's key schedule
from `cryptography` primitives (X25519, HMAC-SHA256, HKDF-Expand, AES-GCM). Its first message
of a context is byte-compatible with `Suite` (tests check both directions) and it reproduces
RFC 9180 Appendix A.1.1 (tests/attestation/test_hpke.py).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from attestation.claims import VerificationError

KEM_ID = 0x0020  # DHKEM(X25519, HKDF-SHA256)
KDF_ID = 0x0001  # HKDF-SHA256
AEAD_ID = 0x0001  # AES-128-GCM
SUITE_NAME = "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM"
N_ENC = N_PK = 32
N_K, N_N, N_H = 16, 12, 32
MODE_BASE = 0x00
_KEM_SUITE = b"KEM" + struct.pack(">H", KEM_ID)
_HPKE_SUITE = b"HPKE" + struct.pack(">HHH", KEM_ID, KDF_ID, AEAD_ID)


class HpkeError(VerificationError):
    """A ciphertext does not open (wrong key, tampered, replayed out of order) or a key is malformed."""


def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or bytes(N_H), ikm, hashlib.sha256).digest()


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    return HKDFExpand(hashes.SHA256(), length, info).derive(prk)


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + suite + label + ikm)


def _labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    return _expand(prk, struct.pack(">H", length) + b"HPKE-v1" + suite + label + info, length)


def _raw(pub: x25519.X25519PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_from_bytes(data: bytes) -> x25519.X25519PublicKey:
    if len(data) != N_PK:
        raise HpkeError(f"HPKE public key is {len(data)} bytes, expected {N_PK}")
    return x25519.X25519PublicKey.from_public_bytes(data)


def _shared_secret(dh: bytes, enc: bytes, pk_r: bytes) -> bytes:
    if dh == bytes(32):
        raise HpkeError("X25519 produced the all-zero shared secret (small-order point)")
    eae_prk = _labeled_extract(_KEM_SUITE, b"", b"eae_prk", dh)
    return _labeled_expand(_KEM_SUITE, eae_prk, b"shared_secret", enc + pk_r, N_H)


@dataclass(slots=True)
class Context:
    """An HPKE encryption context (RFC 9180 §5.2): sequenced AEAD plus the secret exporter."""

    key: bytes = field(repr=False)
    base_nonce: bytes = field(repr=False)
    exporter_secret: bytes = field(repr=False)
    seq: int = 0
    _aead: AESGCM = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._aead = AESGCM(self.key)

    def _nonce(self) -> bytes:
        if self.seq >= 1 << 64:
            raise HpkeError("HPKE message limit reached")
        return bytes(a ^ b for a, b in zip(self.base_nonce, self.seq.to_bytes(N_N, "big"), strict=True))

    def seal(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        ct = self._aead.encrypt(self._nonce(), plaintext, aad)
        self.seq += 1
        return ct

    def open(self, ciphertext: bytes, aad: bytes = b"") -> bytes:
        try:
            pt = self._aead.decrypt(self._nonce(), ciphertext, aad)
        except InvalidTag as e:
            raise HpkeError("HPKE ciphertext does not open") from e
        self.seq += 1
        return pt

    def export(self, exporter_context: bytes, length: int) -> bytes:
        return _labeled_expand(_HPKE_SUITE, self.exporter_secret, b"sec", exporter_context, length)


def _key_schedule(shared_secret: bytes, info: bytes) -> Context:
    psk_id_hash = _labeled_extract(_HPKE_SUITE, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(_HPKE_SUITE, b"", b"info_hash", info)
    ctx = bytes([MODE_BASE]) + psk_id_hash + info_hash
    secret = _labeled_extract(_HPKE_SUITE, shared_secret, b"secret", b"")
    return Context(
        key=_labeled_expand(_HPKE_SUITE, secret, b"key", ctx, N_K),
        base_nonce=_labeled_expand(_HPKE_SUITE, secret, b"base_nonce", ctx, N_N),
        exporter_secret=_labeled_expand(_HPKE_SUITE, secret, b"exp", ctx, N_H),
    )


def setup_sender(
    recipient: x25519.X25519PublicKey, info: bytes, *, ephemeral: x25519.X25519PrivateKey | None = None
) -> tuple[bytes, Context]:
    """SetupBaseS: (enc, context). `ephemeral` is for test vectors only."""
    sk_e = ephemeral or x25519.X25519PrivateKey.generate()
    enc, pk_r = _raw(sk_e.public_key()), _raw(recipient)
    return enc, _key_schedule(_shared_secret(sk_e.exchange(recipient), enc, pk_r), info)


def setup_receiver(enc: bytes, recipient: x25519.X25519PrivateKey, info: bytes) -> Context:
    """SetupBaseR from the encapsulated key `enc`."""
    if len(enc) != N_ENC:
        raise HpkeError(f"encapsulated key is {len(enc)} bytes, expected {N_ENC}")
    try:
        dh = recipient.exchange(x25519.X25519PublicKey.from_public_bytes(enc))
    except ValueError as e:  # cryptography refuses the all-zero output of low-order points
        raise HpkeError("encapsulated key is not a usable X25519 point") from e
    return _key_schedule(_shared_secret(dh, enc, _raw(recipient.public_key())), info)


@dataclass(frozen=True, slots=True)
class KeyPair:
    """The server's HPKE key pair, generated inside the TEE at start and never written anywhere."""

    private: x25519.X25519PrivateKey

    @classmethod
    def generate(cls) -> KeyPair:
        return cls(x25519.X25519PrivateKey.generate())

    @property
    def public_bytes(self) -> bytes:
        return _raw(self.private.public_key())
