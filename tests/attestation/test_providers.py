"""Providers: configfs-tsm against a directory tree that imitates it, the cert table, /dev/sev-guest
packing, NVML without a GPU, and startup selection (an absent TEE is an error, never a fallback)."""

from __future__ import annotations

import shutil
import struct
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from attestation import snp
from attestation.claims import ParseError
from attestation.providers import cert_table, sev_guest
from attestation.providers.auto import select_gpu_provider, select_provider
from attestation.providers.base import NoTeeError
from attestation.providers.configfs_tsm import ConfigfsProvider, ConfigfsTsm, TsmRaceError
from attestation.providers.nvidia import NvidiaGpuProvider
from attestation.providers.simulated import SimulatedSnp


class FakeConfigfs(ConfigfsTsm):
    """What the kernel does behind configfs-tsm, imitated on a temporary directory."""

    def __init__(
        self, root: Path, provider: str, make_outblob, auxblob: bytes = b"", race: bool = False
    ) -> None:
        super().__init__(root)
        self.provider, self.make_outblob, self.auxblob, self.race = provider, make_outblob, auxblob, race
        self.entries: list[Path] = []

    def _mkdir(self, path: Path) -> None:
        super()._mkdir(path)
        self.entries.append(path)
        (path / "generation").write_text("0\n")
        (path / "provider").write_text(self.provider + "\n")

    def _write(self, path: Path, data: bytes) -> None:
        super()._write(path, data)
        gen = int((path.parent / "generation").read_text()) + (2 if self.race else 1)
        (path.parent / "generation").write_text(f"{gen}\n")
        if path.name == "inblob":
            (path.parent / "outblob").write_bytes(self.make_outblob(data))
            if self.auxblob:
                (path.parent / "auxblob").write_bytes(self.auxblob)

    def _rmdir(self, path: Path) -> None:
        shutil.rmtree(path)  # configfs removes the attribute files with the directory


def sim_cert_table(sim: SimulatedSnp) -> bytes:
    return cert_table.build_cert_table(
        {
            cert_table.VCEK_GUID: sim.vcek_der,
            cert_table.ASK_GUID: sim.ask.public_bytes(Encoding.DER),
            cert_table.ARK_GUID: sim.ark.public_bytes(Encoding.DER),
        }
    )


def test_configfs_snp_report_with_cert_table(sim, tmp_path) -> None:
    fake = FakeConfigfs(tmp_path, "sev_guest", sim.make_report, sim_cert_table(sim))
    ev = ConfigfsProvider("sev-snp", fake).get_evidence(b"\x42" * 64)
    assert ev.kind == "sev-snp" and ev.source == "configfs-tsm"
    assert (tmp_path / fake.entries[0].name / "inblob").exists() is False  # rmdir'd
    assert list(tmp_path.iterdir()) == []
    assert set(ev.certs) == {"vcek", "chain"}
    v = snp.check(ev.report, ev.certs["vcek"], ev.certs["chain"], trusted_simulated_root=sim.root_pem)
    assert v.ok and v.claims["report_data"] == "42" * 64


def test_configfs_detects_a_racing_writer(sim, tmp_path) -> None:
    fake = FakeConfigfs(tmp_path, "sev_guest", sim.make_report, race=True)
    with pytest.raises(TsmRaceError):
        ConfigfsProvider("sev-snp", fake).get_evidence(bytes(64))
    assert list(tmp_path.iterdir()) == []  # cleaned up even on failure


def test_configfs_privlevel_counts_as_a_write(sim, tmp_path) -> None:
    fake = FakeConfigfs(tmp_path, "sev_guest", sim.make_report)
    rep = fake.get_report(bytes(64), privlevel=1)
    assert rep.provider == "sev_guest" and len(rep.outblob) == 1184


def test_configfs_tdx_and_provider_mismatch(tmp_path) -> None:
    fake = FakeConfigfs(tmp_path, "tdx_guest", lambda rd: b"QUOTE" + rd)
    ev = ConfigfsProvider("tdx", fake).get_evidence(b"\x01" * 64)
    assert ev.kind == "tdx" and ev.report == b"QUOTE" + b"\x01" * 64 and ev.certs == {}
    with pytest.raises(NoTeeError, match="tdx_guest"):
        ConfigfsProvider("sev-snp", fake).get_evidence(bytes(64))
    with pytest.raises(ValueError):
        fake.get_report(bytes(65))


def test_cert_table_parse() -> None:
    blobs = {cert_table.VCEK_GUID: b"vcek-bytes", cert_table.ARK_GUID: b"ark"}
    assert cert_table.parse_cert_table(cert_table.build_cert_table(blobs)) == blobs
    # little-endian (EFI) GUID layout is accepted too
    le = bytearray(cert_table.build_cert_table({cert_table.VLEK_GUID: b"x"}))
    le[0:16] = cert_table.VLEK_GUID.bytes_le
    assert cert_table.parse_cert_table(bytes(le)) == {cert_table.VLEK_GUID: b"x"}
    with pytest.raises(ParseError, match="terminating"):
        cert_table.parse_cert_table(uuid.uuid4().bytes + struct.pack("<II", 24, 1) + b"x")
    bad = uuid.uuid4().bytes + struct.pack("<II", 48, 1000) + bytes(24)
    with pytest.raises(ParseError, match="outside"):
        cert_table.parse_cert_table(bad)


def test_sev_guest_abi() -> None:
    assert sev_guest.SNP_GET_EXT_REPORT == 0xC0205302
    assert sev_guest.SNP_GET_REPORT == 0xC0205300
    req = sev_guest.pack_report_req(b"\x07" * 64, vmpl=2)
    assert len(req) == 96 and req[64:68] == b"\x02\x00\x00\x00"
    report = bytes(1184)
    resp = struct.pack("<II", 0, 1184) + bytes(24) + report + bytes(4000 - 32 - 1184)
    assert sev_guest.parse_report_resp(resp) == report
    with pytest.raises(sev_guest.SevGuestError):
        sev_guest.parse_report_resp(struct.pack("<II", 0x16, 0) + bytes(3992))
    assert not sev_guest.SevGuestProvider("/nonexistent/sev-guest").available()


def test_nvidia_without_gpu_is_none_not_an_error() -> None:
    gpu = NvidiaGpuProvider()
    assert gpu.get_evidence(bytes(32)) is None
    assert gpu.reason
    assert isinstance(select_gpu_provider(), NvidiaGpuProvider)


def test_absent_tee_is_a_startup_error(tmp_path) -> None:
    missing = tmp_path / "no-configfs"
    if Path("/dev/sev-guest").exists():
        pytest.skip("this machine is an SEV-SNP guest")
    for tee in ("auto", "sev-snp", "tdx"):
        with pytest.raises(NoTeeError):
            select_provider(tee, configfs_root=missing)
    with pytest.raises(ValueError):
        select_provider("sgx")
    p = select_provider("simulated", state_dir=tmp_path / "state")
    assert p.kind == "simulated" and (tmp_path / "state" / "attestation" / "simulated-root.pem").exists()
