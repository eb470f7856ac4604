"""Intel TDX DCAP quote v4/v5: bytes → typed structures, nothing else.

Layout per Intel "TDX DCAP Quoting Library API" Appendix A (as in google/go-tdx-guest
`abi/abi.go`). Integers are little-endian. A quote file may carry trailing padding:
the parser stops at the end given by the signed-data length field and records how many
bytes followed.
"""

from __future__ import annotations

from dataclasses import dataclass

from attestation.claims import ParseError

HEADER_SIZE = 48
TD_BODY_V10_SIZE = 584  # TDX 1.0 TD report body (v4 quotes, v5 body type 2)
TD_BODY_V15_SIZE = 648  # TDX 1.5 adds TEE_TCB_SVN2 and MRSERVICETD (v5 body type 3)
SGX_REPORT_BODY_SIZE = 384
ATTESTATION_KEY_TYPE_ECDSA_P256 = 2
TEE_TYPE_TDX = 0x81
INTEL_QE_VENDOR_ID = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")
# Identity of Intel's TD quoting enclave: the MRSIGNER of Intel's enclave signing key and the
# TD_QE product id, as in Intel's QE Identity (`qe/identity`, id TD_QE) and every quote in
# tests/data/vectors/tdx. Fixed by Intel; checked even when no collateral is at hand.
INTEL_QE_MRSIGNER = bytes.fromhex("dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5")
TD_QE_ISVPRODID = 2
CERT_DATA_PCK_CHAIN = 5
CERT_DATA_QE_REPORT = 6
BODY_TYPE_TDX10 = 2
BODY_TYPE_TDX15 = 3

# TD_ATTRIBUTES bits (TDX module ABI).
TD_ATTR_DEBUG = 1 << 0
TD_ATTR_SEPT_VE_DISABLE = 1 << 28
TD_ATTR_PKS = 1 << 30
TD_ATTR_PERFMON = 1 << 63


class _Reader:
    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise ParseError(f"quote truncated reading {what} ({n} bytes at offset {self.pos})")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u16(self, what: str) -> int:
        return int.from_bytes(self.take(2, what), "little")

    def u32(self, what: str) -> int:
        return int.from_bytes(self.take(4, what), "little")


@dataclass(frozen=True, slots=True)
class QuoteHeader:
    version: int
    attestation_key_type: int
    tee_type: int
    qe_svn: int  # v4: reserved; kept as raw u16
    pce_svn: int
    qe_vendor_id: bytes
    user_data: bytes


@dataclass(frozen=True, slots=True)
class TdQuoteBody:
    tee_tcb_svn: bytes
    mr_seam: bytes
    mr_signer_seam: bytes
    seam_attributes: bytes
    td_attributes: int  # u64
    xfam: int  # u64
    mr_td: bytes
    mr_config_id: bytes
    mr_owner: bytes
    mr_owner_config: bytes
    rtmrs: tuple[bytes, bytes, bytes, bytes]
    report_data: bytes
    tee_tcb_svn2: bytes | None = None  # TDX 1.5 only
    mr_service_td: bytes | None = None  # TDX 1.5 only


@dataclass(frozen=True, slots=True)
class SgxReportBody:
    """The QE's SGX enclave report (384 bytes)."""

    raw: bytes
    cpu_svn: bytes
    misc_select: int
    attributes: bytes
    mr_enclave: bytes
    mr_signer: bytes
    isv_prod_id: int
    isv_svn: int
    report_data: bytes


@dataclass(frozen=True, slots=True)
class QeReportCertificationData:
    qe_report: SgxReportBody
    qe_report_signature: bytes  # 64 bytes r‖s, P-256
    qe_auth_data: bytes
    pck_cert_chain_type: int
    pck_cert_chain: bytes  # PEM bytes as carried in the quote


@dataclass(frozen=True, slots=True)
class Quote:
    header: QuoteHeader
    body_type: int  # 2 (TDX 1.0) or 3 (TDX 1.5); v4 quotes are always 2
    body: TdQuoteBody
    signed_data: bytes  # header ‖ [v5 descriptor] ‖ body: what the attestation key signs
    signature: bytes  # 64 bytes r‖s, P-256 / SHA-256
    attestation_key: bytes  # 64 bytes x‖y
    certification: QeReportCertificationData
    trailing_bytes: int


def _parse_header(data: bytes) -> QuoteHeader:
    r = _Reader(data)
    return QuoteHeader(
        version=r.u16("version"),
        attestation_key_type=r.u16("attestation key type"),
        tee_type=r.u32("TEE type"),
        qe_svn=r.u16("QE SVN"),
        pce_svn=r.u16("PCE SVN"),
        qe_vendor_id=r.take(16, "QE vendor id"),
        user_data=r.take(20, "user data"),
    )


