"""How a report is bound to the TLS key, the HPKE key and the client's nonce (the 64-byte report_data).

Layout version 2 (bundle format `teecube-attestation/2`):

    report_data = SHA-512("teecube-attestation-v2\\0" ‖ SHA-256(TLS SPKI DER) ‖ HPKE public key ‖ nonce)
    gpu_nonce   = SHA-256("teecube-gpu-nonce-v2\\0"   ‖ SHA-256(TLS SPKI DER) ‖ HPKE public key ‖ nonce)

The HPKE public key is the 32-byte X25519 key requests are encrypted to (docs/encrypted-requests.md);
`nonce` is 32 bytes (64 hex characters in `GET /attestation?nonce=`). Version 1 (no HPKE key) is
refused by current clients: a v1 server cannot take encrypted requests.
"""

from __future__ import annotations

import hashlib

CPU_LABEL = b"teecube-attestation-v2\x00"
GPU_LABEL = b"teecube-gpu-nonce-v2\x00"
LAYOUT_VERSION = 2
NONCE_SIZE = 32
HPKE_KEY_SIZE = 32


class BadNonce(ValueError):
    """The nonce is not 32 bytes (64 hex characters)."""


def parse_nonce(text: str | None) -> bytes:
    if not isinstance(text, str) or len(text) != 2 * NONCE_SIZE:
        raise BadNonce(f"nonce must be {2 * NONCE_SIZE} hex characters")
    try:
        return bytes.fromhex(text)
    except ValueError as e:
        raise BadNonce(f"nonce must be {2 * NONCE_SIZE} hex characters") from e


def _check(nonce: bytes, hpke_public_key: bytes) -> None:
    if len(nonce) != NONCE_SIZE:
        raise BadNonce(f"nonce must be {NONCE_SIZE} bytes, got {len(nonce)}")
    if len(hpke_public_key) != HPKE_KEY_SIZE:
        raise ValueError(f"HPKE public key must be {HPKE_KEY_SIZE} bytes, got {len(hpke_public_key)}")


def spki_sha256(spki_der: bytes) -> bytes:
    return hashlib.sha256(spki_der).digest()


def report_data(spki_der: bytes, nonce: bytes, hpke_public_key: bytes) -> bytes:
    """The 64 bytes the CPU report (SNP REPORT_DATA, TDX REPORTDATA) must carry."""
    _check(nonce, hpke_public_key)
    return hashlib.sha512(CPU_LABEL + spki_sha256(spki_der) + hpke_public_key + nonce).digest()


def gpu_nonce(spki_der: bytes, nonce: bytes, hpke_public_key: bytes) -> bytes:
    """The 32-byte nonce given to the GPU's SPDM GET_MEASUREMENTS request."""
    _check(nonce, hpke_public_key)
    return hashlib.sha256(GPU_LABEL + spki_sha256(spki_der) + hpke_public_key + nonce).digest()
