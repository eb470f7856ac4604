"""A small DER reader and writer: just enough ASN.1 for AMD V[CL]EK certificates.

AMD's VCEK/VLEK certificates have serial number 0, which `cryptography` warns it will
reject in a future release, so their TBS certificate is read here, without x509 loaders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from attestation.claims import ParseError

INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
UTF8_STRING = 0x0C
PRINTABLE_STRING = 0x13
IA5_STRING = 0x16
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
SEQUENCE = 0x30
SET = 0x31
BOOLEAN = 0x01


@dataclass(frozen=True, slots=True)
class Tlv:
    tag: int
    value: bytes
    raw: bytes  # tag + length + value, exactly as encoded

    def children(self) -> list[Tlv]:
        if not self.tag & 0x20:
            raise ParseError(f"DER tag 0x{self.tag:02x} is not constructed")
        return read_all(self.value)


def read_one(data: bytes, pos: int = 0) -> tuple[Tlv, int]:
    """Read one TLV at `pos`; return it and the offset after it."""
    if pos + 2 > len(data):
        raise ParseError("DER: truncated header")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise ParseError("DER: multi-byte tags are not supported")
    first = data[pos + 1]
    hdr = 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4:
            raise ParseError("DER: bad length encoding")
        if pos + 2 + n > len(data):
            raise ParseError("DER: truncated length")
        length = int.from_bytes(data[pos + 2 : pos + 2 + n], "big")
        if length < 0x80 or data[pos + 2] == 0:
            raise ParseError("DER: non-minimal length")
        hdr += n
    end = pos + hdr + length
    if end > len(data):
        raise ParseError("DER: value runs past the end")
    return Tlv(tag, data[pos + hdr : end], data[pos:end]), end


def read_all(data: bytes) -> list[Tlv]:
    out, pos = [], 0
    while pos < len(data):
        tlv, pos = read_one(data, pos)
        out.append(tlv)
    return out


def read_single(data: bytes) -> Tlv:
    tlv, end = read_one(data)
    if end != len(data):
        raise ParseError("DER: trailing bytes")
    return tlv


def expect(tlv: Tlv, tag: int, what: str) -> Tlv:
    if tlv.tag != tag:
        raise ParseError(f"DER: {what}: expected tag 0x{tag:02x}, got 0x{tlv.tag:02x}")
    return tlv


def decode_oid(value: bytes) -> str:
    if not value:
        raise ParseError("DER: empty OID")
    parts: list[int] = []
    acc = 0
    for b in value:
        acc = (acc << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(acc)
            acc = 0
    if value[-1] & 0x80:
        raise ParseError("DER: truncated OID")
    first = parts[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(p) for p in head + parts[1:])


def decode_int(value: bytes) -> int:
    if not value:
        raise ParseError("DER: empty INTEGER")
    return int.from_bytes(value, "big", signed=True)


def decode_time(tlv: Tlv) -> datetime:
    text = tlv.value.decode("ascii")
    if tlv.tag == UTC_TIME:
        dt = datetime.strptime(text, "%y%m%d%H%M%SZ")
    elif tlv.tag == GENERALIZED_TIME:
        dt = datetime.strptime(text, "%Y%m%d%H%M%SZ")
    else:
        raise ParseError(f"DER: tag 0x{tlv.tag:02x} is not a time")
    return dt.replace(tzinfo=UTC)


def decode_string(tlv: Tlv) -> str:
    if tlv.tag not in (UTF8_STRING, PRINTABLE_STRING, IA5_STRING):
        raise ParseError(f"DER: tag 0x{tlv.tag:02x} is not a string")
    return tlv.value.decode("utf-8")


# -- writer (for the simulated provider's certificate extensions) --------------


def encode(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        return bytes([tag, n]) + value
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + value


def encode_int(v: int) -> bytes:
    return encode(INTEGER, v.to_bytes(v.bit_length() // 8 + 1, "big", signed=True))