def _parse_body(r: _Reader, body_type: int) -> TdQuoteBody:
    tee_tcb_svn = r.take(16, "TEE_TCB_SVN")
    mr_seam = r.take(48, "MRSEAM")
    mr_signer_seam = r.take(48, "MRSIGNERSEAM")
    seam_attributes = r.take(8, "SEAMATTRIBUTES")
    td_attributes = int.from_bytes(r.take(8, "TDATTRIBUTES"), "little")
    xfam = int.from_bytes(r.take(8, "XFAM"), "little")
    mr_td = r.take(48, "MRTD")
    mr_config_id = r.take(48, "MRCONFIGID")
    mr_owner = r.take(48, "MROWNER")
    mr_owner_config = r.take(48, "MROWNERCONFIG")
    rtmrs = (r.take(48, "RTMR0"), r.take(48, "RTMR1"), r.take(48, "RTMR2"), r.take(48, "RTMR3"))
    report_data = r.take(64, "REPORTDATA")
    svn2 = service = None
    if body_type == BODY_TYPE_TDX15:
        svn2 = r.take(16, "TEE_TCB_SVN2")
        service = r.take(48, "MRSERVICETD")
    return TdQuoteBody(tee_tcb_svn, mr_seam, mr_signer_seam, seam_attributes, td_attributes, xfam,
                       mr_td, mr_config_id, mr_owner, mr_owner_config, rtmrs, report_data, svn2, service)


def parse_sgx_report_body(raw: bytes) -> SgxReportBody:
    if len(raw) != SGX_REPORT_BODY_SIZE:
        raise ParseError(f"SGX report body is {len(raw)} bytes, expected {SGX_REPORT_BODY_SIZE}")
    r = _Reader(raw)
    cpu_svn = r.take(16, "CPUSVN")
    misc_select = r.u32("MISCSELECT")
    r.take(28, "reserved")
    attributes = r.take(16, "ATTRIBUTES")
    mr_enclave = r.take(32, "MRENCLAVE")
    r.take(32, "reserved")
    mr_signer = r.take(32, "MRSIGNER")
    r.take(96, "reserved")
    isv_prod_id = r.u16("ISVPRODID")
    isv_svn = r.u16("ISVSVN")
    r.take(60, "reserved")
    report_data = r.take(64, "REPORTDATA")
    return SgxReportBody(raw, cpu_svn, misc_select, attributes, mr_enclave, mr_signer, isv_prod_id,
                         isv_svn, report_data)


def _parse_certification(r: _Reader) -> QeReportCertificationData:
    cd_type = r.u16("certification data type")
    cd_size = r.u32("certification data size")
    if cd_type != CERT_DATA_QE_REPORT:
        raise ParseError(f"certification data type {cd_type}, expected {CERT_DATA_QE_REPORT} (QE report)")
    if cd_size != r.end - r.pos:
        raise ParseError(f"certification data size {cd_size} != {r.end - r.pos} bytes left in signed data")
    qe_report = parse_sgx_report_body(r.take(SGX_REPORT_BODY_SIZE, "QE report"))
    qe_sig = r.take(64, "QE report signature")
    auth_len = r.u16("QE auth data size")
    auth = r.take(auth_len, "QE auth data")
    inner_type = r.u16("PCK certification data type")
    inner_size = r.u32("PCK certification data size")
    if inner_type != CERT_DATA_PCK_CHAIN:
        raise ParseError(f"inner certification data type {inner_type}, expected {CERT_DATA_PCK_CHAIN}")
    if inner_size != r.end - r.pos:
        raise ParseError(f"PCK chain size {inner_size} != {r.end - r.pos} bytes left in signed data")
    chain = r.take(inner_size, "PCK certificate chain")
    return QeReportCertificationData(qe_report, qe_sig, auth, inner_type, chain)


def parse_quote(data: bytes) -> Quote:
    """Parse a TDX quote (v4 or v5). Raises ParseError on any structural problem."""
    if len(data) < HEADER_SIZE:
        raise ParseError(f"quote is {len(data)} bytes, shorter than its header")
    header = _parse_header(data[:HEADER_SIZE])
    if header.version not in (4, 5):
        raise ParseError(f"quote version {header.version} not supported (4 or 5)")
    if header.tee_type != TEE_TYPE_TDX:
        raise ParseError(f"TEE type {header.tee_type:#x} is not TDX ({TEE_TYPE_TDX:#x})")
    if header.attestation_key_type != ATTESTATION_KEY_TYPE_ECDSA_P256:
        raise ParseError(f"attestation key type {header.attestation_key_type} is not ECDSA-P256")
    r = _Reader(data, HEADER_SIZE)
    if header.version == 4:
        body_type = BODY_TYPE_TDX10
    else:
        body_type = r.u16("body type")
        body_size = r.u32("body size")
        expected = {BODY_TYPE_TDX10: TD_BODY_V10_SIZE, BODY_TYPE_TDX15: TD_BODY_V15_SIZE}.get(body_type)
        if expected is None:
            raise ParseError(f"v5 body type {body_type} not supported (2 or 3)")
        if body_size != expected:
            raise ParseError(f"v5 body type {body_type} has size {body_size}, expected {expected}")
    body = _parse_body(r, body_type)
    signed_end = r.pos
    sig_len = r.u32("signed data size")
    if sig_len > len(data) - r.pos:
        raise ParseError(f"signed data size {sig_len} exceeds the {len(data) - r.pos} bytes left")
    end = r.pos + sig_len
    sr = _Reader(data, r.pos, end)
    signature = sr.take(64, "quote signature")
    attestation_key = sr.take(64, "attestation key")
    certification = _parse_certification(sr)
    return Quote(header, body_type, body, bytes(data[:signed_end]), signature, attestation_key,
                 certification, len(data) - end)
