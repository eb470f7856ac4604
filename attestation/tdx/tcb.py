"""TDX TCB status: the PCK certificate's SGX extension, TCB Info levels, QE Identity.

Algorithm per Intel PCS (google/go-tdx-guest `testing/testdata/README.md`) and, for TCB
Info v3 with TDX module identities (TDX 1.5), Intel's QVL: when TEE_TCB_SVN[1] (the
module's major version) is non-zero, TEE_TCB_SVN[0..1] are appraised against the
`TDX_<major>` module identity and only components 2..15 against the TCB level.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from attestation.certs import DECODE_ERRORS, CertificateError, der_int, der_items, der_oid
from attestation.claims import ParseError, VerificationError
from attestation.tdx.abi import SgxReportBody
from attestation.tdx.collateral import ModuleIdentity, QeIdentity, TcbInfo

SGX_EXTENSION_OID = "1.2.840.113741.1.13.1"
_PPID = SGX_EXTENSION_OID + ".1"
_TCB = SGX_EXTENSION_OID + ".2"
_PCESVN = _TCB + ".17"
_CPUSVN = _TCB + ".18"
_PCEID = SGX_EXTENSION_OID + ".3"
_FMSPC = SGX_EXTENSION_OID + ".4"

# Worst last; used to combine platform and module status.
STATUS_ORDER = (
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
    "Revoked",
)


class TcbError(VerificationError):
    """The quote's platform or QE does not match the collateral at all."""


@dataclass(frozen=True, slots=True)
class PckExtension:
    ppid: bytes
    sgx_components: tuple[int, ...]  # 16 CPUSVN component SVNs
    pce_svn: int
    cpu_svn: bytes
    pce_id: bytes
    fmspc: bytes


def parse_pck_extension(cert: x509.Certificate) -> PckExtension:
    """Decode the Intel SGX extension (1.2.840.113741.1.13.1) of a PCK certificate."""
    try:
        ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(SGX_EXTENSION_OID))
    except x509.ExtensionNotFound as e:
        raise ParseError("PCK certificate has no SGX extension") from e
    except DECODE_ERRORS as e:
        raise ParseError(f"PCK certificate extensions malformed: {e}") from e
    if not isinstance(ext.value, x509.UnrecognizedExtension):
        raise ParseError("PCK certificate SGX extension is not raw DER")
    try:
        (seq,) = der_items(ext.value.value)
        fields: dict[str, bytes] = {}
        tcb: dict[str, bytes] | None = None
        for item in der_items(seq.value):
            oid_tlv, val = der_items(item.value)
            oid = der_oid(oid_tlv.value)
            if oid == _TCB:
                tcb = {}
                for comp in der_items(val.value):
                    c_oid, c_val = der_items(comp.value)
                    tcb[der_oid(c_oid.value)] = c_val.value
            else:
                fields[oid] = val.value
        if tcb is None:
            raise KeyError(_TCB)
        sgx = tuple(der_int(tcb[f"{_TCB}.{i}"]) for i in range(1, 17))
        pck = PckExtension(
            ppid=fields[_PPID],
            sgx_components=sgx,
            pce_svn=der_int(tcb[_PCESVN]),
            cpu_svn=tcb[_CPUSVN],
            pce_id=fields[_PCEID],
            fmspc=fields[_FMSPC],
        )
    except (CertificateError, KeyError, ValueError, TypeError) as e:
        raise ParseError(f"PCK SGX extension malformed: {e}") from e
    if len(pck.fmspc) != 6 or len(pck.pce_id) != 2 or len(pck.cpu_svn) != 16:
        raise ParseError("PCK SGX extension has wrong FMSPC/PCE-ID/CPUSVN sizes")
    return pck


@dataclass(frozen=True, slots=True)
class TcbStatus:
    status: str
    tcb_date: str
    advisory_ids: tuple[str, ...]
    detail: str


def worse(a: str, b: str) -> str:
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    return max(a, b, key=lambda s: rank.get(s, len(STATUS_ORDER)))


def _masked_eq(value: bytes, expected: bytes, mask: bytes) -> bool:
    return len(value) == len(expected) == len(mask) and all(
        (v & m) == (e & m) for v, e, m in zip(value, expected, mask, strict=True)
    )


