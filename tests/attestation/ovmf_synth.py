"""A small synthetic OVMF image with the structures sev-snp-measure reads (tests only).

Real OVMF builds are megabytes and not in the repository; what the measurement depends on is
their bytes plus the footer GUID table (SEV-ES reset block, SEV hash table, SEV metadata) and
the metadata's sections (SNP_SEC_MEM, SNP_SECRETS, CPUID, SNP_KERNEL_HASHES). This writes
exactly those, around random firmware bytes, so the release tool runs end to end.
"""

from __future__ import annotations

import struct
import uuid
from pathlib import Path

FOOTER = "96b582de-1fb2-45f7-baea-a366c55a082d"
HASH_TABLE = "7255371f-3a3b-4b04-927b-1da6efa8d454"
RESET_BLOCK = "00f771de-1a7e-4fcb-890e-68c77e2fb44e"
METADATA = "dc886566-984a-4798-a75e-5585a7bf67cc"
SIZE = 64 * 1024
SECTIONS = [(0x800000, 0x9000, 1), (0x809000, 0x1000, 2), (0x80A000, 0x1000, 3), (0x80B000, 0x1000, 0x10)]


def _entry(guid: str, data: bytes) -> bytes:
    return data + struct.pack("<H", len(data) + 18) + uuid.UUID(guid).bytes_le


def write(path: Path, seed: int = 1) -> Path:
    import random

    rng = random.Random(seed)
    body = bytearray(rng.randbytes(SIZE))
    meta = b"ASEV" + struct.pack("<III", 16 + 12 * len(SECTIONS), 1, len(SECTIONS))
    meta += b"".join(struct.pack("<III", *s) for s in SECTIONS)
    meta_offset = 0x1000  # the metadata sits this many bytes before the end
    body[SIZE - meta_offset:SIZE - meta_offset + len(meta)] = meta
    table = (_entry(RESET_BLOCK, struct.pack("<I", 0xFFFFF000))
             + _entry(HASH_TABLE, struct.pack("<II", 0x80BC00, 0x400))
             + _entry(METADATA, struct.pack("<I", meta_offset)))
    footer = struct.pack("<H", len(table) + 18) + uuid.UUID(FOOTER).bytes_le
    end = SIZE - 32
    body[end - len(footer) - len(table):end] = table + footer
    path.write_bytes(bytes(body))
    return path
