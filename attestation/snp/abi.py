"""SEV-SNP ATTESTATION_REPORT: bytes -> typed dataclasses, nothing else.

Offsets from AMD's SEV-SNP Firmware ABI spec (pub. 56860), Table "ATTESTATION_REPORT".
"""

from __future__ import annotations

from dataclasses import dataclass

from attestation.claims import ParseError

REPORT_SIZE = 0x4A0
SIGNED_SIZE = 0x2A0
SIG_ALGO_ECDSA_P384_SHA384 = 1
SUPPORTED_VERSIONS = (2, 3, 4, 5)

# POLICY bits
POLICY_SMT = 1 << 16
POLICY_RESERVED_1 = 1 << 17
POLICY_MIGRATE_MA = 1 << 18
POLICY_DEBUG = 1 << 19
POLICY_SINGLE_SOCKET = 1 << 20

SIGNING_KEY_VCEK = 0
SIGNING_KEY_VLEK = 1
SIGNING_KEY_NONE = 7

PRODUCTS = ("Milan", "Genoa", "Turin")
TURIN_LIKE = ("Turin",)

# (name, offset, size): every field group of the signed region, for tests and docs
FIELDS: tuple[tuple[str, int, int], ...] = (
    ("version", 0x000, 4),
    ("guest_svn", 0x004, 4),
    ("policy", 0x008, 8),
    ("family_id", 0x010, 16),
    ("image_id", 0x020, 16),
    ("vmpl", 0x030, 4),
    ("signature_algo", 0x034, 4),
    ("current_tcb", 0x038, 8),
    ("platform_info", 0x040, 8),
    ("signer_info", 0x048, 4),
    ("reserved_04c", 0x04C, 4),
    ("report_data", 0x050, 64),
    ("measurement", 0x090, 48),
    ("host_data", 0x0C0, 32),
    ("id_key_digest", 0x0E0, 48),
    ("author_key_digest", 0x110, 48),
    ("report_id", 0x140, 32),
    ("report_id_ma", 0x160, 32),
    ("reported_tcb", 0x180, 8),
    ("cpuid", 0x188, 3),
    ("reserved_18b", 0x18B, 21),
    ("chip_id", 0x1A0, 64),
    ("committed_tcb", 0x1E0, 8),
    ("current_version", 0x1E8, 4),
    ("committed_version", 0x1EC, 4),
    ("launch_tcb", 0x1F0, 8),
    ("launch_mit_vector", 0x1F8, 8),
    ("current_mit_vector", 0x200, 8),
    ("reserved_208", 0x208, SIGNED_SIZE - 0x208),
)


@dataclass(frozen=True, slots=True)
class TcbVersion:
    """One TCB_VERSION, decoded with the product's layout (Turin differs)."""

    raw: int
    bl: int
    tee: int
    snp: int
    ucode: int
    fmc: int | None = None  # Turin only

    @classmethod
    def decode(cls, raw: int, product: str | None) -> TcbVersion:
        b = raw.to_bytes(8, "little")
        if product in TURIN_LIKE:
            return cls(raw, bl=b[1], tee=b[2], snp=b[3], ucode=b[7], fmc=b[0])
        return cls(raw, bl=b[0], tee=b[1], snp=b[6], ucode=b[7])

    def parts(self) -> dict[str, int]:
        d = {"bl": self.bl, "tee": self.tee, "snp": self.snp, "ucode": self.ucode}
        if self.fmc is not None:
            d["fmc"] = self.fmc
        return d

    def __str__(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.parts().items())


@dataclass(frozen=True, slots=True)
class GuestPolicy:
    raw: int

    @property
    def abi_minor(self) -> int:
        return self.raw & 0xFF

    @property
    def abi_major(self) -> int:
        return (self.raw >> 8) & 0xFF

    @property
    def smt(self) -> bool:
        return bool(self.raw & POLICY_SMT)

    @property
    def migrate_ma(self) -> bool:
        return bool(self.raw & POLICY_MIGRATE_MA)

    @property
    def debug(self) -> bool:
        return bool(self.raw & POLICY_DEBUG)

    @property
    def single_socket(self) -> bool:
        return bool(self.raw & POLICY_SINGLE_SOCKET)


