"""NVIDIA Hopper attestation report: SPDM 1.1 GET_MEASUREMENTS request ‖ MEASUREMENTS
response, bytes → typed structures, nothing else.

Layout per DMTF DSP0274 1.1 and NVIDIA nvtrust `local_gpu_verifier/.../attestation/`.
Integers are little-endian. The response's length follows from its own fields; bytes after
the signature (the coco vector has one zero byte) are counted, and must be zero.
"""

from __future__ import annotations

from dataclasses import dataclass

from attestation.claims import ParseError

SPDM_VERSION_11 = 0x11
GET_MEASUREMENTS = 0xE0
MEASUREMENTS = 0x60
REQUEST_SIZE = 37
NONCE_SIZE = 32
SIGNATURE_SIZE = 96  # r‖s, ECDSA P-384

# Opaque-data TLV ids (nvtrust spdm_msrt_resp_msg.py).
OPAQUE_NAMES = {
    1: "cert_issuer_name",
    2: "cert_authority_key_identifier",
    3: "driver_version",
    4: "gpu_info",
    5: "sku",
    6: "vbios_version",
    7: "manufacturer_id",
    8: "tamper_detection",
    9: "smc",
    10: "vpr",
    11: "nvdec0_status",
    12: "msrscnt",
    13: "cprinfo",
    14: "board_id",
    15: "chip_sku",
    16: "chip_sku_mod",
    17: "project",
    18: "project_sku",
    19: "project_sku_mod",
    20: "fwid",
    21: "protected_pcie_status",
    22: "switch_pdi",
    23: "floorswept_ports",
    24: "position_id",
    25: "lock_switch_status",
    32: "gpu_link_conn",
    33: "sys_enable_status",
    34: "opaque_data_version",
    35: "chip_info",
    36: "feature_flag",
}
OPAQUE_DRIVER_VERSION = 3
OPAQUE_VBIOS_VERSION = 6
OPAQUE_NVDEC0_STATUS = 11
OPAQUE_FWID = 20


@dataclass(frozen=True, slots=True)
class MeasurementRequest:
    raw: bytes
    version: int
    param1: int  # bit 0: signature requested
    param2: int  # 0xFF: all blocks
    nonce: bytes
    slot_id: int


@dataclass(frozen=True, slots=True)
class MeasurementBlock:
    index: int
    spec: int  # 1 = DMTF
    value_type: int
    value: bytes


@dataclass(frozen=True, slots=True)
class OpaqueField:
    type: int
    value: bytes

    @property
    def name(self) -> str:
        return OPAQUE_NAMES.get(self.type, f"type_{self.type}")


@dataclass(frozen=True, slots=True)
class MeasurementResponse:
    version: int
    param1: int
    param2: int
    blocks: tuple[MeasurementBlock, ...]
    nonce: bytes
    opaque: tuple[OpaqueField, ...]
    signature: bytes


@dataclass(frozen=True, slots=True)
class AttestationReport:
    request: MeasurementRequest
    response: MeasurementResponse
    signed_data: bytes  # request ‖ response up to (not including) the signature
    trailing_bytes: int

    def measurement(self, index: int) -> bytes | None:
        return next((b.value for b in self.response.blocks if b.index == index), None)

    def opaque_field(self, type_: int) -> bytes | None:
        return next((f.value for f in self.response.opaque if f.type == type_), None)

    @property
    def driver_version(self) -> str | None:
        return self._text(OPAQUE_DRIVER_VERSION)

    @property
    def vbios_version(self) -> str | None:
        """As NVIDIA formats it, e.g. 96.00.74.00.1A: u32 LE at 0 as four hex bytes, then byte 4."""
        v = self.opaque_field(OPAQUE_VBIOS_VERSION)
        if v is None or len(v) < 5:
            return None
        h = f"{int.from_bytes(v[:4], 'little'):08X}{v[4]:02X}"
        return ".".join(h[i : i + 2] for i in range(0, len(h), 2))

    def _text(self, type_: int) -> str | None:
        v = self.opaque_field(type_)
        return None if v is None else v.split(b"\x00", 1)[0].decode("ascii", "replace")

    @property
    def vbios_rim_id(self) -> str | None:
        """NVIDIA RIM service id of the matching VBIOS RIM (NV_GPU_VBIOS_<project>_<sku>_<chip>_<ver>)."""
        parts = [self._text(17), self._text(18), self._text(15), self.vbios_version]
        present = [p for p in parts if p is not None]
        if len(present) != len(parts):
            return None
        return "NV_GPU_VBIOS_" + "_".join(present)

    @property
    def fwid(self) -> bytes | None:
        return self.opaque_field(OPAQUE_FWID)


