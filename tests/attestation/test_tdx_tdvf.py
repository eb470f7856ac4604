"""MRTD from a TDVF image (attestation.tdx.tdvf) against a reference written here from the specs.

No real TDVF build is in the repository, and the MRTD of the real quotes in tests/data/vectors/tdx
cannot be reproduced without the exact firmware their hosts booted. So the image is synthetic:
random firmware bytes with an OVMF GUIDed table and a TDVF metadata table, laid out as the Intel
TDX Virtual Firmware Design Guide ("TDVF Metadata") describes. The reference below computes MRTD
the way the TDX module's TDH.MEM.PAGE.ADD / TDH.MR.EXTEND leaves define it, from the section list
the test wrote (not from the parser), as one byte string hashed once.
"""

from __future__ import annotations

import hashlib
import random
import struct
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from attestation import release
from attestation.claims import ParseError
from attestation.tdx import tdvf

TOOL = Path(__file__).resolve().parents[2] / "deploy" / "cvm" / "release_manifest.py"
SIZE = 256 * 1024
FOOTER = "96b582de-1fb2-45f7-baea-a366c55a082d"
META_BACK = 0x2000  # descriptor sits this many bytes before the end of the image
# (data_offset, raw_size, gpa, memory_size, type, attributes)
SECTIONS = [
    (0x10000, 0x30000, 0xFFFC0000, 0x30000, 0, 1),  # BFV, MR.EXTEND
    (0x0, 0x8000, 0xFFC00000, 0x10000, 1, 0),  # CFV: 32 KiB of data in 64 KiB, added, not extended
    (0x0, 0x0, 0x809000, 0x2000, 2, 0),  # TD_HOB
    (0x0, 0x0, 0x800000, 0x9000, 3, 0),  # TempMem
    (0x0, 0x0, 0x1000000, 0x4000, 4, 2),  # PermMem, PAGE.AUG: not measured
]


def _entry(guid: str, data: bytes) -> bytes:
    return data + struct.pack("<H", len(data) + 18) + uuid.UUID(guid).bytes_le


def synth_image(sections=SECTIONS, *, legacy: bool = False, seed: int = 7) -> bytes:
    body = bytearray(random.Random(seed).randbytes(SIZE))
    desc = b"TDVF" + struct.pack("<III", 16 + 32 * len(sections), 1, len(sections))
    desc += b"".join(struct.pack("<IIQQII", *s) for s in sections)
    body[SIZE - META_BACK:SIZE - META_BACK + len(desc)] = desc
    if legacy:
        body[SIZE - 0x30:SIZE - 0x20] = bytes(16)  # no GUID table footer
        body[SIZE - 0x20:SIZE - 0x1C] = struct.pack("<I", META_BACK)
    else:
        table = (_entry("00f771de-1a7e-4fcb-890e-68c77e2fb44e", struct.pack("<I", 0xFFFFF000))
                 + _entry("e47a6535-984a-4798-865e-4685a7bf8ec2", struct.pack("<I", META_BACK)))
        footer = struct.pack("<H", len(table) + 18) + uuid.UUID(FOOTER).bytes_le
        body[SIZE - 0x20 - len(table) - len(footer):SIZE - 0x20] = table + footer
    return bytes(body)


