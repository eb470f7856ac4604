"""Pinned vendor roots, shipped in this package and checked by SHA-256 fingerprint on load.

AMD: one PEM per product line and signer (ASK or ASVK, then ARK, KDS `cert_chain` order).
Intel: the SGX Root CA (TDX PCK chains). NVIDIA: the device identity CA (GPU chains) and the
CoRIM signing root (RIMs). A file whose fingerprint differs from the one below is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from attestation.claims import VerificationError

AMD_ARK_SHA256 = {
    "Milan": "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
    "Genoa": "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
    "Turin": "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
}
AMD_ASK_SHA256 = {
    ("Milan", "vcek"): "67d303bd3905fd38db8b20e0793699870e7fa612eaad5dec358293fd8c0bac1b",
    ("Milan", "vlek"): "c5e081f59b7efab1fe2f8b505e159704e72f29cab7ef7cf628a05a42439082f5",
    ("Genoa", "vcek"): "5464738c1546aed5f2cecf1dc98c5c960a92e8913238a61711bc90ec6e828521",
    ("Genoa", "vlek"): "197e610743a917d6b9bb982a5a9226ccc0a15b611be0619e626aca9151457372",
    ("Turin", "vcek"): "5b77ef5fe7a7a004fd9032668fba9d0fda22f88c4442069a479636a6ae3b3185",
    ("Turin", "vlek"): "104e10a8bd060a3c20a434261a57d0588fd65a88915b4f65b08bdecaf8df1a3c",
}
INTEL_SGX_ROOT_SHA256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"
NVIDIA_DEVICE_ROOT_SHA256 = "102bf659d5419614c9d8e6aecebc80454eb26b1df6a769ac720b9a690b167b48"
NVIDIA_RIM_ROOT_SHA256 = "12977b5115acb0381179279fffeb5a8c4d264971ebb32298023a465fa41df5d1"

AMD_PRODUCTS = tuple(AMD_ARK_SHA256)


class UnpinnedRoot(VerificationError):
    """A shipped root file does not match its pinned fingerprint."""


@dataclass(frozen=True, slots=True)
class AmdChain:
    product: str
    signer: str  # "vcek" | "vlek"
    ask: x509.Certificate  # ASK (VCEK) or ASVK (VLEK)
    ark: x509.Certificate


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def _load(name: str) -> list[x509.Certificate]:
    data = resources.files(__name__).joinpath(name).read_bytes()
    return x509.load_pem_x509_certificates(data)


def _pinned(cert: x509.Certificate, expected: str, what: str) -> x509.Certificate:
    if fingerprint(cert) != expected:
        raise UnpinnedRoot(f"{what}: fingerprint {fingerprint(cert)} is not the pinned {expected}")
    return cert


@cache
def amd_chain(product: str, signer: str = "vcek") -> AmdChain:
    """The pinned ASK/ASVK and ARK for `product` ("Milan", "Genoa", "Turin")."""
    if product not in AMD_ARK_SHA256 or signer not in ("vcek", "vlek"):
        raise KeyError(f"no pinned AMD chain for {product!r}/{signer!r}")
    ask, ark = _load(f"amd_{product.lower()}_{signer}.pem")
    return AmdChain(
        product,
        signer,
        _pinned(ask, AMD_ASK_SHA256[(product, signer)], f"AMD {product} {signer} ASK"),
        _pinned(ark, AMD_ARK_SHA256[product], f"AMD ARK-{product}"),
    )


def amd_product_for_ark(cert: x509.Certificate) -> str | None:
    """Which pinned AMD product line this ARK is, if any."""
    fp = fingerprint(cert)
    return next((p for p, f in AMD_ARK_SHA256.items() if f == fp), None)


@cache
def intel_sgx_root() -> x509.Certificate:
    return _pinned(_load("intel_sgx_root_ca.pem")[0], INTEL_SGX_ROOT_SHA256, "Intel SGX Root CA")


@cache
def nvidia_device_root() -> x509.Certificate:
    return _pinned(
        _load("nvidia_device_identity_ca.pem")[0], NVIDIA_DEVICE_ROOT_SHA256, "NVIDIA Device Identity CA"
    )


@cache
def nvidia_rim_root() -> x509.Certificate:
    return _pinned(_load("nvidia_corim_signing_root_ca.pem")[0], NVIDIA_RIM_ROOT_SHA256, "NVIDIA CoRIM root")
