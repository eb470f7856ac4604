"""TDX measured-boot event log (ACPI CCEL): parse the crypto-agile TCG log and replay it.

The log starts with a TCG_PCR_EVENT (SHA-1 format) carrying the "Spec ID Event03"
header that lists the digest sizes, then TCG_PCR_EVENT2 records. In a TD the index field
is the MR index: 0 = MRTD (not extendable), 1..4 = RTMR0..3. Replaying the SHA-384
digests into RTMR[index-1] (RTMR := SHA-384(RTMR ‖ digest), starting at zero) must give
the RTMRs in the quote; only then can the events be believed.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from attestation.claims import ParseError

CCEL_SIGNATURE = b"CCEL"
TPM_ALG_SHA384 = 0x000C
EV_NO_ACTION = 0x00000003
_SPEC_ID = b"Spec ID Event03\x00"


@dataclass(frozen=True, slots=True)
class CcelTable:
    cc_type: int  # 2 = TDX
    cc_subtype: int
    log_area_minimum_length: int
    log_area_start_address: int


@dataclass(frozen=True, slots=True)
class Event:
    mr_index: int
    event_type: int
    digests: dict[int, bytes]  # TPM algorithm id → digest
    data: bytes


def parse_ccel_table(raw: bytes) -> CcelTable:
    if len(raw) < 56 or raw[:4] != CCEL_SIGNATURE:
        raise ParseError("not an ACPI CCEL table")
    length = struct.unpack_from("<I", raw, 4)[0]
    if length != 56 or len(raw) < length:
        raise ParseError(f"CCEL table length {length}, expected 56")
    if sum(raw[:length]) % 256:
        raise ParseError("CCEL table checksum is wrong")
    cc_type, cc_subtype = raw[36], raw[37]
    laml, lasa = struct.unpack_from("<QQ", raw, 40)
    return CcelTable(cc_type, cc_subtype, laml, lasa)


def parse_event_log(log: bytes) -> list[Event]:
    """Parse a crypto-agile TCG event log; stops at the first unused (0xFF / zero) record."""
    try:
        return _parse_event_log(log)
    except struct.error as e:
        raise ParseError(f"event log truncated: {e}") from e


def _parse_event_log(log: bytes) -> list[Event]:
    if len(log) < 32:
        raise ParseError("event log too short")
    mr, etype = struct.unpack_from("<II", log, 0)
    (size,) = struct.unpack_from("<I", log, 28)
    spec = log[32 : 32 + size]
    if etype != EV_NO_ACTION or not spec.startswith(_SPEC_ID) or len(spec) != size:
        raise ParseError("event log does not start with a Spec ID Event03 header")
    (n_algs,) = struct.unpack_from("<I", spec, 24)
    sizes: dict[int, int] = {}
    for i in range(n_algs):
        alg, dsize = struct.unpack_from("<HH", spec, 28 + 4 * i)
        sizes[alg] = dsize
    if TPM_ALG_SHA384 not in sizes:
        raise ParseError("event log has no SHA-384 bank")
    events = [Event(mr, etype, {}, spec)]
    pos = 32 + size
    while pos + 12 <= len(log):
        mr, etype, count = struct.unpack_from("<III", log, pos)
        if mr == 0xFFFFFFFF or (mr == 0 and etype == 0 and count == 0):
            break
        p = pos + 12
        digests: dict[int, bytes] = {}
        for _ in range(count):
            if p + 2 > len(log):
                raise ParseError("event log truncated in digests")
            (alg,) = struct.unpack_from("<H", log, p)
            if alg not in sizes:
                raise ParseError(f"event digest algorithm {alg:#x} not declared in the header")
            if p + 2 + sizes[alg] > len(log):
                raise ParseError("event log truncated in digests")
            digests[alg] = log[p + 2 : p + 2 + sizes[alg]]
            p += 2 + sizes[alg]
        if p + 4 > len(log):
            raise ParseError("event log truncated at event size")
        (dlen,) = struct.unpack_from("<I", log, p)
        if p + 4 + dlen > len(log):
            raise ParseError("event log truncated in event data")
        events.append(Event(mr, etype, digests, log[p + 4 : p + 4 + dlen]))
        pos = p + 4 + dlen
    return events


def replay_rtmrs(events: list[Event]) -> tuple[bytes, bytes, bytes, bytes]:
    """RTMR0..3 as the TDX module would compute them from these events."""
    rtmrs = [bytes(48) for _ in range(4)]
    for ev in events:
        if ev.event_type == EV_NO_ACTION or ev.mr_index == 0:
            continue
        if not 1 <= ev.mr_index <= 4:
            raise ParseError(f"event MR index {ev.mr_index} is not an RTMR")
        digest = ev.digests.get(TPM_ALG_SHA384)
        if digest is None:
            raise ParseError("event without a SHA-384 digest")
        i = ev.mr_index - 1
        rtmrs[i] = hashlib.sha384(rtmrs[i] + digest).digest()
    return rtmrs[0], rtmrs[1], rtmrs[2], rtmrs[3]


def events_match_quote(events: list[Event], rtmrs: tuple[bytes, ...]) -> list[int]:
    """Indices of the quote's RTMRs that the replayed log does NOT reproduce."""
    replayed = replay_rtmrs(events)
    return [i for i in range(4) if replayed[i] != rtmrs[i]]