class _Reader:
    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data, self.pos = data, pos
        self.end = len(data) if end is None else end

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise ParseError(f"GPU report truncated reading {what} ({n} bytes at offset {self.pos})")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        return int.from_bytes(self.take(2, what), "little")


def parse_request(raw: bytes) -> MeasurementRequest:
    if len(raw) != REQUEST_SIZE:
        raise ParseError(f"GET_MEASUREMENTS request is {len(raw)} bytes, expected {REQUEST_SIZE}")
    version, code, p1, p2 = raw[0], raw[1], raw[2], raw[3]
    if version != SPDM_VERSION_11 or code != GET_MEASUREMENTS:
        raise ParseError(f"request version {version:#x} code {code:#x} is not SPDM 1.1 GET_MEASUREMENTS")
    if not p1 & 1:
        raise ParseError("GET_MEASUREMENTS request did not ask for a signature")
    return MeasurementRequest(bytes(raw), version, p1, p2, bytes(raw[4:36]), raw[36])


def _parse_blocks(record: bytes, count: int) -> tuple[MeasurementBlock, ...]:
    r = _Reader(record)
    blocks = []
    seen = set()
    for _ in range(count):
        index = r.u8("block index")
        spec = r.u8("measurement specification")
        size = r.u16("measurement size")
        body = _Reader(r.take(size, f"measurement block {index}"))
        if spec != 1:
            raise ParseError(f"measurement block {index}: specification {spec} is not DMTF")
        vtype = body.u8("DMTF value type")
        vsize = body.u16("DMTF value size")
        value = body.take(vsize, "DMTF value")
        if body.pos != body.end:
            raise ParseError(f"measurement block {index}: {body.end - body.pos} stray bytes")
        if index in seen:
            raise ParseError(f"measurement block {index} appears twice")
        seen.add(index)
        blocks.append(MeasurementBlock(index, spec, vtype, value))
    if r.pos != r.end:
        raise ParseError(f"measurement record has {r.end - r.pos} bytes beyond {count} blocks")
    return tuple(blocks)


def _parse_opaque(data: bytes) -> tuple[OpaqueField, ...]:
    r = _Reader(data)
    out = []
    while r.pos < r.end:
        t = r.u16("opaque field type")
        n = r.u16("opaque field size")
        out.append(OpaqueField(t, r.take(n, f"opaque field {t}")))
    return tuple(out)


def parse_report(data: bytes) -> AttestationReport:
    """Parse request ‖ response. Raises ParseError on any structural problem."""
    request = parse_request(data[:REQUEST_SIZE])
    r = _Reader(data, REQUEST_SIZE)
    version = r.u8("response version")
    code = r.u8("response code")
    if version != SPDM_VERSION_11 or code != MEASUREMENTS:
        raise ParseError(f"response is version {version:#x} code {code:#x}, expected SPDM 1.1 MEASUREMENTS")
    p1 = r.u8("param1")
    p2 = r.u8("param2")
    count = r.u8("number of blocks")
    rec_len = int.from_bytes(r.take(3, "record length"), "little")
    blocks = _parse_blocks(r.take(rec_len, "measurement record"), count)
    nonce = r.take(NONCE_SIZE, "responder nonce")
    opaque = _parse_opaque(r.take(r.u16("opaque length"), "opaque data"))
    signed_end = r.pos
    signature = r.take(SIGNATURE_SIZE, "signature")
    trailing = data[r.pos :]
    if any(trailing):
        raise ParseError(f"{len(trailing)} non-zero bytes after the signature")
    response = MeasurementResponse(version, p1, p2, blocks, nonce, opaque, signature)
    return AttestationReport(request, response, bytes(data[:signed_end]), len(trailing))
