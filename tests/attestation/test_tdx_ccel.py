"""CCEL event-log replay reproduces the GCE quote's RTMR0-2 (bonus to the TDX verifier)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from attestation import tdx
from attestation.claims import ParseError
from attestation.tdx.ccel import (
    TPM_ALG_SHA384,
    events_match_quote,
    parse_ccel_table,
    parse_event_log,
    replay_rtmrs,
)
from attestation.tdx.validate import TdxPolicy

GCE = Path(__file__).resolve().parents[1] / "data" / "vectors" / "tdx" / "gotdxguest_v4_gce_ccel"


@pytest.fixture(scope="module")
def events():
    return parse_event_log((GCE / "ccel_data.bin").read_bytes())


def test_ccel_table():
    t = parse_ccel_table((GCE / "ccel_table.bin").read_bytes())
    assert t.cc_type == 2 and t.log_area_minimum_length == 262144
    bad = bytearray((GCE / "ccel_table.bin").read_bytes())
    bad[40] ^= 1
    with pytest.raises(ParseError, match="checksum"):
        parse_ccel_table(bytes(bad))


def test_replay_reproduces_verified_rtmrs(events):
    v = tdx.check((GCE / "quote_padded.bin").read_bytes(), now=datetime(2024, 8, 1, tzinfo=UTC),
                  policy=TdxPolicy(require_collateral=False))
    assert v.ok
    rtmrs = tuple(bytes.fromhex(r) for r in v.claims["rtmrs"])
    assert sum(1 for e in events if e.event_type != 3) == 43
    assert replay_rtmrs(events) == rtmrs
    assert events_match_quote(events, rtmrs) == []
    assert rtmrs[3] == bytes(48)


def test_tampered_or_dropped_event_is_detected(events):
    rtmrs = replay_rtmrs(events)
    i = next(n for n, e in enumerate(events) if e.mr_index == 2)
    forged = dict(events[i].digests)
    forged[TPM_ALG_SHA384] = bytes(48)
    tampered = [*events[:i], dataclasses.replace(events[i], digests=forged), *events[i + 1 :]]
    assert events_match_quote(tampered, rtmrs) == [1]
    dropped = events[:i] + events[i + 1 :]
    assert events_match_quote(dropped, rtmrs) == [1]


def test_malformed_log_is_rejected():
    log = (GCE / "ccel_data.bin").read_bytes()
    with pytest.raises(ParseError):
        parse_event_log(b"\x00" * 64)
    with pytest.raises(ParseError):
        parse_event_log(log[:200])  # cut inside an event
