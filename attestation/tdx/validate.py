"""TDX policy: what a verified quote must show (go-sev-guest / go-tdx-guest `validate`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from attestation.claims import PolicyError, Verdict
from attestation.tdx.abi import (
    TD_ATTR_DEBUG,
    TD_ATTR_PERFMON,
    TD_ATTR_PKS,
    TD_ATTR_SEPT_VE_DISABLE,
    Quote,
    parse_quote,
)


class InvalidPolicy(PolicyError, ValueError):
    """A TDX policy (file section) is malformed: unknown keys, bad hex, wrong sizes."""


# Besides DEBUG, only these TD_ATTRIBUTES bits may ever be set.
TD_ATTRIBUTES_ALLOWED = TD_ATTR_SEPT_VE_DISABLE | TD_ATTR_PKS | TD_ATTR_PERFMON
# XFAM: bits set in FIXED1 must be set (x87, SSE); bits clear in FIXED0 must be clear
# (TDX module ABI, as in go-tdx-guest validate.go).
XFAM_FIXED1 = 0x00000003
XFAM_FIXED0 = 0x0006DBE7

_LISTS = ("mr_td", "mr_seam", "rtmr0", "rtmr1", "rtmr2", "rtmr3")
_SINGLE = ("mr_config_id", "mr_owner", "mr_owner_config", "report_data", "min_tee_tcb_svn")
_SIZES = {"mr_config_id": 48, "mr_owner": 48, "mr_owner_config": 48, "report_data": 64,
          "min_tee_tcb_svn": 16}


def _unhex(v: Any, size: int, name: str) -> bytes:
    try:
        b = bytes.fromhex(v) if isinstance(v, str) else bytes(v)
    except (TypeError, ValueError) as e:
        raise InvalidPolicy(f"policy {name}: not hex") from e
    if len(b) != size:
        raise InvalidPolicy(f"policy {name}: {len(b)} bytes, expected {size}")
    return b


@dataclass(slots=True)
class TdxPolicy:
    """Defaults are production: debug forbidden, collateral required, TCB UpToDate.

    Empty allow-lists and None expectations are not checked.
    """

    allow_debug: bool = False
    mr_td: list[bytes] = field(default_factory=list)
    mr_seam: list[bytes] = field(default_factory=list)
    rtmr0: list[bytes] = field(default_factory=list)
    rtmr1: list[bytes] = field(default_factory=list)
    rtmr2: list[bytes] = field(default_factory=list)
    rtmr3: list[bytes] = field(default_factory=list)
    mr_config_id: bytes | None = None
    mr_owner: bytes | None = None
    mr_owner_config: bytes | None = None
    report_data: bytes | None = None
    min_tee_tcb_svn: bytes | None = None  # 16 bytes, compared component by component
    require_collateral: bool = True
    accepted_tcb_statuses: list[str] = field(default_factory=lambda: ["UpToDate"])
    accepted_qe_tcb_statuses: list[str] = field(default_factory=lambda: ["UpToDate"])
    accept_expired_collateral: bool = False
    # Freshness bound: TCB Info and QE Identity issued at most this many days before "now"
    # (Intel reissues both at least monthly). Stale items count as expired collateral.
    max_collateral_age_days: int = 45

    def __post_init__(self) -> None:
        for name in ("allow_debug", "require_collateral", "accept_expired_collateral"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidPolicy(f"policy {name}: expected true/false")
        age = self.max_collateral_age_days
        if isinstance(age, bool) or not isinstance(age, int) or age < 1:
            raise InvalidPolicy("policy max_collateral_age_days: expected a positive number of days")
        for name in ("accepted_tcb_statuses", "accepted_qe_tcb_statuses"):
            v = getattr(self, name)
            if not isinstance(v, list | tuple) or not all(isinstance(x, str) for x in v):
                raise InvalidPolicy(f"policy {name}: expected a list of status names")
            setattr(self, name, list(v))
        for name in _LISTS:
            if not isinstance(getattr(self, name), list | tuple):
                raise InvalidPolicy(f"policy {name}: expected a list of hex strings")
            setattr(self, name, [_unhex(v, 48, name) for v in getattr(self, name)])
        for name in _SINGLE:
            v = getattr(self, name)
            if v is not None:
                setattr(self, name, _unhex(v, _SIZES[name], name))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TdxPolicy:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise InvalidPolicy(f"unknown TDX policy keys: {sorted(unknown)}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in _LISTS:
                out[f.name] = [x.hex() for x in v]
            elif f.name in _SINGLE:
                if v is not None:
                    out[f.name] = v.hex()
            else:
                out[f.name] = list(v) if isinstance(v, list) else v
        return out

    @classmethod
    def from_evidence(cls, quote: bytes | Quote) -> TdxPolicy:
        """Pin a known-good quote: MRTD, MRSEAM, RTMR0-2, MRCONFIGID/MROWNER(CONFIG), its TCB SVN.

        RTMR3 and REPORTDATA change at run time / per session and are not pinned.
        """
        q = quote if isinstance(quote, Quote) else parse_quote(quote)
        b = q.body
        return cls(
            allow_debug=False, mr_td=[b.mr_td], mr_seam=[b.mr_seam], rtmr0=[b.rtmrs[0]],
            rtmr1=[b.rtmrs[1]], rtmr2=[b.rtmrs[2]], mr_config_id=b.mr_config_id, mr_owner=b.mr_owner,
            mr_owner_config=b.mr_owner_config, min_tee_tcb_svn=b.tee_tcb_svn,
        )

    @classmethod
    def from_verdict(cls, verdict: Verdict) -> TdxPolicy:
        """Same as from_evidence, from the claims of a verdict returned by `tdx.check`."""
        c = verdict.claims
        if verdict.kind != "tdx":
            raise InvalidPolicy(f"verdict kind {verdict.kind!r} is not tdx")
        try:
            return cls(
                mr_td=[c["mr_td"]], mr_seam=[c["mr_seam"]], rtmr0=[c["rtmrs"][0]], rtmr1=[c["rtmrs"][1]],
                rtmr2=[c["rtmrs"][2]], mr_config_id=c["mr_config_id"], mr_owner=c["mr_owner"],
                mr_owner_config=c["mr_owner_config"], min_tee_tcb_svn=c["tee_tcb_svn"],
            )
        except (KeyError, IndexError) as e:
            raise InvalidPolicy(f"verdict lacks claim {e}") from e


def body_claims(q: Quote) -> dict[str, Any]:
    b = q.body
    claims: dict[str, Any] = {
        "quote_version": q.header.version,
        "body_type": q.body_type,
        "tee_tcb_svn": b.tee_tcb_svn.hex(),
        "mr_seam": b.mr_seam.hex(),
        "mr_signer_seam": b.mr_signer_seam.hex(),
        "td_attributes": f"{b.td_attributes:#018x}",
        "xfam": f"{b.xfam:#018x}",
        "mr_td": b.mr_td.hex(),
        "mr_config_id": b.mr_config_id.hex(),
        "mr_owner": b.mr_owner.hex(),
        "mr_owner_config": b.mr_owner_config.hex(),
        "rtmrs": [r.hex() for r in b.rtmrs],
        "report_data": b.report_data.hex(),
    }
    if b.tee_tcb_svn2 is not None and b.mr_service_td is not None:
        claims.update(tee_tcb_svn2=b.tee_tcb_svn2.hex(), mr_service_td=b.mr_service_td.hex())
    return claims


def _allow(verdict: Verdict, name: str, value: bytes, allowed: list[bytes]) -> None:
    if allowed:
        ok = value in allowed
        verdict.add(name, ok, f"{value.hex()} {'in' if ok else 'not in'} the {len(allowed)}-entry allow-list")


def _expect(verdict: Verdict, name: str, value: bytes, expected: bytes | None) -> None:
    if expected is not None:
        ok = value == expected
        verdict.add(name, ok, f"{value.hex()} {'==' if ok else '!='} expected {expected.hex()}")


def validate_quote(
    quote: Quote,
    verdict: Verdict,
    policy: TdxPolicy,
    *,
    collateral_given: bool,
    expired: list[str],
    now: datetime | None = None,
) -> None:
    """Add the policy checks for a verified quote to `verdict`."""
    b = quote.body
    debug = bool(b.td_attributes & TD_ATTR_DEBUG)
    verdict.add("debug_disabled", policy.allow_debug or not debug,
                f"TD_ATTRIBUTES {b.td_attributes:#018x}: DEBUG {'set' if debug else 'clear'}"
                + (" (allowed by policy)" if debug and policy.allow_debug else ""))
    extra = b.td_attributes & ~(TD_ATTRIBUTES_ALLOWED | TD_ATTR_DEBUG)
    verdict.add("td_attributes", extra == 0,
                "only SEPT_VE_DISABLE/PKS/PERFMON besides DEBUG" if extra == 0
                else f"unexpected TD_ATTRIBUTES bits {extra:#018x}")
    xfam_ok = b.xfam & XFAM_FIXED1 == XFAM_FIXED1 and b.xfam & ~XFAM_FIXED0 == 0
    verdict.add("xfam", xfam_ok, f"XFAM {b.xfam:#x} {'within' if xfam_ok else 'outside'} the fixed masks "
                f"(FIXED1 {XFAM_FIXED1:#x}, FIXED0 {XFAM_FIXED0:#x})")
    _allow(verdict, "mr_td", b.mr_td, policy.mr_td)
    _allow(verdict, "mr_seam", b.mr_seam, policy.mr_seam)
    for i, allowed in enumerate((policy.rtmr0, policy.rtmr1, policy.rtmr2, policy.rtmr3)):
        _allow(verdict, f"rtmr{i}", b.rtmrs[i], allowed)
    _expect(verdict, "mr_config_id", b.mr_config_id, policy.mr_config_id)
    _expect(verdict, "mr_owner", b.mr_owner, policy.mr_owner)
    _expect(verdict, "mr_owner_config", b.mr_owner_config, policy.mr_owner_config)
    _expect(verdict, "report_data", b.report_data, policy.report_data)
    if policy.min_tee_tcb_svn is not None:
        low = [i for i in range(16) if b.tee_tcb_svn[i] < policy.min_tee_tcb_svn[i]]
        verdict.add("min_tee_tcb_svn", not low,
                    f"TEE_TCB_SVN {b.tee_tcb_svn.hex()} vs minimum {policy.min_tee_tcb_svn.hex()}"
                    + (f": components {low} below" if low else ""))
    if not collateral_given:
        if policy.require_collateral:
            verdict.add("tcb_status", False, "no collateral given: TCB status not evaluated")
        else:
            verdict.claims["tcb_status"] = "not evaluated (no collateral; allowed by policy)"
        return
    status = verdict.claims.get("tcb_status")
    if status is not None:
        verdict.add("tcb_status", status in policy.accepted_tcb_statuses,
                    f"{status} {'in' if status in policy.accepted_tcb_statuses else 'not in'} "
                    f"accepted {policy.accepted_tcb_statuses}")
    qst = verdict.claims.get("qe_tcb_status")
    if qst is not None:
        verdict.add("qe_tcb_status", qst in policy.accepted_qe_tcb_statuses,
                    f"{qst} {'in' if qst in policy.accepted_qe_tcb_statuses else 'not in'} "
                    f"accepted {policy.accepted_qe_tcb_statuses}")
    expired = list(expired)
    if now is not None:
        bound = timedelta(days=policy.max_collateral_age_days)
        for item, issued in verdict.claims.get("collateral_issued", {}).items():
            age = now - datetime.fromisoformat(issued)
            if age > bound:
                expired.append(f"{item} issued {issued[:10]}, {age.days} days ago "
                               f"(more than {policy.max_collateral_age_days})")
    if expired:
        verdict.claims["expired_collateral"] = list(expired)
        verdict.add("collateral_current", policy.accept_expired_collateral,
                    "expired: " + "; ".join(expired)
                    + (" (accepted by policy)" if policy.accept_expired_collateral else ""))
    else:
        verdict.add("collateral_current", True, "TCB Info, QE Identity, CRLs and signing chain current")

