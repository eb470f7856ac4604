"""The JSON bundle served at `GET /attestation` (and carried in the TLS certificate), and its parser."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attestation import binding, hpke, safejson
from attestation.claims import ParseError
from attestation.providers.base import MAX_GPUS, Evidence, GpuProvider, Provider, checked_gpu_count

if TYPE_CHECKING:
    from attestation.tdx import TdxCollateral

FORMAT = "teecube-attestation/2"  # report_data layout v2 (attestation/binding.py)
OLD_FORMATS = ("teecube-attestation/1",)
COLLATERAL_KINDS = ("tdx",)  # CPU evidence kinds whose bundle may carry verifier collateral
MAX_RELEASES = 16
RELEASE_MANIFEST_ENV = "TEECUBE_RELEASE_MANIFEST"  # path of the signed manifest shipped in the image


@dataclass(frozen=True, slots=True)
class CollateralFile:
    """One collateral file as fetched from the vendor (Intel PCS): TCB Info, QE Identity, chain, CRL.

    Files are self-describing (`TdxCollateral.add_bytes` classifies them by content); the name is
    for messages only. Every item is signed by the vendor, so where it came from does not matter.
    """

    name: str
    data: bytes

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "data": base64.b64encode(self.data).decode()}

    @classmethod
    def from_json(cls, d: Any) -> CollateralFile:
        if not isinstance(d, dict) or not isinstance(d.get("name"), str):
            raise ParseError("collateral item must be {'name': str, 'data': base64}")
        return cls(d["name"], base64.b64decode(d["data"], validate=True))


def load_collateral_files(*paths: str | Path) -> list[CollateralFile]:
    """Files and/or directories (every regular file directly inside, sorted by name)."""
    out: list[CollateralFile] = []
    for p in map(Path, paths):
        files = sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p]
        out += [CollateralFile(f.name, f.read_bytes()) for f in files]
    return out


@dataclass(slots=True)
class Bundle:
    """`gpus` holds every GPU's evidence in device order; `gpu` is its first element, kept for
    clients that know one GPU only (given either, the other is filled in)."""

    nonce: bytes
    tls_spki_der: bytes
    cpu: Evidence
    gpu: Evidence | None = None
    gpu_reason: str | None = None
    tls_cert_pem: str | None = None
    collateral: list[CollateralFile] = field(default_factory=list)  # TDX: Intel PCS collateral
    gpu_cc_mode: bool | None = None  # the server's word that its GPU is in CC mode: GPU evidence required
    hpke_public_key: bytes = b""  # X25519 key requests are encrypted to (docs/encrypted-requests.md)
    releases: list[dict[str, Any]] = field(default_factory=list)  # signed release manifests (release.py)
    gpus: list[Evidence] = field(default_factory=list)  # every GPU's evidence, over the same GPU nonce
    gpu_count: int | None = None  # the server's word: GPUs it has (evidence is required for each)

    def __post_init__(self) -> None:
        if not self.gpus and self.gpu is not None:
            self.gpus = [self.gpu]
        elif self.gpus and self.gpu is None:
            self.gpu = self.gpus[0]
        elif self.gpus and self.gpus[0] != self.gpu:
            raise ValueError("bundle 'gpu' must be the first of 'gpus'")

    @property
    def simulated(self) -> bool:
        return self.cpu.simulated

    def tdx_collateral(self) -> TdxCollateral | None:
        """The carried collateral parsed for `attestation.tdx.check` (None when there is none)."""
        if not self.collateral:
            return None
        from attestation.tdx import TdxCollateral

        col = TdxCollateral()
        for f in self.collateral:
            col.add_bytes(f.data, f.name)
        return col

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": FORMAT,
            "simulated": self.simulated,
            "binding": "report_data = SHA-512('teecube-attestation-v2\\0' || SHA-256(tls.spki_der) "
                       "|| hpke.public_key || nonce)",
            "nonce": self.nonce.hex(),
            "tls": {
                "spki_der": base64.b64encode(self.tls_spki_der).decode(),
                "spki_sha256": binding.spki_sha256(self.tls_spki_der).hex(),
                "cert_pem": self.tls_cert_pem,
            },
            "hpke": {"suite": hpke.SUITE_NAME, "kem_id": hpke.KEM_ID, "kdf_id": hpke.KDF_ID,
                     "aead_id": hpke.AEAD_ID, "public_key": base64.b64encode(self.hpke_public_key).decode()},
            "cpu": self.cpu.to_json(),
            "gpu": self.gpus[0].to_json() if self.gpus else None,  # for clients that know one GPU
            "gpu_reason": self.gpu_reason,
        }
        if self.gpus:
            d["gpus"] = [g.to_json() for g in self.gpus]
        if self.gpu_count is not None:
            d["gpu_count"] = self.gpu_count
        if self.gpu_cc_mode is not None:
            d["gpu_cc_mode"] = self.gpu_cc_mode
        if self.releases:
            d["releases"] = list(self.releases)
        if self.collateral:  # optional: absent rather than empty, so older readers see no change
            d["collateral"] = [f.to_json() for f in self.collateral]
        return d

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, d: Any) -> Bundle:
        if isinstance(d, dict) and d.get("format") in OLD_FORMATS:
            raise ParseError(f"bundle format {d['format']} (report_data layout v1, no HPKE key) is refused: "
                             f"this client needs {FORMAT}; upgrade the server")
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ParseError(f"not a {FORMAT} bundle")
        try:
            cpu = Evidence.from_json(d["cpu"])
            if bool(d.get("simulated")) != cpu.simulated:
                raise ParseError("bundle 'simulated' flag disagrees with its CPU evidence")
            gpu = Evidence.from_json(d["gpu"]) if d.get("gpu") else None
            gpus = _parse_gpus(d.get("gpus"), gpu)
            raw = d.get("collateral") or []
            if not isinstance(raw, list):
                raise ParseError("bundle 'collateral' must be a list")
            suite = d["hpke"]
            if not isinstance(suite, dict):
                raise ParseError("bundle 'hpke' must be an object")
            if (suite.get("kem_id"), suite.get("kdf_id"), suite.get("aead_id")) != (
                    hpke.KEM_ID, hpke.KDF_ID, hpke.AEAD_ID):
                raise ParseError(f"bundle HPKE suite is not {hpke.SUITE_NAME}")
            hpke_key = base64.b64decode(suite["public_key"], validate=True)
            if len(hpke_key) != hpke.N_PK:
                raise ParseError(f"bundle HPKE public key is {len(hpke_key)} bytes, expected {hpke.N_PK}")
            releases = d.get("releases") or []
            if not isinstance(releases, list) or len(releases) > MAX_RELEASES \
                    or not all(isinstance(r, dict) for r in releases):
                raise ParseError(f"bundle 'releases' must be a list of at most {MAX_RELEASES} objects")
            cc_mode = d.get("gpu_cc_mode")
            if cc_mode is not None and not isinstance(cc_mode, bool):
                raise ParseError("bundle 'gpu_cc_mode' must be true, false or absent")
            gpu_count = checked_gpu_count(d.get("gpu_count"), 0, "bundle gpu_count")
            tls = d["tls"]
            if not isinstance(tls, dict):
                raise ParseError("bundle 'tls' must be an object")
            cert_pem = tls.get("cert_pem")
            if cert_pem is not None and not isinstance(cert_pem, str):
                raise ParseError("bundle 'tls.cert_pem' must be a string")
            reason = d.get("gpu_reason")
            if reason is not None and not isinstance(reason, str):
                raise ParseError("bundle 'gpu_reason' must be a string")
            if raw and cpu.kind not in COLLATERAL_KINDS:
                raise ParseError(f"bundle carries collateral, which {cpu.kind} evidence does not use")
            return cls(
                nonce=binding.parse_nonce(d["nonce"]),
                tls_spki_der=base64.b64decode(tls["spki_der"], validate=True),
                cpu=cpu,
                gpu=gpus[0] if gpus else None,
                gpu_reason=reason,
                tls_cert_pem=cert_pem,
                collateral=[CollateralFile.from_json(x) for x in raw],
                gpu_cc_mode=cc_mode,
                hpke_public_key=hpke_key,
                releases=releases,
                gpus=gpus,
                gpu_count=gpu_count,
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ParseError(f"malformed attestation bundle: {e}") from e

    @classmethod
    def loads(cls, text: str | bytes) -> Bundle:
        return cls.from_json(safejson.loads(text, what="attestation bundle"))


def _parse_gpus(raw: Any, gpu: Evidence | None) -> list[Evidence]:
    """`gpus` (absent from older servers: then `gpu` alone) as a list of 1..MAX_GPUS Evidence."""
    if raw is None:
        return [gpu] if gpu is not None else []
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_GPUS:
        raise ParseError(f"bundle 'gpus' must be a list of 1 to {MAX_GPUS} GPU evidence objects")
    gpus = [Evidence.from_json(g) for g in raw]
    if gpu is not None and gpus[0] != gpu:
        raise ParseError("bundle 'gpu' is not the first of 'gpus'")
    return gpus


def collect(
    provider: Provider,
    gpu_provider: GpuProvider | None,
    spki_der: bytes,
    nonce: bytes,
    tls_cert_pem: str | None = None,
    collateral: list[CollateralFile] | None = None,
    *,
    hpke_public_key: bytes,
) -> Bundle:
    """Ask the providers for evidence bound to `spki_der`, `hpke_public_key` and `nonce`.

    `collateral` (TDX: Intel PCS files) rides along with the quote; when it is None a provider
    that has a `collateral()` method (a TDX provider with a cached PCS download) supplies it.
    """
    cpu = provider.get_evidence(binding.report_data(spki_der, nonce, hpke_public_key))
    if collateral is None:
        supplier = getattr(provider, "collateral", None)
        collateral = list(supplier()) if callable(supplier) else []
    if collateral and cpu.kind not in COLLATERAL_KINDS:
        raise ValueError(f"collateral given for {cpu.kind} evidence, which does not use it")
    gpus: list[Evidence] = []
    reason, cc_mode, count = None, None, None
    if gpu_provider is None:
        reason = "no GPU provider configured"
    else:
        gpus = gpu_provider.get_all_evidence(binding.gpu_nonce(spki_der, nonce, hpke_public_key))
        reason = None if gpus else gpu_provider.reason
        cc_mode = getattr(gpu_provider, "cc_mode", None)
        count = getattr(gpu_provider, "gpu_count", None)
    return Bundle(nonce, spki_der, cpu, None, reason, tls_cert_pem, list(collateral), cc_mode,
                  hpke_public_key, release_manifests(provider), gpus=gpus, gpu_count=count)


def release_manifests(provider: Provider) -> list[dict[str, Any]]:
    """The signed manifests the server publishes: the provider's (the demo's), else the file named by
    $TEECUBE_RELEASE_MANIFEST (a release envelope, or a list of them, shipped in the image)."""
    supplier = getattr(provider, "release_manifests", None)
    if callable(supplier):
        return list(supplier())
    path = os.environ.get(RELEASE_MANIFEST_ENV)
    if not path:
        return []
    doc = safejson.loads(Path(path).read_bytes(), what="release manifest file")
    return doc if isinstance(doc, list) else [doc]
