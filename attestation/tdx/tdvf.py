"""MRTD of a TD from its TDVF (OVMF built for TDX) image: parse the metadata, replay the build.

Sources (Intel public specifications; no code copied):

* Intel TDX Virtual Firmware Design Guide, chapter "TDVF Metadata": the image carries a
  TDVF_DESCRIPTOR (signature "TDVF", length, version 1, number of sections) followed by
  TDVF_SECTION entries of 32 bytes: DataOffset u32, RawDataSize u32, MemoryAddress u64,
  MemoryDataSize u64, Type u32 (0 BFV, 1 CFV, 2 TD_HOB, 3 TempMem, 4 PermMem, 5 Payload,
  6 PayloadParam), Attributes u32 (bit 0 MR.EXTEND, bit 1 PAGE.AUG). The descriptor is found
  through OVMF's GUIDed table at the end of the image (entry GUID e47a6535-…-4685a7bf8ec2 holds
  a u32: the descriptor's offset counted back from the end of the image); images without the
  table keep that u32 at 0x20 bytes before the end (the guide's original placement).
* Intel TDX Module Base Architecture Specification, "Measurement and Attestation" (MRTD),
  and the ABI specification's leaves TDH.MEM.PAGE.ADD and TDH.MR.EXTEND: MRTD is one SHA-384
  running over the whole build. TDH.MEM.PAGE.ADD updates it with a 128-byte block: bytes 0..11
  "MEM.PAGE.ADD", bytes 16..23 the page's GPA (u64 LE), the rest zero. TDH.MR.EXTEND of a
  256-byte chunk updates it with a 128-byte block ("MR.EXTEND", GPA at 16..23) and then the
  chunk's 256 bytes. TDH.MR.FINALIZE ends the hash.

Order: the VMM adds the sections in metadata order, page by page, and a page of a MR.EXTEND
section is extended (its 16 chunks) right after it is added — the order of Linux KVM's
`KVM_TDX_INIT_MEM_REGION` with `KVM_TDX_MEASURE_MEMORY_REGION`, which QEMU calls once per
section. Sections with PAGE.AUG are accepted later by the guest and never enter MRTD.
A stack that orders these calls differently (some early out-of-tree TDX patches) measures a
different MRTD from the same image.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
import uuid
from dataclasses import dataclass

from attestation.claims import ParseError

PAGE = 4096
CHUNK = 256
TDVF_SIGNATURE = b"TDVF"
TDX_METADATA_OFFSET_GUID = uuid.UUID("e47a6535-984a-4798-865e-4685a7bf8ec2")
OVMF_TABLE_FOOTER_GUID = uuid.UUID("96b582de-1fb2-45f7-baea-a366c55a082d")
FOOTER_GUID_FROM_END = 0x30  # the footer GUID sits 48 bytes before the end of the image
LEGACY_OFFSET_FROM_END = 0x20
ATTR_MR_EXTEND = 1 << 0
ATTR_PAGE_AUG = 1 << 1
SECTION_TYPES = {0: "BFV", 1: "CFV", 2: "TD_HOB", 3: "TempMem", 4: "PermMem", 5: "Payload", 6: "PayloadParam"}
_DESCRIPTOR = struct.Struct("<4sIII")
_SECTION = struct.Struct("<IIQQII")
MAX_SECTIONS = 64


@dataclass(frozen=True, slots=True)
class Section:
    data_offset: int
    raw_size: int
    address: int  # guest-physical
    memory_size: int
    type: int
    attributes: int

    @property
    def type_name(self) -> str:
        return SECTION_TYPES.get(self.type, f"type {self.type}")

    @property
    def extended(self) -> bool:
        return bool(self.attributes & ATTR_MR_EXTEND)

    @property
    def augmented(self) -> bool:
        return bool(self.attributes & ATTR_PAGE_AUG)


def _guid_table(image: bytes) -> dict[uuid.UUID, bytes]:
    """OVMF's GUIDed table, read backwards from its footer; {} when the image has none."""
    end = len(image) - FOOTER_GUID_FROM_END
    if end < 18 or uuid.UUID(bytes_le=image[end:end + 16]) != OVMF_TABLE_FOOTER_GUID:
        return {}
    (total,) = struct.unpack_from("<H", image, end - 2)
    start = end + 16 - total
    if total < 18 or start < 0:
        raise ParseError("TDVF: OVMF GUID table length out of range")
    entries: dict[uuid.UUID, bytes] = {}
    pos = end - 2  # just past the last entry, i.e. where the footer's length field starts
    while pos > start:
        if pos - 18 < start:
            raise ParseError("TDVF: OVMF GUID table entry overruns the table")
        guid = uuid.UUID(bytes_le=image[pos - 16:pos])
        (length,) = struct.unpack_from("<H", image, pos - 18)
        if length < 18 or pos - length < start:
            raise ParseError("TDVF: OVMF GUID table entry length out of range")
        entries[guid] = image[pos - length:pos - 18]
        pos -= length
    return entries


