"""One verifier contract for every kind of evidence, and the table that picks the verifier.

Modelled on go-sev-guest's `verify.Options`: every check takes the evidence, the policy
section for its kind (None = cryptography only, what `--no-policy` means) and one `Options`
(trusted roots, the time, the optional collateral the kind uses). The rule is the same for
all kinds:

* `Verifier.check` raises only `VerificationError` (its subclasses: `ParseError` for
  structure, `CertificateError` for chains, ...) when the evidence cannot be trusted at all,
  and otherwise returns a `Verdict` whose failed checks say what the policy refused;
* `verify` is what callers use: it never raises for bad evidence; an exception from
  `check` becomes a failed check named after the error class, so a person sees it.

`VERIFIERS` is shared by the client (`attestation.client`), the CLI (`teecube verify`) and
the policy file (`attestation.policy`): one place says which kinds exist, how each is
checked and which policy class describes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509

from attestation.claims import ParseError, Verdict, VerificationError
from attestation.providers.base import Evidence


@dataclass(frozen=True, slots=True)
class TrustedRoots:
    """Roots a verifier accepts. None = the vendor roots pinned in `attestation/roots/`."""

    intel: tuple[x509.Certificate, ...] | None = None
    nvidia: tuple[x509.Certificate, ...] | None = None
    nvidia_rim: tuple[x509.Certificate, ...] | None = None
    simulated: x509.Certificate | None = None  # the demo's test ARK; never for production


@dataclass(frozen=True, slots=True)
class Options:
    """What every verifier takes besides the evidence and the policy."""

    now: datetime | None = None  # None = the current time
    roots: TrustedRoots = field(default_factory=TrustedRoots)
    product: str | None = None  # SEV-SNP product line when the report does not say (v2)
    snp_crl: bytes | None = None  # AMD KDS CRL of the product line (DER): revocation checked when given
    tdx_collateral: Any = None  # attestation.tdx.TdxCollateral
    gpu_nonce: bytes | None = None  # the SPDM request nonce the GPU must have signed
    rims: tuple[bytes, ...] = ()  # NVIDIA reference integrity manifests
    ocsp_responses: Mapping[str, bytes] | None = None  # NVIDIA: serial hex -> DER OCSP response


def _list(certs: tuple[x509.Certificate, ...] | None) -> list[x509.Certificate] | None:
    return list(certs) if certs is not None else None


def _check_snp(ev: Evidence, policy: Any, opt: Options) -> Verdict:
    from attestation import snp

    vcek = ev.certs.get("vcek") or ev.certs.get("vlek")
    if vcek is None:
        raise VerificationError("Evidence carries no VCEK/VLEK certificate")
    verdict = snp.check(
        ev.report, vcek, ev.certs.get("chain"), product=ev.product or opt.product, policy=policy,
        now=opt.now, trusted_simulated_root=opt.roots.simulated if ev.kind == "simulated" else None,
        crl=opt.snp_crl,
    )
    if ev.kind == "simulated" and verdict.kind != "simulated":
        verdict.kind = "simulated"
        verdict.add("simulated", False, "Simulated evidence not signed by a test root you trust")
    return verdict


def _check_tdx(ev: Evidence, policy: Any, opt: Options) -> Verdict:
    from attestation import tdx

    return tdx.check(ev.report, collateral=opt.tdx_collateral, policy=policy, now=opt.now,
                     roots=_list(opt.roots.intel))


def _check_gpu(ev: Evidence, policy: Any, opt: Options) -> Verdict:
    from attestation import nvgpu

    return nvgpu.check(
        ev.report, ev.certs.get("chain") or ev.certs.get("cert") or b"", nonce=opt.gpu_nonce,
        rims=list(opt.rims), policy=policy, now=opt.now, ocsp_responses=opt.ocsp_responses,
        roots=_list(opt.roots.nvidia), rim_roots=_list(opt.roots.nvidia_rim),
    )


def _snp_policy() -> type:
    from attestation.snp.validate import SnpPolicy

    return SnpPolicy


def _tdx_policy() -> type:
    from attestation.tdx.validate import TdxPolicy

    return TdxPolicy


def _gpu_policy() -> type:
    from attestation.nvgpu.validate import GpuPolicy

    return GpuPolicy


Check = Callable[[Evidence, Any, "Options"], Verdict]


def _parsing_only(check: Check) -> Check:
    """`check` held to the contract: what `cryptography` raises for a malformed certificate or CRL, some
    of it lazily (a subject or an extension read long after the load), is a ParseError too."""
    from attestation.certs import DECODE_ERRORS

    def checked(ev: Evidence, policy: Any, options: Options) -> Verdict:
        try:
            return check(ev, policy, options)
        except VerificationError:
            raise
        except DECODE_ERRORS as e:
            raise ParseError(f"malformed evidence ({type(e).__name__}): {e}") from e

    return checked


@dataclass(frozen=True, slots=True)
class Verifier:
    kind: str
    role: str  # "cpu" | "gpu"
    check: Callable[[Evidence, Any, Options], Verdict]
    policy_class: Callable[[], type]
    crypto_only: Callable[[], Any]  # the policy `--no-policy` means: signatures, chains, binding
    careful: Callable[[], Any]  # the policy a careful client starts from


VERIFIERS: dict[str, Verifier] = {
    "sev-snp": Verifier(
        "sev-snp", "cpu", _parsing_only(_check_snp), _snp_policy,
        lambda: _snp_policy()(allow_debug=True, allow_migration_agent=True),
        lambda: _snp_policy()(default_min_tcb=True),
    ),
    "simulated": Verifier(
        "simulated", "cpu", _parsing_only(_check_snp), _snp_policy,
        lambda: _snp_policy()(allow_debug=True, allow_migration_agent=True),
        lambda: _snp_policy()(),
    ),
    "tdx": Verifier(
        "tdx", "cpu", _parsing_only(_check_tdx), _tdx_policy,
        lambda: _tdx_policy()(allow_debug=True, require_collateral=False),
        lambda: _tdx_policy()(),
    ),
    "nvidia-gpu": Verifier(
        "nvidia-gpu", "gpu", _parsing_only(_check_gpu), _gpu_policy,
        lambda: _gpu_policy()(require_nonce=False, require_measurement_appraisal=False),
        lambda: _gpu_policy()(),
    ),
}


def refused(kind: str, name: str, detail: str) -> Verdict:
    v = Verdict(kind)
    v.add(name, False, detail)
    return v


def verify(ev: Evidence, policy: Any, options: Options) -> Verdict:
    """Check `ev` with the verifier for its kind. Never raises for bad evidence."""
    verifier = VERIFIERS.get(ev.kind)
    if verifier is None:
        return refused(ev.kind, "kind", f"no verifier for evidence kind {ev.kind!r}")
    try:
        return verifier.check(ev, policy, options)
    except VerificationError as e:
        return refused(ev.kind, type(e).__name__, str(e) or type(e).__name__)