def reference_mrtd(image: bytes, sections=SECTIONS) -> str:
    """TDX module: PAGE.ADD block = "MEM.PAGE.ADD" | pad to 16 | GPA u64 LE | zeros to 128;
    MR.EXTEND = "MR.EXTEND" | pad | GPA | zeros to 128, then 256 data bytes. KVM adds a region
    page by page and extends each page right after adding it; PAGE.AUG sections are skipped."""
    stream = bytearray()
    for off, raw, gpa, size, _type, attrs in sections:
        if attrs & 2:
            continue
        mem = bytearray(size)
        mem[:raw] = image[off:off + raw]
        for p in range(size // 4096):
            block = bytearray(128)
            block[0:12] = b"MEM.PAGE.ADD"
            block[16:24] = (gpa + p * 4096).to_bytes(8, "little")
            stream += block
            if attrs & 1:
                for c in range(16):
                    a = p * 4096 + c * 256
                    block = bytearray(128)
                    block[0:9] = b"MR.EXTEND"
                    block[16:24] = (gpa + a).to_bytes(8, "little")
                    stream += block + mem[a:a + 256]
    return hashlib.sha384(bytes(stream)).hexdigest()


def test_metadata_is_read_from_the_guid_table_and_the_legacy_pointer():
    for legacy in (False, True):
        got = tdvf.parse_metadata(synth_image(legacy=legacy))
        assert [(s.data_offset, s.raw_size, s.address, s.memory_size, s.type, s.attributes) for s in got] \
            == SECTIONS
    assert [s.type_name for s in got] == ["BFV", "CFV", "TD_HOB", "TempMem", "PermMem"]


def test_mrtd_matches_the_reference_computation():
    image = synth_image()
    assert tdvf.compute_mrtd(image).hex() == reference_mrtd(image)
    assert tdvf.compute_mrtd(synth_image(legacy=True)).hex() == reference_mrtd(synth_image(legacy=True))


def test_mrtd_depends_on_firmware_bytes_addresses_and_attributes():
    image = synth_image()
    base = tdvf.compute_mrtd(image)
    flipped = bytearray(image)
    flipped[0x10000 + 5000] ^= 1  # a byte inside the (extended) BFV
    assert tdvf.compute_mrtd(bytes(flipped)) != base
    outside = bytearray(image)
    outside[0x8000 + 10] ^= 1  # past the CFV's raw data: never loaded
    assert tdvf.compute_mrtd(bytes(outside)) == base
    moved = [SECTIONS[0], (0x0, 0x8000, 0xFFB00000, 0x10000, 1, 0), *SECTIONS[2:]]
    assert tdvf.compute_mrtd(synth_image(moved)) != base
    aug_bfv_cfv = [SECTIONS[0], (0x0, 0x8000, 0xFFC00000, 0x10000, 1, 1), *SECTIONS[2:]]
    assert tdvf.compute_mrtd(synth_image(aug_bfv_cfv)).hex() == reference_mrtd(synth_image(aug_bfv_cfv),
                                                                               aug_bfv_cfv)
    assert tdvf.compute_mrtd(synth_image(aug_bfv_cfv)) != base


@pytest.mark.parametrize("sections, match", [
    ([(0, 0x1000, 0x1000, 0x1000, 1, 0)], "exactly one BFV"),
    ([SECTIONS[0], (0, 0, 0x800000, 0x9000, 3, 1)], "no raw data and no MR.EXTEND"),
    ([SECTIONS[0], (0, 0, 0x800100, 0x1000, 3, 0)], "whole 4 KiB pages"),
    ([SECTIONS[0], (0, 0x2000, 0x800000, 0x1000, 1, 0)], "raw data out of range"),
    ([SECTIONS[0], (0, 0, 0xFFFC1000, 0x1000, 4, 0)], "overlap"),
    ([SECTIONS[0], (0, 0, 0x800000, 0x1000, 9, 0)], "unknown type"),
    ([SECTIONS[0], (0, 0, 0x800000, 0x1000, 4, 4)], "unknown attributes"),
    ([SECTIONS[0], (0, 0x1000, 0x800000, 0x1000, 1, 3)], "exclude each other"),
])
def test_metadata_breaking_the_design_guide_is_refused(sections, match):
    with pytest.raises(ParseError, match=match):
        tdvf.parse_metadata(synth_image(sections))


def test_images_without_metadata_are_parse_errors():
    plain = bytearray(random.Random(1).randbytes(SIZE))
    plain[SIZE - 0x20:SIZE - 0x1C] = bytes(4)
    for bad in (bytes(plain), b"\0" * 100, synth_image()[:-1]):
        with pytest.raises(ParseError):
            tdvf.compute_mrtd(bad)
    wrong_sig = bytearray(synth_image())
    wrong_sig[SIZE - META_BACK] = ord("X")
    with pytest.raises(ParseError, match="signature"):
        tdvf.parse_metadata(bytes(wrong_sig))


def test_release_tool_computes_mrtd_from_the_tdvf(tmp_path):
    image = tmp_path / "TDVF.fd"
    image.write_bytes(synth_image())
    ccel = Path(__file__).resolve().parents[1] / "data/vectors/tdx/gotdxguest_v4_gce_ccel/ccel_data.bin"
    run = [sys.executable, str(TOOL)]
    subprocess.run([*run, "keygen", "--out", str(tmp_path / "rk")], check=True, capture_output=True)
    out = tmp_path / "release.json"
    subprocess.run([*run, "build", "--version", "0.9.0", "--tdvf", str(image), "--tdx-event-log", str(ccel),
                    "--sign-key", str(tmp_path / "rk.pem"), "--out", str(out)],
                   check=True, capture_output=True)
    key = release.load_public_keys((tmp_path / "rk.pub.pem").read_bytes())
    rel = release.verify(release.safejson.loads(out.read_bytes(), what="t"), key)
    (entry,) = rel.manifest["measurements"]
    assert entry["mr_td"] == reference_mrtd(synth_image())
    assert rel.manifest["images"]["tdvf"] == "sha256:" + hashlib.sha256(synth_image()).hexdigest()
    # --tdx-mrtd given as well must agree with the computed value
    bad = subprocess.run([*run, "build", "--version", "0.9.0", "--tdvf", str(image), "--tdx-mrtd", "00" * 48,
                          "--tdx-event-log", str(ccel), "--sign-key", str(tmp_path / "rk.pem"),
                          "--out", str(out)], capture_output=True, text=True)
    assert bad.returncode != 0 and "differs" in bad.stderr
    garbage = tmp_path / "not-tdvf.fd"
    garbage.write_bytes(bytes(SIZE))
    bad = subprocess.run([*run, "build", "--version", "0.9.0", "--tdvf", str(garbage), "--tdx-event-log",
                          str(ccel), "--sign-key", str(tmp_path / "rk.pem"), "--out", str(out)],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "no TDX metadata" in bad.stderr and "Traceback" not in bad.stderr
