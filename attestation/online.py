"""Revocation lists, TCB Info and reference values for a bundle, from a `CollateralFetcher`.

`enrich` fills the verifier `Options` for one bundle: the AMD CRL of the SNP product line,
Intel's TDX collateral for the quote's FMSPC (else the bundle's own), NVIDIA RIMs and OCSP
answers for the GPU chain. Whatever cannot be had is reported as a note and left to the
verifier's policy (a TDX policy requires collateral; a GPU policy requires RIMs).
"""

from __future__ import annotations

import dataclasses
import itertools

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from attestation.claims import VerificationError
from attestation.evidence import Bundle
from attestation.fetch import CollateralFetcher
from attestation.verifier import Options


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
    """`opt` with fetched (or cached) collateral for `bundle`; notes say what was not available."""
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
    if bundle.gpu is not None:
        opt, gpu_notes = _gpu(bundle, fetcher, opt)
        notes += gpu_notes
    return opt, notes


def _gpu(bundle: Bundle, fetcher: CollateralFetcher, opt: Options) -> tuple[Options, list[str]]:
    from attestation.nvgpu.abi import parse_report

    assert bundle.gpu is not None
    notes: list[str] = []
    try:
        report = parse_report(bundle.gpu.report)
    except VerificationError:
        return opt, notes  # the verifier reports it
    rims = []
    driver = report.driver_version
    ids = [report.vbios_rim_id, f"NV_GPU_DRIVER_GH100_{driver}" if driver else None]
    for rim_id in filter(None, ids):
        try:
            rims.append(fetcher.nvidia_rim(rim_id))
        except VerificationError as e:
            notes.append(f"RIM {rim_id} not fetched ({e})")
    responses: dict[str, bytes] = {}
    try:
        for serial, request in _ocsp_requests(bundle.gpu.certs.get("chain", b"")).items():
            responses[serial] = fetcher.nvidia_ocsp(request)
    except VerificationError as e:
        notes.append(f"GPU OCSP not fetched ({e})")
    except ValueError:
        pass  # unreadable chain: the verifier reports it
    return dataclasses.replace(opt, rims=tuple(rims), ocsp_responses=responses or None), notes
