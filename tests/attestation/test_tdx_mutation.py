"""Every single-byte change inside a TDX quote's signed regions is rejected.

Regions: header, (v5 descriptor,) TD body (MRTD, RTMRs, REPORTDATA, TD attributes ...), the
signed-data length, quote signature, attestation key, QE report, its signature, QE auth
data and every length/type field, and every DER byte of the PCK leaf certificate (spliced
back into the PEM chain carried in the quote).
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from attestation import tdx
from attestation.claims import VerificationError
from attestation.tdx.abi import HEADER_SIZE, parse_quote
from attestation.tdx.validate import TdxPolicy

TDX = Path(__file__).resolve().parents[1] / "data" / "vectors" / "tdx"
POLICY = TdxPolicy(require_collateral=False, allow_debug=True)
CASES = {
    "v4_spr": (TDX / "gotdxguest_v4_spr/quote.bin", datetime(2023, 7, 1, tzinfo=UTC)),
    "v5_tdx15": (TDX / "gotdxguest_v5_tdx15/quote.bin", datetime(2026, 2, 3, tzinfo=UTC)),
}
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\n(.*?)-----END CERTIFICATE-----", re.S)


def _rejected(data: bytes, now: datetime) -> bool:
    try:
        v = tdx.check(data, policy=POLICY, now=now)
    except VerificationError:
        return True
    return not v.ok


def _regions(data: bytes) -> dict[str, range]:
    q = parse_quote(data)
    body_end = len(q.signed_data)
    sig = body_end + 4
    cd = sig + 128  # after quote signature and attestation key
    qe = cd + 6
    auth = qe + 384 + 64
    pem = auth + 2 + len(q.certification.qe_auth_data) + 6
    out = {
        "header": range(0, HEADER_SIZE),
        "td_body": range(HEADER_SIZE, body_end),
        "signed_data_len": range(body_end, sig),
        "quote_signature": range(sig, sig + 64),
        "attestation_key": range(sig + 64, sig + 128),
        "cert_data_header": range(cd, qe),
        "qe_report": range(qe, qe + 384),
        "qe_report_signature": range(qe + 384, auth),
        "qe_auth_data": range(auth, pem - 6),
        "pck_chain_header": range(pem - 6, pem),
    }
    assert data[pem : pem + 27] == b"-----BEGIN CERTIFICATE-----"
    return out


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.slow
def test_every_signed_byte_is_covered(case):
    path, now = CASES[case]
    data = path.read_bytes()
    assert not _rejected(data, now)
    missed = []
    for region, span in _regions(data).items():
        for i in span:
            mutated = bytearray(data)
            mutated[i] ^= 0x01
            if not _rejected(bytes(mutated), now):
                missed.append((region, i))
    assert missed == []


def _pem_block(der: bytes) -> bytes:
    b64 = base64.b64encode(der)
    return b"".join(b64[i : i + 64] + b"\n" for i in range(0, len(b64), 64))


@pytest.mark.filterwarnings("ignore:Attribute's length:UserWarning")  # mutated country names
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.slow
def test_every_pck_certificate_der_byte_is_covered(case):
    path, now = CASES[case]
    data = path.read_bytes()
    m = _PEM.search(data)
    assert m is not None
    der = base64.b64decode(m.group(1))
    assert _pem_block(der) == m.group(1)  # the quote uses standard 64-column PEM
    missed = []
    for i in range(len(der)):
        bad = bytearray(der)
        bad[i] ^= 0x01
        block = _pem_block(bytes(bad))
        mutated = data[: m.start(1)] + block + data[m.end(1) :]
        assert len(mutated) == len(data)
        if not _rejected(mutated, now):
            missed.append(i)
    assert missed == []
