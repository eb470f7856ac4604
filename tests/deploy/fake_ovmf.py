"""A tiny synthetic OVMF image with the tables sev-snp-measure reads (not a bootable firmware).

Real OVMF.fd builds are megabytes and not shipped here; what the launch-digest calculation
needs from one is its bytes plus the footer GUID table (SEV hash-table GPA, SEV-ES reset
vector) and the SEV metadata sections (SNP zero pages, secrets, CPUID, kernel hashes), in
the layout of edk2's OvmfPkg/ResetVector. That lets the tests run deploy/cvm/measure-snp.sh
end to end with the real tool.
"""

from __future__ import annotations

import struct
import uuid
from pathlib import Path

FOOTER_GUID = "96b582de-1fb2-45f7-baea-a366c55a082d"
SEV_HASH_TABLE_RV_GUID = "7255371f-3a3b-4b04-927b-1da6efa8d454"
SEV_ES_RESET_BLOCK_GUID = "00f771de-1a7e-4fcb-890e-68c77e2fb44e"
SEV_METADATA_GUID = "dc886566-984a-4798-a75e-5585a7bf67cc"

SIZE = 0x10000            # 64 KiB, mapped to end at 4 GiB
METADATA_OFFSET = 0x1000  # where the 'ASEV' header sits in the file
HASHES_PAGE = 0x80_0000   # GPA of the SNP_KERNEL_HASHES page
SECTIONS = [              # (gpa, size, type): SNP_SEC_MEM, SNP_SECRETS, CPUID, SNP_KERNEL_HASHES
    (0x81_0000, 0x2000, 1),
    (0x81_2000, 0x1000, 2),
    (0x81_3000, 0x1000, 3),
    (HASHES_PAGE, 0x1000, 0x10),
]


def _entry(guid: str, data: bytes) -> bytes:
    return data + struct.pack("<H", len(data) + 18) + uuid.UUID(guid).bytes_le


def build(path: Path, seed: bytes = b"teecube-ovmf") -> Path:
    body = bytearray((seed * (SIZE // len(seed) + 1))[:SIZE])  # deterministic "code" bytes
    header = b"ASEV" + struct.pack("<III", 16 + 12 * len(SECTIONS), 1, len(SECTIONS))
    items = b"".join(struct.pack("<III", *s) for s in SECTIONS)
    body[METADATA_OFFSET:METADATA_OFFSET + len(header) + len(items)] = header + items
    table = (
        _entry(SEV_METADATA_GUID, struct.pack("<I", SIZE - METADATA_OFFSET))
        + _entry(SEV_HASH_TABLE_RV_GUID, struct.pack("<II", HASHES_PAGE + 0xC00, 0x400))
        + _entry(SEV_ES_RESET_BLOCK_GUID, struct.pack("<I", 0xFFFF_F000))
    )
    footer = struct.pack("<H", len(table) + 18) + uuid.UUID(FOOTER_GUID).bytes_le
    end = SIZE - 32
    body[end - len(footer) - len(table):end] = table + footer
    path.write_bytes(bytes(body))
    return path
