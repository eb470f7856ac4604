"""Revocation lists, TCB Info and reference values for a bundle, from a `CollateralFetcher`.

`enrich` fills the verifier `Options` for one bundle's CPU evidence: the AMD CRL of the SNP
product line, Intel's TDX collateral for the quote's FMSPC (else the bundle's own).
`enrich_gpus` makes one `Options` per GPU of the bundle: the NVIDIA RIMs its report names and
OCSP answers for its chain (each fetched once, as the GPUs of one machine share most of them).
Whatever cannot be had is reported as a note and left to the verifier's policy (a TDX policy
requires collateral; a GPU policy requires RIMs).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from attestation.claims import VerificationError
from attestation.evidence import Bundle
from attestation.fetch import CollateralFetcher
from attestation.providers.base import Evidence
from attestation.verifier import Options

K = TypeVar("K", str, bytes)


def _snp_product(bundle: Bundle) -> str | None:
    from attestation.snp.abi import parse_report, product_from_cpuid

    if bundle.cpu.product:
        return bundle.cpu.product
    r = parse_report(bundle.cpu.report)
    return product_from_cpuid(r.cpuid_family, r.cpuid_model)


def _fmspc(quote: bytes) -> bytes:
    from attestation import certs
    from attestation.tdx.abi import parse_quote
    from attestation.tdx.tcb import parse_pck_extension

    q = parse_quote(quote)
    pck = certs.load_pem_certificates(q.certification.pck_cert_chain.rstrip(b"\x00"))[0]
    return parse_pck_extension(pck).fmspc


def _ocsp_requests(chain_pem: bytes) -> dict[str, bytes]:
    """serial hex -> DER OCSP request (SHA-384 CertID) for every chain cert but the leaf and root."""
    chain = x509.load_pem_x509_certificates(chain_pem)
    out = {}
    for cert, issuer in itertools.pairwise(chain[1:]):
        req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA384()).build()
        out[f"{cert.serial_number:x}"] = req.public_bytes(serialization.Encoding.DER)
    return out


def enrich(bundle: Bundle, fetcher: CollateralFetcher, opt: Options) -> tuple[Options, list[str]]:
    """`opt` with fetched (or cached) collateral for `bundle`'s CPU evidence; notes say what was
    not available. GPU collateral: `enrich_gpus`."""
    notes: list[str] = []
    kind = bundle.cpu.kind
    try:
        if kind == "sev-snp":
            product = _snp_product(bundle)
            if product is None:
                notes.append("SEV-SNP product line unknown (v2 report): AMD CRL not fetched")
            else:
                opt = dataclasses.replace(opt, snp_crl=fetcher.amd_crl(product))
        elif kind == "tdx" and opt.tdx_collateral is None:
            from attestation.tdx import TdxCollateral

            col = TdxCollateral()
            for f in fetcher.intel_tdx_collateral(_fmspc(bundle.cpu.report)):
                col.add_bytes(f.data, f.name)
            opt = dataclasses.replace(opt, tdx_collateral=col)
    except VerificationError as e:
        notes.append(f"{kind} collateral not fetched ({e}); using what the server sent")
    return opt, notes


def enrich_gpus(bundle: Bundle, fetcher: CollateralFetcher, opt: Options) -> tuple[list[Options], list[str]]:
    """One `opt` per GPU of `bundle`, in its order, with that GPU's RIMs and OCSP answers; notes
    (each said once) say what was not available."""
    rim, ocsp_answer = _once(fetcher.nvidia_rim), _once(fetcher.nvidia_ocsp)
    out: list[Options] = []
    notes: list[str] = []
    for ev in bundle.gpus:
        gpu_opt, gpu_notes = _gpu(ev, rim, ocsp_answer, opt)
        out.append(gpu_opt)
        notes += [n for n in gpu_notes if n not in notes]
    return out, notes


def _once(fetch: Callable[[K], bytes]) -> Callable[[K], bytes]:
    """`fetch`, asking each key once (a failure too: eight GPUs do not wait out eight timeouts)."""
    answers: dict[K, bytes | VerificationError] = {}

    def get(key: K) -> bytes:
        if key not in answers:
            try:
                answers[key] = fetch(key)
            except VerificationError as e:
                answers[key] = e
        answer = answers[key]
        if isinstance(answer, VerificationError):
            raise answer
        return answer

    return get


def _gpu(
    ev: Evidence, rim: Callable[[str], bytes], ocsp_answer: Callable[[bytes], bytes], opt: Options
) -> tuple[Options, list[str]]:
    from attestation.nvgpu.abi import parse_report

    notes: list[str] = []
    try:
        report = parse_report(ev.report)
    except VerificationError:
        return opt, notes  # the verifier reports it
    rims = []
    driver = report.driver_version
    ids = [report.vbios_rim_id, f"NV_GPU_DRIVER_GH100_{driver}" if driver else None]
    for rim_id in filter(None, ids):
        try:
            rims.append(rim(rim_id))
        except VerificationError as e:
            notes.append(f"RIM {rim_id} not fetched ({e})")
    responses: dict[str, bytes] = {}
    try:
        for serial, request in _ocsp_requests(ev.certs.get("chain", b"")).items():
            responses[serial] = ocsp_answer(request)
    except VerificationError as e:
        notes.append(f"GPU OCSP not fetched ({e})")
    except ValueError:
        pass  # unreadable chain: the verifier reports it
    return dataclasses.replace(opt, rims=tuple(rims), ocsp_responses=responses or None), notes
