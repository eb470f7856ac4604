"""Intel PCS collateral for TDX: TCB Info, QE Identity, the TCB signing chain, CRLs.

`TdxCollateral.load(...)` reads files as served by the Intel PCS API (or a directory of
them) and classifies each by content. Parsing only: signatures are checked in
`attestation.tdx.verify`.

The JSON signatures cover the raw bytes of the `"tcbInfo"` / `"enclaveIdentity"` object
exactly as they appear in the body, so the parser keeps that substring next to the
decoded object and checks the two agree (no re-serialisation, no duplicate keys).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from attestation import safejson
from attestation.certs import DECODE_ERRORS
from attestation.claims import ParseError


class CollateralError(ParseError):
    """Collateral file is malformed or ambiguous."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise CollateralError(f"duplicate JSON key {k!r}")
        out[k] = v
    return out


def _loads(text: str | bytes) -> Any:
    try:
        return safejson.loads(text, what="collateral", object_pairs_hook=_no_duplicates)
    except CollateralError:
        raise
    except ParseError as e:
        raise CollateralError(str(e)) from e


def raw_json_member(body: bytes, key: str) -> bytes:
    """The exact bytes of the object value of top-level member `key` in `body`."""
    needle = json.dumps(key).encode()
    depth = 0
    i = 0
    in_str = False
    start = -1
    while i < len(body):
        c = body[i]
        if in_str:
            if c == 0x5C:  # backslash
                i += 2
                continue
            if c == 0x22:
                in_str = False
            i += 1
            continue
        if c == 0x22:
            if depth == 1 and body.startswith(needle, i):
                j = i + len(needle)
                while j < len(body) and body[j] in b" \t\r\n":
                    j += 1
                if j < len(body) and body[j] == 0x3A:  # ':'
                    j += 1
                    while j < len(body) and body[j] in b" \t\r\n":
                        j += 1
                    start = j
                    break
            in_str = True
        elif c in b"{[":
            depth += 1
        elif c in b"}]":
            depth -= 1
        i += 1
    if start < 0 or start >= len(body) or body[start] != 0x7B:
        raise CollateralError(f"no object member {key!r}")
    depth = 0
    in_str = False
    i = start
    while i < len(body):
        c = body[i]
        if in_str:
            if c == 0x5C:
                i += 2
                continue
            if c == 0x22:
                in_str = False
        elif c == 0x22:
            in_str = True
        elif c == 0x7B or c == 0x5B:
            depth += 1
        elif c == 0x7D or c == 0x5D:
            depth -= 1
            if depth == 0:
                return body[start : i + 1]
        i += 1
    raise CollateralError(f"unterminated object {key!r}")


def parse_time(s: str) -> datetime:
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except (ValueError, AttributeError) as e:
        raise CollateralError(f"bad timestamp {s!r}") from e
    if t.tzinfo is None:
        raise CollateralError(f"timestamp {s!r} has no time zone")
    return t


def _hex(s: Any, size: int | None, what: str) -> bytes:
    try:
        b = bytes.fromhex(s)
    except (TypeError, ValueError) as e:
        raise CollateralError(f"{what}: not hex") from e
    if size is not None and len(b) != size:
        raise CollateralError(f"{what}: {len(b)} bytes, expected {size}")
    return b


@dataclass(frozen=True, slots=True)
class SignedJson:
    """A PCS JSON document: the signed object's raw bytes, its decoded form, the signature."""

    key: str
    raw: bytes
    obj: dict[str, Any]
    signature: bytes  # 64 bytes r‖s, ECDSA P-256 / SHA-256

    @classmethod
    def parse(cls, body: bytes, key: str) -> SignedJson:
        doc = _loads(body)
        if not isinstance(doc, dict) or set(doc) != {key, "signature"}:
            raise CollateralError(f"expected a JSON object with exactly {key!r} and 'signature'")
        raw = raw_json_member(body, key)
        obj = _loads(raw)
        if obj != doc[key]:
            raise CollateralError(f"raw {key!r} bytes disagree with the decoded document")
        return cls(key, raw, obj, _hex(doc["signature"], 64, "signature"))


