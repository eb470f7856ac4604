"""Linux configfs-tsm (`/sys/kernel/config/tsm/report`, Linux >= 6.7): SEV-SNP and TDX reports.

One directory per request: mkdir, read `generation`, write `inblob` (and `privlevel`), read
`outblob`/`auxblob`/`provider`, re-read `generation` (it must have moved by exactly our
writes, else another writer raced us), rmdir.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from attestation.claims import VerificationError
from attestation.providers import cert_table
from attestation.providers.base import Evidence, NoTeeError

DEFAULT_ROOT = Path("/sys/kernel/config/tsm/report")
PROVIDER_KIND = {"sev_guest": "sev-snp", "tdx_guest": "tdx"}


class TsmRaceError(VerificationError):
    """configfs generation moved unexpectedly: another process wrote to our report entry."""


@dataclass(slots=True)
class TsmReport:
    outblob: bytes
    auxblob: bytes
    provider: str


class ConfigfsTsm:
    def __init__(self, root: str | os.PathLike[str] = DEFAULT_ROOT) -> None:
        self.root = Path(root)

    def available(self) -> bool:
        return self.root.is_dir()

    # the filesystem operations, one place (a test tree overrides what the kernel would do)
    def _mkdir(self, path: Path) -> None:
        path.mkdir()

    def _rmdir(self, path: Path) -> None:
        path.rmdir()

    def _write(self, path: Path, data: bytes) -> None:
        with open(path, "wb", buffering=0) as f:
            f.write(data)

    def _read(self, path: Path) -> bytes:
        return path.read_bytes()

    def get_report(self, inblob: bytes, privlevel: int | None = None) -> TsmReport:
        if len(inblob) > 64:
            raise ValueError("inblob is at most 64 bytes")
        entry = self.root / f"teecube-{os.getpid()}-{secrets.token_hex(6)}"
        self._mkdir(entry)
        try:
            start = int(self._read(entry / "generation"))
            writes = 0
            if privlevel is not None:
                self._write(entry / "privlevel", str(privlevel).encode())
                writes += 1
            self._write(entry / "inblob", inblob)
            writes += 1
            out = self._read(entry / "outblob")
            aux = self._read(entry / "auxblob") if (entry / "auxblob").exists() else b""
            provider = self._read(entry / "provider").decode().strip()
            end = int(self._read(entry / "generation"))
            if end != start + writes:
                raise TsmRaceError(f"configfs-tsm generation {start}→{end}, expected {start + writes}")
            return TsmReport(out, aux, provider)
        finally:
            self._rmdir(entry)

    def probe(self) -> str | None:
        """The TEE kind this configfs serves ("sev-snp"/"tdx"), or None."""
        if not self.available():
            return None
        try:
            return PROVIDER_KIND.get(self.get_report(bytes(64)).provider)
        except (OSError, ValueError, VerificationError):
            return None


class ConfigfsProvider:
    """SEV-SNP or TDX evidence through configfs-tsm."""

    def __init__(self, kind: str, tsm: ConfigfsTsm | None = None, privlevel: int | None = None) -> None:
        if kind not in ("sev-snp", "tdx"):
            raise ValueError(f"configfs-tsm serves sev-snp or tdx, not {kind!r}")
        self.kind = kind
        self.tsm = tsm or ConfigfsTsm()
        self.privlevel = privlevel

    def get_evidence(self, report_data: bytes) -> Evidence:
        rep = self.tsm.get_report(report_data, self.privlevel)
        if PROVIDER_KIND.get(rep.provider) != self.kind:
            raise NoTeeError(f"configfs-tsm provider is {rep.provider!r}, not {self.kind}")
        certs = cert_table.snp_certs(cert_table.parse_cert_table(rep.auxblob)) if rep.auxblob else {}
        return Evidence(kind=self.kind, report=rep.outblob, certs=certs, source="configfs-tsm")
