"""The SEV-SNP certificate table (GHCB extended guest request; configfs-tsm `auxblob`).

Entries of 24 bytes {GUID 16, offset u32 LE, length u32 LE}, ended by an all-zero entry;
offsets are from the start of the table. GUIDs per go-sev-guest `abi/abi.go`.
"""

from __future__ import annotations

import uuid

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from attestation.claims import ParseError

VCEK_GUID = uuid.UUID("63da758d-e664-4564-adc5-f4b93be8accd")
VLEK_GUID = uuid.UUID("a8074bc2-a25a-483e-aae6-39c045a0b8a1")
ASK_GUID = uuid.UUID("4ab7b379-bbac-4fe4-a02f-05aef327c782")
ARK_GUID = uuid.UUID("c0b406a4-a803-4952-9743-3fb6014cd0ae")
NAMES = {VCEK_GUID: "vcek", VLEK_GUID: "vlek", ASK_GUID: "ask", ARK_GUID: "ark"}
ENTRY_SIZE = 24


def _guid(raw: bytes) -> uuid.UUID:
    """Accept the GUID in RFC 4122 byte order or in the little-endian (EFI) layout."""
    for g in (uuid.UUID(bytes=raw), uuid.UUID(bytes_le=raw)):
        if g in NAMES:
            return g
    return uuid.UUID(bytes=raw)


def parse_cert_table(data: bytes) -> dict[uuid.UUID, bytes]:
    out: dict[uuid.UUID, bytes] = {}
    pos = 0
    while True:
        if pos + ENTRY_SIZE > len(data):
            raise ParseError("certificate table: no terminating zero entry")
        entry = data[pos : pos + ENTRY_SIZE]
        if not any(entry):
            return out
        guid = _guid(entry[:16])
        off = int.from_bytes(entry[16:20], "little")
        length = int.from_bytes(entry[20:24], "little")
        if off + length > len(data) or off < pos + ENTRY_SIZE:
            raise ParseError(f"certificate table: entry {guid} points outside the table")
        out[guid] = data[off : off + length]
        pos += ENTRY_SIZE


def build_cert_table(certs: dict[uuid.UUID, bytes]) -> bytes:
    """The inverse of `parse_cert_table` (RFC byte order), for tests and tools."""
    header = ENTRY_SIZE * (len(certs) + 1)
    table, blobs = b"", b""
    for guid, blob in certs.items():
        table += guid.bytes + (header + len(blobs)).to_bytes(4, "little") + len(blob).to_bytes(4, "little")
        blobs += blob
    return table + bytes(ENTRY_SIZE) + blobs


def snp_certs(table: dict[uuid.UUID, bytes]) -> dict[str, bytes]:
    """{"vcek"|"vlek": DER, "chain": PEM ASK then ARK} from a parsed table."""
    certs: dict[str, bytes] = {}
    for guid, name in ((VCEK_GUID, "vcek"), (VLEK_GUID, "vlek")):
        if table.get(guid):
            certs[name] = table[guid]
    if table.get(ASK_GUID) and table.get(ARK_GUID):
        pem = serialization.Encoding.PEM
        certs["chain"] = b"".join(
            x509.load_der_x509_certificate(table[g]).public_bytes(pem) for g in (ASK_GUID, ARK_GUID)
        )
    return certs