@dataclass(frozen=True, slots=True)
class TcbComponentLevel:
    sgx_components: tuple[int, ...]  # 16 SVNs
    pce_svn: int
    tdx_components: tuple[int, ...]  # 16 SVNs
    tcb_date: str
    status: str
    advisory_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ModuleIdentity:
    id: str
    mr_signer: bytes
    attributes: bytes
    attributes_mask: bytes
    levels: tuple[tuple[int, str, tuple[str, ...]], ...]  # (isvsvn, status, advisories)


@dataclass(frozen=True, slots=True)
class TcbInfo:
    signed: SignedJson
    id: str
    version: int
    issue_date: datetime
    next_update: datetime
    fmspc: bytes
    pce_id: bytes
    evaluation_number: int
    module: ModuleIdentity | None
    module_identities: tuple[ModuleIdentity, ...]
    levels: tuple[TcbComponentLevel, ...]

    @classmethod
    def parse(cls, body: bytes) -> TcbInfo:
        signed = SignedJson.parse(body, "tcbInfo")
        d = signed.obj
        try:
            if d["id"] != "TDX":
                raise CollateralError(f"TCB Info id {d['id']!r} is not TDX")
            if int(d["version"]) < 3 or int(d["tcbType"]) != 0:
                raise CollateralError(f"TCB Info version {d['version']} / tcbType {d['tcbType']} "
                                      "not supported (TDX needs version >= 3, tcbType 0)")
            levels = tuple(
                TcbComponentLevel(
                    tuple(int(c["svn"]) for c in lv["tcb"]["sgxtcbcomponents"]),
                    int(lv["tcb"]["pcesvn"]),
                    tuple(int(c["svn"]) for c in lv["tcb"]["tdxtcbcomponents"]),
                    str(lv["tcbDate"]),
                    str(lv["tcbStatus"]),
                    tuple(lv.get("advisoryIDs", ())),
                )
                for lv in d["tcbLevels"]
            )
            if any(len(lv.sgx_components) != 16 or len(lv.tdx_components) != 16 for lv in levels):
                raise CollateralError("TCB level without 16 SGX and 16 TDX components")
            module = _module(d["tdxModule"], "") if "tdxModule" in d else None
            identities = tuple(_module(m, m["id"]) for m in d.get("tdxModuleIdentities", ()))
            return cls(signed, d["id"], int(d["version"]), parse_time(d["issueDate"]),
                       parse_time(d["nextUpdate"]), _hex(d["fmspc"], 6, "fmspc"),
                       _hex(d["pceId"], 2, "pceId"), int(d["tcbEvaluationDataNumber"]), module,
                       identities, levels)
        except (KeyError, TypeError, ValueError) as e:
            raise CollateralError(f"TCB Info malformed: {e!r}") from e


def _module(m: dict[str, Any], ident: str) -> ModuleIdentity:
    levels = tuple(
        (int(lv["tcb"]["isvsvn"]), str(lv["tcbStatus"]), tuple(lv.get("advisoryIDs", ())))
        for lv in m.get("tcbLevels", ())
    )
    return ModuleIdentity(ident, _hex(m["mrsigner"], 48, "tdxModule mrsigner"),
                          _hex(m["attributes"], 8, "tdxModule attributes"),
                          _hex(m["attributesMask"], 8, "tdxModule attributesMask"), levels)


