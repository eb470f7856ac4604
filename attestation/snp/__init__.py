"""AMD SEV-SNP: `check(report, vcek_der, chain_pem)` parses, verifies and validates a report.

`check` never raises for bad evidence: it returns a `Verdict` whose checks say what failed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from cryptography import x509

from attestation import roots
from attestation.claims import ParseError, Verdict, VerificationError
from attestation.snp.abi import (
    PRODUCTS,
    SIGNING_KEY_VCEK,
    SIGNING_KEY_VLEK,
    Report,
    parse_report,
    product_from_cpuid,
    product_line,
)
from attestation.snp.kds import EndorsementCert, parse_endorsement_cert
from attestation.snp.validate import SnpPolicy, validate
from attestation.snp.verify import (
    ChainError,
    check_cert_validity,
    check_validity,
    common_name,
    verify_chip_id,
    verify_crl,
    verify_endorsement_cert,
    verify_issued_by,
    verify_report_signature,
    verify_tcb,
)

SIMULATED_PRODUCT = "Simulated"

__all__ = ["SIMULATED_PRODUCT", "SnpPolicy", "check", "claims_of"]


def _as_cert(root: x509.Certificate | bytes | None) -> x509.Certificate | None:
    if root is None or isinstance(root, x509.Certificate):
        return root
    return x509.load_pem_x509_certificate(root)


def claims_of(r: Report, product: str | None) -> dict[str, object]:
    return {
        "report_version": r.version,
        "product": product,
        "signer": {SIGNING_KEY_VCEK: "VCEK", SIGNING_KEY_VLEK: "VLEK"}.get(r.signing_key, str(r.signing_key)),
        "measurement": r.measurement.hex(),
        "report_data": r.report_data.hex(),
        "host_data": r.host_data.hex(),
        "policy": hex(r.policy.raw),
        "debug": r.policy.debug,
        "migration_agent": r.policy.migrate_ma,
        "smt_allowed": r.policy.smt,
        "vmpl": r.vmpl,
        "reported_tcb": r.tcb("reported", product).parts(),
        "firmware": "{}.{} build {}".format(*r.current_version),
        "chip_id": r.chip_id.hex(),
        "platform_info": hex(r.platform_info),
    }


def _candidates(
    chain_pem: bytes | None, signer: str, wanted: str | None, trusted: x509.Certificate | None
) -> list[tuple[str, x509.Certificate, x509.Certificate]]:
    """(product, ask, ark) anchors worth trying, each ending at a pinned or explicitly trusted root."""
    if chain_pem:
        certs = x509.load_pem_x509_certificates(chain_pem)
        if len(certs) != 2:
            raise ChainError(f"chain must be ASK then ARK (2 certificates), got {len(certs)}")
        ask, ark = certs
        product = roots.amd_product_for_ark(ark)
        if product is None and trusted is not None and ark == trusted:
            product = SIMULATED_PRODUCT
        if product is None:
            raise ChainError(f"chain ends at {common_name(ark)!r}, which is not a pinned AMD root")
        return [(product, ask, ark)]
    if wanted == SIMULATED_PRODUCT:
        raise ChainError("simulated evidence needs its chain (ASK + test ARK)")
    products = [wanted] if wanted else list(PRODUCTS)
    out = []
    for p in products:
        if p not in roots.AMD_PRODUCTS:
            raise ChainError(f"no pinned AMD roots for product {p!r}")
        chain = roots.amd_chain(p, signer)
        out.append((p, chain.ask, chain.ark))
    return out


def check(
    report: bytes,
    vcek_der: bytes,
    chain_pem: bytes | None = None,
    *,
    product: str | None = None,
    policy: SnpPolicy | None = None,
    now: datetime | None = None,
    trusted_simulated_root: x509.Certificate | bytes | None = None,
    crl: bytes | None = None,
) -> Verdict:
    """Verify an SNP report against AMD's pinned roots and, if given, validate `policy`.

    `product` names the product line ("Milan", "Genoa", "Turin"); without it v3+ reports use
    CPUID and v2 reports try each pinned root. `trusted_simulated_root` (PEM or certificate)
    admits the simulated provider's test ARK: never pass it for production evidence. `crl`
    (AMD KDS `/vcek/v1/{product}/crl`, DER) adds the revocation check.
    """
    now = now or datetime.now(UTC)
    v = Verdict("sev-snp")
    try:
        r = parse_report(report)
    except ParseError as e:
        v.add("report_format", False, str(e))
        return v
    v.add("report_format", True, f"Well-formed SEV-SNP attestation report (version {r.version})")
    try:
        ek = parse_endorsement_cert(vcek_der)
    except ParseError as e:
        v.add("endorsement_cert", False, f"Endorsement certificate unreadable: {e}")
        return v

    signer = {SIGNING_KEY_VCEK: "vcek", SIGNING_KEY_VLEK: "vlek"}.get(r.signing_key)
    if signer is None:
        v.add("endorsement_cert", False, f"Report signing key {r.signing_key} is neither VCEK nor VLEK")
        return v
    if ek.subject_cn != f"SEV-{signer.upper()}":
        v.add("endorsement_cert", False, f"Report says {signer.upper()}, certificate is {ek.subject_cn!r}")
        return v

    wanted = product_line(product) if product else product_from_cpuid(r.cpuid_family, r.cpuid_model)
    trusted = _as_cert(trusted_simulated_root)
    try:
        chosen = _choose_anchor(ek, _candidates(chain_pem, signer, wanted, trusted))
    except (VerificationError, ValueError) as e:
        v.add("cert_chain", False, f"Not signed by a trusted root: {e}")
        return v
    prod, ask, ark = chosen
    v.claims.update(claims_of(r, prod))
    if prod == SIMULATED_PRODUCT:
        v.kind = "simulated"
    if not _record(v, "product", lambda: _check_product(prod, wanted, ek)):
        return v
    vendor = "the SIMULATED test root (not AMD)" if prod == SIMULATED_PRODUCT else "AMD"

    def chain_signatures() -> None:
        verify_issued_by(ark, ark)
        verify_issued_by(ask, ark)
        verify_endorsement_cert(ek, ask)

    def chain_validity() -> None:
        check_cert_validity(ark, now)
        check_cert_validity(ask, now)
        check_validity(signer.upper(), ek.not_before, ek.not_after, now)

    if not _record(
        v,
        "cert_chain",
        chain_signatures,
        f"Signed by {vendor} (chain {common_name(ark)} → {common_name(ask)} → {signer.upper()})",
    ):
        return v
    if not _record(
        v,
        "cert_validity",
        chain_validity,
        f"Certificates valid on {now:%Y-%m-%d}",
    ):
        return v
    if crl is not None and not _record(v, "revocation", lambda: verify_crl(crl, ark, ask, ek, now)):
        return v
    if not _record(
        v,
        "report_signature",
        lambda: verify_report_signature(r, ek),
        f"Report signed by this processor's endorsement key ({signer.upper()})",
    ):
        return v
    if not _record(
        v,
        "tcb_matches_cert",
        lambda: verify_tcb(r, ek, prod),
        f"Firmware versions in the report match the certificate ({r.tcb('reported', prod)})",
    ):
        return v
    if signer == "vcek" and not r.mask_chip_key:
        if not _record(
            v,
            "chip_id_matches_cert",
            lambda: verify_chip_id(r, ek),
            "The certificate was issued for this very chip (CHIP_ID = hwID)",
        ):
            return v
    elif signer == "vlek":
        v.claims["csp_id"] = ek.csp_id
    if policy is not None:
        validate(r, prod, policy, v)
    return v


def _choose_anchor(
    ek: EndorsementCert, candidates: list[tuple[str, x509.Certificate, x509.Certificate]]
) -> tuple[str, x509.Certificate, x509.Certificate]:
    errors = []
    for cand in candidates:
        try:
            verify_endorsement_cert(ek, cand[1])
            return cand
        except VerificationError as e:
            errors.append(f"{cand[0]}: {e}")
    raise ChainError("endorsement certificate is not signed by any trusted ASK (" + "; ".join(errors) + ")")


def _check_product(prod: str, wanted: str | None, ek: EndorsementCert) -> str:
    if wanted is not None and prod != wanted:
        raise ChainError(f"certificate chain is for {prod}, but the report is from {wanted}")
    name = ek.product_name
    if name is not None and product_line(name) != prod:
        raise ChainError(f"endorsement certificate is for {name}, chain is for {prod}")
    return f"Processor product line {prod}" + (f" (certificate: {name})" if name else "")


def _record(v: Verdict, name: str, fn: Callable[[], object], ok_detail: str | None = None) -> bool:
    try:
        result = fn()
    except VerificationError as e:
        return v.add(name, False, str(e))
    return v.add(name, True, ok_detail or str(result))
