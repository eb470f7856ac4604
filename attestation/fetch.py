"""Vendor collateral fetched when online and cached on disk; the cache alone when offline.

What a careful client needs besides the server's evidence, from the vendors' public services:

* AMD KDS (`kdsintf.amd.com`): the ARK/ASK chain and the CRL of a product line, VCEKs;
* Intel PCS (`api.trustedservices.intel.com`): TDX TCB Info for an FMSPC (with its
  `TCB-Info-Issuer-Chain` header), the TD QE Identity, the PCK CRL, and Intel's root CA CRL;
* NVIDIA: reference integrity manifests (RIM service) and OCSP answers for the GPU chain.

Everything fetched is signed by its vendor and verified by the verifiers against pinned
roots, so the cache needs no integrity of its own: a tampered file fails verification. Each
answer is bounded in size; a fetch that fails falls back to a cached copy (the verifier's
freshness rules then decide whether an old copy is still acceptable). With `offline=True`
nothing leaves the machine: the cache (for example a bundle shipped with the client) is
all there is. Base URLs are parameters so tests run against a local server.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from attestation import safejson
from attestation.claims import VerificationError
from attestation.evidence import CollateralFile

AMD_KDS = "https://kdsintf.amd.com"
INTEL_PCS = "https://api.trustedservices.intel.com"
INTEL_ROOT_CRL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
NVIDIA_RIM = "https://rim.attestation.nvidia.com/v1/rim"
NVIDIA_OCSP = "https://ocsp.ndis.nvidia.com"
MAX_ANSWER_BYTES = 2 << 20  # the largest real answer (a driver RIM) is ~100 KiB


class FetchUnavailable(VerificationError):
    """Collateral could not be fetched and is not in the cache."""


@dataclass(frozen=True, slots=True)
class Answer:
    body: bytes
    headers: dict[str, str]


class CollateralFetcher:
    """Fetch-and-cache for AMD KDS, Intel PCS and NVIDIA RIM/OCSP answers."""

    def __init__(
        self,
        cache_dir: str | Path,
        *,
        offline: bool = False,
        timeout: float = 10.0,
        amd_kds: str = AMD_KDS,
        intel_pcs: str = INTEL_PCS,
        intel_root_crl: str = INTEL_ROOT_CRL,
        nvidia_rim: str = NVIDIA_RIM,
        nvidia_ocsp: str = NVIDIA_OCSP,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.offline = offline
        self.timeout = timeout
        self.amd_kds = amd_kds.rstrip("/")
        self.intel_pcs = intel_pcs.rstrip("/")
        self.intel_root_crl_url = intel_root_crl
        self.nvidia_rim_url = nvidia_rim.rstrip("/")
        self.nvidia_ocsp_url = nvidia_ocsp
        self.fetched: list[str] = []  # URLs answered by the network (not the cache), for reports

    # -- transport and cache -------------------------------------------------------------------

    def _key(self, url: str, body: bytes | None) -> Path:
        digest = hashlib.sha256(url.encode() + b"\0" + (body or b"")).hexdigest()
        return self.cache_dir / digest

    def _load(self, path: Path) -> Answer | None:
        try:
            body = path.with_suffix(".body").read_bytes()
            headers = safejson.loads(path.with_suffix(".headers").read_bytes(), what="cached headers")
        except (OSError, VerificationError):
            return None
        if not isinstance(headers, dict):
            return None
        return Answer(body, {str(k): str(v) for k, v in headers.items()})

    def _store(self, path: Path, answer: Answer) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        for suffix, data in ((".body", answer.body), (".headers", json.dumps(answer.headers).encode())):
            fd, tmp = tempfile.mkstemp(dir=self.cache_dir)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path.with_suffix(suffix))

    def get(self, url: str, *, body: bytes | None = None, content_type: str | None = None,
            keep_headers: tuple[str, ...] = ()) -> Answer:
        """GET (or POST `body`) `url`; the cached answer when offline or when the fetch fails."""
        path = self._key(url, body)
        if self.offline:
            cached = self._load(path)
            if cached is None:
                raise FetchUnavailable(f"offline and not cached: {url}")
            return cached
        if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
            raise FetchUnavailable(f"{url}: only https:// (http:// for local tests) is fetched")
        req = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")  # noqa: S310
        if content_type:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - scheme checked above
                data = resp.read(MAX_ANSWER_BYTES + 1)
                headers = {h: resp.headers[h] for h in keep_headers if resp.headers.get(h) is not None}
        except (OSError, ValueError) as e:  # URLError, HTTPError, timeouts, bad URL
            cached = self._load(path)
            if cached is None:
                raise FetchUnavailable(f"cannot fetch {url}: {e}") from e
            return cached
        if len(data) > MAX_ANSWER_BYTES:
            raise FetchUnavailable(f"{url} answered more than {MAX_ANSWER_BYTES} bytes")
        answer = Answer(data, headers)
        self._store(path, answer)
        self.fetched.append(url)
        return answer

    # -- AMD KDS --------------------------------------------------------------------------------

    def amd_crl(self, product: str) -> bytes:
        """The DER CRL of `product`'s ARK (revokes ASKs/ASVKs)."""
        return self.get(f"{self.amd_kds}/vcek/v1/{_path(product)}/crl").body

    def amd_cert_chain(self, product: str) -> bytes:
        """PEM: ASK then ARK."""
        return self.get(f"{self.amd_kds}/vcek/v1/{_path(product)}/cert_chain").body

    def amd_vcek(self, product: str, hwid: bytes, tcb: dict[str, int]) -> bytes:
        """The DER VCEK for a chip at a TCB (Turin: 8-byte hwID and fmcSPL first)."""
        order: tuple[tuple[str, str], ...] = (("fmcSPL", "fmc"),) if product == "Turin" else ()
        order += (("blSPL", "bl"), ("teeSPL", "tee"), ("snpSPL", "snp"), ("ucodeSPL", "ucode"))
        query = urllib.parse.urlencode([(k, tcb.get(p, 0)) for k, p in order])
        return self.get(f"{self.amd_kds}/vcek/v1/{_path(product)}/{hwid.hex()}?{query}").body

    # -- Intel PCS ------------------------------------------------------------------------------

    def intel_tdx_collateral(self, fmspc: bytes) -> list[CollateralFile]:
        """TCB Info for `fmspc`, TD QE Identity, their signing chain, PCK platform CA CRL, root CRL."""
        base = f"{self.intel_pcs}/tdx/certification/v4"
        tcb = self.get(f"{base}/tcb?fmspc={fmspc.hex()}", keep_headers=("TCB-Info-Issuer-Chain",))
        chain = tcb.headers.get("TCB-Info-Issuer-Chain")
        if not chain:
            raise FetchUnavailable("Intel PCS TCB Info answer has no TCB-Info-Issuer-Chain header")
        qe = self.get(f"{base}/qe/identity")
        pck_crl = self.get(f"{self.intel_pcs}/sgx/certification/v4/pckcrl?ca=platform&encoding=der")
        root_crl = self.get(self.intel_root_crl_url)
        return [
            CollateralFile(f"tcbinfo_fmspc_{fmspc.hex()}.json", tcb.body),
            CollateralFile("tcb_signing_chain.pem", urllib.parse.unquote(chain).encode()),
            CollateralFile("qe_identity_td_qe.json", qe.body),
            CollateralFile("pck_platform_ca.crl.der", pck_crl.body),
            CollateralFile("intel_sgx_root_ca.crl.der", root_crl.body),
        ]

    # -- NVIDIA ---------------------------------------------------------------------------------

    def nvidia_rim(self, rim_id: str) -> bytes:
        """The RIM (SWID tag XML) `rim_id`, e.g. NV_GPU_VBIOS_1010_0200_882_96.00.74.00.1A."""
        answer = self.get(f"{self.nvidia_rim_url}/{urllib.parse.quote(rim_id, safe='')}")
        doc = safejson.loads(answer.body, what=f"RIM service answer for {rim_id}")
        try:
            return base64.b64decode(doc["rim"], validate=True)
        except (KeyError, TypeError, ValueError) as e:
            raise FetchUnavailable(f"RIM service answer for {rim_id} has no base64 'rim': {e}") from e

    def nvidia_ocsp(self, request_der: bytes) -> bytes:
        """POST an OCSP request; the DER response (verified by `attestation.certs.check_ocsp_response`)."""
        return self.get(self.nvidia_ocsp_url, body=request_der, content_type="application/ocsp-request").body


def _path(product: str) -> str:
    if not product.isalnum():
        raise FetchUnavailable(f"product line {product!r} is not a KDS product name")
    return product