def metadata_offset(image: bytes) -> int:
    """Where the TDVF_DESCRIPTOR starts, from the GUIDed table or the legacy pointer."""
    if len(image) < PAGE:
        raise ParseError("TDVF: image too small")
    table = _guid_table(image)
    back: int
    if TDX_METADATA_OFFSET_GUID in table:
        data = table[TDX_METADATA_OFFSET_GUID]
        if len(data) < 4:
            raise ParseError("TDVF: metadata-offset entry too short")
        (back,) = struct.unpack_from("<I", data)
    else:
        (back,) = struct.unpack_from("<I", image, len(image) - LEGACY_OFFSET_FROM_END)
    offset = len(image) - back
    if back == 0 or offset < 0 or offset + _DESCRIPTOR.size > len(image):
        raise ParseError("TDVF: no TDX metadata (not a TDVF image?)")
    return offset


def parse_metadata(image: bytes) -> list[Section]:
    """The TDVF sections, checked against the design guide's rules."""
    offset = metadata_offset(image)
    sig, length, version, count = _DESCRIPTOR.unpack_from(image, offset)
    if sig != TDVF_SIGNATURE:
        raise ParseError("TDVF: metadata signature is not 'TDVF'")
    if version != 1:
        raise ParseError(f"TDVF: metadata version {version} is not supported")
    if not 1 <= count <= MAX_SECTIONS or length != _DESCRIPTOR.size + count * _SECTION.size:
        raise ParseError("TDVF: metadata length and section count disagree")
    if offset + length > len(image):
        raise ParseError("TDVF: metadata runs past the end of the image")
    sections = [Section(*_SECTION.unpack_from(image, offset + _DESCRIPTOR.size + i * _SECTION.size))
                for i in range(count)]
    for s in sections:
        _check(s, len(image))
    if sum(s.type == 0 for s in sections) != 1:
        raise ParseError("TDVF: the metadata must name exactly one BFV section")
    spans = sorted((s.address, s.address + s.memory_size) for s in sections)
    if any(a_end > b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans)):
        raise ParseError("TDVF: sections overlap in guest memory")
    return sections


def _check(s: Section, image_size: int) -> None:
    what = f"TDVF section {s.type_name} at {s.address:#x}"
    if s.type not in SECTION_TYPES:
        raise ParseError(f"{what}: unknown type")
    if s.attributes & ~(ATTR_MR_EXTEND | ATTR_PAGE_AUG):
        raise ParseError(f"{what}: unknown attributes {s.attributes:#x}")
    if s.address % PAGE or s.memory_size % PAGE or s.memory_size == 0:
        raise ParseError(f"{what}: address and size must be whole 4 KiB pages")
    if s.raw_size > s.memory_size or s.data_offset + s.raw_size > image_size:
        raise ParseError(f"{what}: raw data out of range")
    if s.address + s.memory_size > 1 << 52:
        raise ParseError(f"{what}: beyond the guest-physical address space")
    if s.type in (2, 3) and (s.raw_size or s.extended):  # TD_HOB, TempMem: no data, not extended
        raise ParseError(f"{what}: must carry no raw data and no MR.EXTEND")
    if s.extended and s.augmented:
        raise ParseError(f"{what}: MR.EXTEND and PAGE.AUG exclude each other")


class _Mrtd:
    def __init__(self) -> None:
        self._h = hashlib.sha384()  # TDH.MNG.INIT

    def page_add(self, gpa: int) -> None:  # TDH.MEM.PAGE.ADD
        self._h.update(b"MEM.PAGE.ADD".ljust(16, b"\0") + struct.pack("<Q", gpa) + bytes(104))

    def extend(self, gpa: int, chunk: bytes) -> None:  # TDH.MR.EXTEND
        self._h.update(b"MR.EXTEND".ljust(16, b"\0") + struct.pack("<Q", gpa) + bytes(104) + chunk)

    def finalize(self) -> bytes:  # TDH.MR.FINALIZE
        return self._h.digest()


def compute_mrtd(image: bytes, sections: list[Section] | None = None) -> bytes:
    """MRTD (48 bytes) of a TD built from `image` by a VMM following the TDVF metadata."""
    sections = parse_metadata(image) if sections is None else sections
    mr = _Mrtd()
    for s in sections:
        if s.augmented:
            continue
        content = image[s.data_offset:s.data_offset + s.raw_size].ljust(s.memory_size, b"\0")
        for page in range(0, s.memory_size, PAGE):
            mr.page_add(s.address + page)
            if s.extended:
                for off in range(page, page + PAGE, CHUNK):
                    mr.extend(s.address + off, content[off:off + CHUNK])
    return mr.finalize()