@dataclass(frozen=True, slots=True)
class Report:
    raw: bytes
    version: int
    guest_svn: int
    policy: GuestPolicy
    family_id: bytes
    image_id: bytes
    vmpl: int
    signature_algo: int
    current_tcb_raw: int
    platform_info: int
    author_key_en: bool
    mask_chip_key: bool
    signing_key: int
    report_data: bytes
    measurement: bytes
    host_data: bytes
    id_key_digest: bytes
    author_key_digest: bytes
    report_id: bytes
    report_id_ma: bytes
    reported_tcb_raw: int
    cpuid_family: int | None  # v3+
    cpuid_model: int | None
    cpuid_stepping: int | None
    chip_id: bytes
    committed_tcb_raw: int
    current_version: tuple[int, int, int]  # (major, minor, build)
    committed_version: tuple[int, int, int]
    launch_tcb_raw: int
    launch_mit_vector: int | None  # v5
    current_mit_vector: int | None
    signature_r: int
    signature_s: int

    @property
    def signed_bytes(self) -> bytes:
        return self.raw[:SIGNED_SIZE]

    def tcb(self, which: str, product: str | None) -> TcbVersion:
        raw = {
            "reported": self.reported_tcb_raw,
            "current": self.current_tcb_raw,
            "committed": self.committed_tcb_raw,
            "launch": self.launch_tcb_raw,
        }[which]
        return TcbVersion.decode(raw, product)


def _u(b: bytes, off: int, size: int) -> int:
    return int.from_bytes(b[off : off + size], "little")


def _zero(b: bytes, off: int, size: int, what: str) -> None:
    if any(b[off : off + size]):
        raise ParseError(f"SNP report: reserved bytes {what} (0x{off:03x}+{size}) are not zero")


def parse_report(data: bytes) -> Report:
    """Parse a 1184-byte ATTESTATION_REPORT (versions 2, 3, 4 and 5)."""
    if len(data) != REPORT_SIZE:
        raise ParseError(f"SNP report: expected {REPORT_SIZE} bytes, got {len(data)}")
    b = bytes(data)
    version = _u(b, 0x000, 4)
    if version not in SUPPORTED_VERSIONS:
        raise ParseError(f"SNP report: unsupported version {version}")
    signer = _u(b, 0x048, 4)
    if signer >> 5:
        raise ParseError("SNP report: reserved signer-info bits are set")
    _zero(b, 0x04C, 4, "after signer info")
    v3 = version >= 3
    _zero(b, 0x18B if v3 else 0x188, 0x1A0 - (0x18B if v3 else 0x188), "before CHIP_ID")
    _zero(b, 0x1EB, 1, "in CURRENT version")
    _zero(b, 0x1EF, 1, "in COMMITTED version")
    mbz_from = 0x208 if version >= 5 else 0x1F8
    _zero(b, mbz_from, SIGNED_SIZE - mbz_from, "at the end of the signed region")
    _zero(b, 0x2A0 + 144, REPORT_SIZE - 0x2A0 - 144, "after the signature")
    return Report(
        raw=b,
        version=version,
        guest_svn=_u(b, 0x004, 4),
        policy=GuestPolicy(_u(b, 0x008, 8)),
        family_id=b[0x010:0x020],
        image_id=b[0x020:0x030],
        vmpl=_u(b, 0x030, 4),
        signature_algo=_u(b, 0x034, 4),
        current_tcb_raw=_u(b, 0x038, 8),
        platform_info=_u(b, 0x040, 8),
        author_key_en=bool(signer & 1),
        mask_chip_key=bool(signer & 2),
        signing_key=(signer >> 2) & 7,
        report_data=b[0x050:0x090],
        measurement=b[0x090:0x0C0],
        host_data=b[0x0C0:0x0E0],
        id_key_digest=b[0x0E0:0x110],
        author_key_digest=b[0x110:0x140],
        report_id=b[0x140:0x160],
        report_id_ma=b[0x160:0x180],
        reported_tcb_raw=_u(b, 0x180, 8),
        cpuid_family=b[0x188] if v3 else None,
        cpuid_model=b[0x189] if v3 else None,
        cpuid_stepping=b[0x18A] if v3 else None,
        chip_id=b[0x1A0:0x1E0],
        committed_tcb_raw=_u(b, 0x1E0, 8),
        current_version=(b[0x1EA], b[0x1E9], b[0x1E8]),
        committed_version=(b[0x1EE], b[0x1ED], b[0x1EC]),
        launch_tcb_raw=_u(b, 0x1F0, 8),
        launch_mit_vector=_u(b, 0x1F8, 8) if version >= 5 else None,
        current_mit_vector=_u(b, 0x200, 8) if version >= 5 else None,
        signature_r=_u(b, 0x2A0, 72),
        signature_s=_u(b, 0x2A0 + 72, 72),
    )


def product_from_cpuid(family: int | None, model: int | None) -> str | None:
    """Product line from CPUID family/model (report v3+); None when unknown."""
    if family == 0x19:
        if model is not None and 0x00 <= model <= 0x0F:
            return "Milan"
        if model is not None and (0x10 <= model <= 0x1F or 0xA0 <= model <= 0xAF):
            return "Genoa"
    if family == 0x1A:
        return "Turin"
    return None


def product_line(name: str) -> str:
    """'Milan-B0' -> 'Milan'; product names from KDS certificates carry a stepping suffix."""
    return name.split("-", 1)[0]
