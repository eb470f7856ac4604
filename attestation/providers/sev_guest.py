"""SEV-SNP through `/dev/sev-guest` (the older path): ioctl SNP_GET_EXT_REPORT.

struct snp_guest_request_ioctl { u8 msg_version; u64 req_data; u64 resp_data; u64 exitinfo2 }
(32 bytes); request snp_ext_report_req { snp_report_req {user_data[64], vmpl u32, rsvd[28]},
u64 certs_address, u32 certs_len }; response 4000 bytes: {status u32, report_size u32,
reserved[24], report}. Layout per linux `include/uapi/linux/sev-guest.h`.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct
from pathlib import Path

from attestation.claims import ParseError, VerificationError
from attestation.providers import cert_table
from attestation.providers.base import Evidence
from attestation.snp.abi import REPORT_SIZE

DEVICE = Path("/dev/sev-guest")
RESP_SIZE = 4000
VMM_ERR_INVALID_LEN = 1  # the host wants a larger certificate buffer (length in certs_len)
PAGE = 4096


def _iowr(type_: str, nr: int, size: int) -> int:
    return (3 << 30) | (size << 16) | (ord(type_) << 8) | nr


SNP_GET_REPORT = _iowr("S", 0, 32)
SNP_GET_EXT_REPORT = _iowr("S", 2, 32)


class SevGuestError(VerificationError):
    """The firmware or host refused the report request."""


def pack_report_req(user_data: bytes, vmpl: int = 0) -> bytes:
    if len(user_data) != 64:
        raise ValueError("user_data must be 64 bytes")
    return user_data + struct.pack("<I", vmpl) + bytes(28)


def parse_report_resp(resp: bytes) -> bytes:
    status, size = struct.unpack_from("<II", resp, 0)
    if status != 0:
        raise SevGuestError(f"SNP firmware status 0x{status:x}")
    if size != REPORT_SIZE or 32 + size > len(resp):
        raise ParseError(f"SNP report response size {size}")
    return resp[32 : 32 + size]


class SevGuestProvider:
    kind = "sev-snp"

    def __init__(self, device: str | os.PathLike[str] = DEVICE, vmpl: int = 0) -> None:
        self.device = Path(device)
        self.vmpl = vmpl

    def available(self) -> bool:
        return self.device.exists()

    def get_evidence(self, report_data: bytes) -> Evidence:
        certs_len = 4 * PAGE
        for _ in range(2):
            certs = ctypes.create_string_buffer(certs_len)
            req = ctypes.create_string_buffer(
                pack_report_req(report_data, self.vmpl)
                + struct.pack("<QI", ctypes.addressof(certs), certs_len),
                112,
            )
            resp = ctypes.create_string_buffer(RESP_SIZE)
            ioc = ctypes.create_string_buffer(
                struct.pack("<B7xQQQ", 1, ctypes.addressof(req), ctypes.addressof(resp), 0), 32
            )
            with open(self.device, "rb+", buffering=0) as f:
                try:
                    fcntl.ioctl(f, SNP_GET_EXT_REPORT, ioc)
                except OSError as e:
                    fw_err, vmm_err = struct.unpack_from("<II", ioc.raw, 24)
                    if vmm_err == VMM_ERR_INVALID_LEN:
                        certs_len = struct.unpack_from("<I", req.raw, 104)[0]
                        continue
                    raise SevGuestError(
                        f"SNP_GET_EXT_REPORT failed: {e} (fw 0x{fw_err:x}, vmm 0x{vmm_err:x})"
                    ) from e
            report = parse_report_resp(resp.raw)
            table = cert_table.parse_cert_table(certs.raw) if any(certs.raw[:24]) else {}
            return Evidence(
                kind="sev-snp", report=report, certs=cert_table.snp_certs(table), source="sev-guest"
            )
        raise SevGuestError("host kept asking for a larger certificate buffer")
