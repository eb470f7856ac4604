"""How a report is bound to the TLS key and the client's nonce (the 64-byte report_data).

    report_data = SHA-512("teecube-attestation-v1\\0" ‖ SHA-256(TLS SPKI DER) ‖ nonce)    64 bytes
    gpu_nonce   = SHA-256("teecube-gpu-nonce-v1\\0"   ‖ SHA-256(TLS SPKI DER) ‖ nonce)    32 bytes

`nonce` is 32 bytes (64 hex characters in `GET /attestation?nonce=`).
"""

from __future__ import annotations

import hashlib

CPU_LABEL = b"teecube-attestation-v1\x00"
GPU_LABEL = b"teecube-gpu-nonce-v1\x00"
NONCE_SIZE = 32


class BadNonce(ValueError):
    """The nonce is not 32 bytes (64 hex characters)."""


def parse_nonce(text: str | None) -> bytes:
    if text is None or len(text) != 2 * NONCE_SIZE:
        raise BadNonce(f"nonce must be {2 * NONCE_SIZE} hex characters")
    try:
        return bytes.fromhex(text)
    except ValueError as e:
        raise BadNonce(f"nonce must be {2 * NONCE_SIZE} hex characters") from e


def _check(nonce: bytes) -> None:
    if len(nonce) != NONCE_SIZE:
        raise BadNonce(f"nonce must be {NONCE_SIZE} bytes, got {len(nonce)}")


def spki_sha256(spki_der: bytes) -> bytes:
    return hashlib.sha256(spki_der).digest()


def report_data(spki_der: bytes, nonce: bytes) -> bytes:
    """The 64 bytes the CPU report (SNP REPORT_DATA, TDX REPORTDATA) must carry."""
    _check(nonce)
    return hashlib.sha512(CPU_LABEL + spki_sha256(spki_der) + nonce).digest()


def gpu_nonce(spki_der: bytes, nonce: bytes) -> bytes:
    """The 32-byte nonce given to the GPU's SPDM GET_MEASUREMENTS request."""
    _check(nonce)
    return hashlib.sha256(GPU_LABEL + spki_sha256(spki_der) + nonce).digest()