def _module_identity(
    info: TcbInfo, tee_tcb_svn: bytes, mr_signer_seam: bytes, seam_attributes: bytes
) -> TcbStatus | None:
    """TDX module appraisal; None when the module has no versioned identity (status from platform)."""
    major = tee_tcb_svn[1]
    ident: ModuleIdentity | None = info.module
    versioned = info.version >= 3 and major > 0 and info.module_identities
    if versioned:
        wanted = f"TDX_{major:02X}"
        ident = next((m for m in info.module_identities if m.id.upper() == wanted), None)
        if ident is None:
            raise TcbError(f"TCB Info has no TDX module identity {wanted}")
    if ident is not None:
        if mr_signer_seam != ident.mr_signer:
            raise TcbError(f"MRSIGNERSEAM {mr_signer_seam.hex()} != TCB Info {ident.mr_signer.hex()}")
        if not _masked_eq(seam_attributes, ident.attributes, ident.attributes_mask):
            raise TcbError("SEAMATTRIBUTES do not match the TCB Info module identity")
    if not versioned or ident is None:
        return None
    for isvsvn, status, adv in ident.levels:
        if tee_tcb_svn[0] >= isvsvn:
            return TcbStatus(status, "", adv, f"module {ident.id} svn {tee_tcb_svn[0]} >= {isvsvn}")
    raise TcbError(f"TDX module {ident.id} svn {tee_tcb_svn[0]} below every module TCB level")


def tdx_tcb_status(
    info: TcbInfo,
    pck: PckExtension,
    tee_tcb_svn: bytes,
    mr_signer_seam: bytes,
    seam_attributes: bytes,
) -> TcbStatus:
    """First TCB level the platform meets, combined with the TDX module identity's status.

    Raises TcbError if FMSPC/PCE-ID differ, the module identity does not match, or no
    level matches ("TCB level not supported").
    """
    if info.fmspc != pck.fmspc:
        raise TcbError(f"TCB Info FMSPC {info.fmspc.hex()} != PCK FMSPC {pck.fmspc.hex()}")
    if info.pce_id != pck.pce_id:
        raise TcbError(f"TCB Info PCE-ID {info.pce_id.hex()} != PCK PCE-ID {pck.pce_id.hex()}")
    module = _module_identity(info, tee_tcb_svn, mr_signer_seam, seam_attributes)
    start = 2 if module is not None else 0
    for n, level in enumerate(info.levels):
        if not all(p >= lv for p, lv in zip(pck.sgx_components, level.sgx_components, strict=True)):
            continue
        if pck.pce_svn < level.pce_svn:
            continue
        if not all(tee_tcb_svn[i] >= level.tdx_components[i] for i in range(start, 16)):
            continue
        if start == 0 and level.tdx_components[1] != tee_tcb_svn[1]:
            raise TcbError(
                f"TCB level {n} TDX component 1 = {level.tdx_components[1]} != TEE_TCB_SVN[1] "
                f"{tee_tcb_svn[1]}: TCB Info does not support this platform configuration"
            )
        detail = f"TCB level {n} ({level.tcb_date}) {level.status}"
        status = level.status
        if module is not None:
            status = worse(status, module.status)
            detail += f"; {module.detail}: {module.status}"
        return TcbStatus(status, level.tcb_date, level.advisory_ids + module.advisory_ids
                         if module else level.advisory_ids, detail)
    raise TcbError(
        f"no TCB level matches (PCK SGX SVNs {list(pck.sgx_components)}, PCESVN {pck.pce_svn}, "
        f"TEE_TCB_SVN {tee_tcb_svn.hex()}): TCB level not supported"
    )


def qe_identity_status(identity: QeIdentity, qe: SgxReportBody) -> TcbStatus:
    """Match the QE report against the TD_QE identity and pick its TCB level."""
    if qe.mr_signer != identity.mr_signer:
        raise TcbError(f"QE MRSIGNER {qe.mr_signer.hex()} != identity {identity.mr_signer.hex()}")
    if qe.isv_prod_id != identity.isv_prod_id:
        raise TcbError(f"QE ISVPRODID {qe.isv_prod_id} != identity {identity.isv_prod_id}")
    if qe.misc_select & identity.misc_select_mask != identity.misc_select:
        raise TcbError(f"QE MISCSELECT {qe.misc_select:#010x} does not match the identity under its mask")
    if not _masked_eq(qe.attributes, identity.attributes, identity.attributes_mask):
        raise TcbError(f"QE ATTRIBUTES {qe.attributes.hex()} do not match the identity under its mask")
    for isvsvn, status, adv in identity.levels:
        if qe.isv_svn >= isvsvn:
            return TcbStatus(status, "", adv, f"QE ISVSVN {qe.isv_svn} >= {isvsvn}: {status}")
    raise TcbError(f"QE ISVSVN {qe.isv_svn} below every QE identity TCB level")