@dataclass(frozen=True, slots=True)
class QeIdentity:
    signed: SignedJson
    id: str
    version: int
    issue_date: datetime
    next_update: datetime
    evaluation_number: int
    misc_select: int
    misc_select_mask: int
    attributes: bytes
    attributes_mask: bytes
    mr_signer: bytes
    isv_prod_id: int
    levels: tuple[tuple[int, str, tuple[str, ...]], ...]  # (isvsvn, status, advisories)

    @classmethod
    def parse(cls, body: bytes) -> QeIdentity:
        signed = SignedJson.parse(body, "enclaveIdentity")
        d = signed.obj
        try:
            if d["id"] != "TD_QE":
                raise CollateralError(f"enclave identity id {d['id']!r} is not TD_QE")
            return cls(
                signed, d["id"], int(d["version"]), parse_time(d["issueDate"]),
                parse_time(d["nextUpdate"]), int(d["tcbEvaluationDataNumber"]),
                int.from_bytes(_hex(d["miscselect"], 4, "miscselect"), "big"),
                int.from_bytes(_hex(d["miscselectMask"], 4, "miscselectMask"), "big"),
                _hex(d["attributes"], 16, "attributes"), _hex(d["attributesMask"], 16, "attributesMask"),
                _hex(d["mrsigner"], 32, "mrsigner"), int(d["isvprodid"]),
                tuple((int(lv["tcb"]["isvsvn"]), str(lv["tcbStatus"]), tuple(lv.get("advisoryIDs", ())))
                      for lv in d["tcbLevels"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise CollateralError(f"QE Identity malformed: {e!r}") from e


@dataclass(slots=True)
class TdxCollateral:
    """Everything from Intel PCS needed to evaluate a quote's TCB status."""

    tcb_infos: list[TcbInfo] = field(default_factory=list)
    qe_identity: QeIdentity | None = None
    tcb_signing_chain: list[x509.Certificate] = field(default_factory=list)
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)

    def tcb_info_for(self, fmspc: bytes) -> TcbInfo | None:
        for info in self.tcb_infos:
            if info.fmspc == fmspc:
                return info
        return None

    def add_bytes(self, data: bytes, name: str = "<bytes>") -> None:
        """Classify one collateral file by content and add it."""
        stripped = data.lstrip()
        if stripped.startswith(b"{"):
            doc = _loads(data)
            if isinstance(doc, dict) and "tcbInfo" in doc:
                self.tcb_infos.append(TcbInfo.parse(data))
            elif isinstance(doc, dict) and "enclaveIdentity" in doc:
                if self.qe_identity is not None:
                    raise CollateralError(f"{name}: a second QE identity")
                self.qe_identity = QeIdentity.parse(data)
            else:
                raise CollateralError(f"{name}: JSON is neither TCB Info nor QE Identity")
        elif b"-----BEGIN X509 CRL-----" in data:
            try:
                self.crls.append(x509.load_pem_x509_crl(data))
            except DECODE_ERRORS as e:
                raise CollateralError(f"{name}: bad PEM CRL: {e}") from e
        elif b"-----BEGIN CERTIFICATE-----" in data:
            try:
                certs = x509.load_pem_x509_certificates(data)
                # the subject is parsed lazily: a malformed one raises here, not in the load
                signing = any("TCB Signing" in c.subject.rfc4514_string() for c in certs)
            except DECODE_ERRORS as e:
                raise CollateralError(f"{name}: bad PEM certificates: {e}") from e
            if signing:
                if self.tcb_signing_chain:
                    raise CollateralError(f"{name}: a second TCB signing chain")
                self.tcb_signing_chain = certs
            # other chains (PCK CRL issuer chain) are not needed: the PCK chain comes in the quote
        else:
            try:
                self.crls.append(x509.load_der_x509_crl(data))
            except DECODE_ERRORS as e:
                raise CollateralError(f"{name}: not TCB Info, QE Identity, PEM chain or CRL") from e

    @classmethod
    def load(cls, *paths: str | Path) -> TdxCollateral:
        """Load files and/or directories (every regular file directly inside)."""
        col = cls()
        for p in paths:
            p = Path(p)
            files = sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p]
            for f in files:
                col.add_bytes(f.read_bytes(), str(f))
        return col
