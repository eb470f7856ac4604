"""Verify a teecube server before use, then talk to it only over the attested TLS key.

    conn = attestation.client.connect("https://host:8443", policy="policy.toml")
    client = openai.OpenAI(base_url=conn.openai_base_url, api_key=..., http_client=conn.http_client())

`connect` fetches `/attestation` with a fresh random nonce over TLS without CA checks (trust
comes from the evidence), appraises it, and checks that the server's certificate key is the
one bound into the report. The returned client's TLS context accepts only that key: a server
presenting any other key fails in the handshake with `KeyMismatch`, before a request is sent.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import http.client
import importlib
import secrets
import ssl
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from attestation import binding, online, release, safejson, verifier
from attestation import policy as policy_mod
from attestation.certs import DECODE_ERRORS
from attestation.claims import ParseError, Verdict, VerificationError
from attestation.evidence import Bundle
from attestation.fetch import CollateralFetcher
from attestation.policy import Policy
from attestation.providers.base import Evidence


class KeyMismatch(VerificationError):
    """The server's TLS key is not the key its attestation report is bound to."""


class AttestationFailed(VerificationError):
    """The evidence did not verify or did not satisfy the policy."""

    def __init__(self, appraisal: Appraisal) -> None:
        failed = [gpu_label(v) + (c.detail or c.name) for v in appraisal.verdicts for c in v.failures()]
        super().__init__("attestation failed: " + "; ".join(failed or ["no checks ran"]))
        self.appraisal = appraisal


class FetchError(VerificationError):
    """`/attestation` could not be fetched or did not return a bundle."""


@dataclass(slots=True)
class Appraisal:
    verdicts: list[Verdict]
    bundle: Bundle | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.verdicts) and all(v.ok for v in self.verdicts)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "verdicts": [v.to_dict() for v in self.verdicts], "notes": self.notes}


def spki_of_cert(cert_der: bytes) -> bytes:
    return (
        x509.load_der_x509_certificate(cert_der)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _root_bytes(root: x509.Certificate | bytes | str | Path) -> bytes:
    if isinstance(root, x509.Certificate):
        return root.public_bytes(serialization.Encoding.PEM)
    return root if isinstance(root, bytes) else Path(root).read_bytes()


def load_root(root: x509.Certificate | bytes | str | Path | None) -> x509.Certificate | None:
    if root is None or isinstance(root, x509.Certificate):
        return root
    data = root if isinstance(root, bytes) else Path(root).read_bytes()
    return x509.load_pem_x509_certificate(data)


def default_policy() -> Policy:
    """What a careful client starts from: the measurement must be in a release manifest signed by a
    trusted release key; debug off, no migration agent, the per-product SNP TCB floor, TDX
    collateral required, GPU measurements appraised."""
    sections = {_SECTION_ATTR[k]: v.careful() for k, v in verifier.VERIFIERS.items()}
    return Policy(**sections, require_release=True)


_SECTION_ATTR = {"sev-snp": "snp", "simulated": "simulated", "tdx": "tdx", "nvidia-gpu": "gpu"}


def failed_verdict(kind: str, name: str, detail: str) -> Verdict:
    return verifier.refused(kind, name, detail)


def optional_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _section(kind: str, pol: Policy | None) -> Any:
    """The policy section for `kind` (a copy the caller may bind), crypto-only when `pol` is None."""
    if pol is None:
        return verifier.VERIFIERS[kind].crypto_only()
    return copy.deepcopy(pol.section(kind))


def _check_cpu(bundle: Bundle, pol: Policy | None, opt: verifier.Options) -> Verdict:
    ev = bundle.cpu
    if verifier.VERIFIERS.get(ev.kind, None) is None or verifier.VERIFIERS[ev.kind].role != "cpu":
        return failed_verdict(ev.kind, "kind", f"{ev.kind!r} is not CPU evidence")
    section = _section(ev.kind, pol)
    if section is None:
        return failed_verdict(ev.kind, "policy", f"Your policy has no [{ev.kind}] section: not accepted")
    try:
        expected_rd = binding.report_data(bundle.tls_spki_der, bundle.nonce, bundle.hpke_public_key)
    except ValueError as e:  # a bundle built in code without an HPKE key or a nonce
        return failed_verdict(ev.kind, "binding", f"Bundle cannot be bound: {e}")
    section.report_data = expected_rd.hex() if ev.kind in ("sev-snp", "simulated") else expected_rd
    if ev.kind == "tdx" and opt.tdx_collateral is None:
        # Yours first, else what the server carried: Intel signs it, so either is authentic.
        try:
            opt = dataclasses.replace(opt, tdx_collateral=bundle.tdx_collateral())
        except ParseError as e:
            return failed_verdict("tdx", "collateral", f"Collateral in the bundle is unreadable: {e}")
    return verifier.verify(ev, section, opt)


GPU_INDEX = "gpu_index"  # the claim naming which GPU (NVML device order) a GPU verdict is about


def gpu_label(v: Verdict) -> str:
    """The prefix "GPU 3: " for a verdict about one GPU, else an empty string."""
    return f"GPU {v.claims[GPU_INDEX]}: " if GPU_INDEX in v.claims else ""


def _no_gpu_evidence(bundle: Bundle, pol: Policy | None) -> Verdict | None:
    """A refusal when GPU evidence is required but absent (None: it is not required)."""
    if bundle.gpu_cc_mode:
        return failed_verdict("nvidia-gpu", "gpu_present", "The server says its GPU is in confidential-"
                              f"computing mode but sent no GPU evidence ({bundle.gpu_reason})")
    if pol is not None and pol.require_gpu:
        return failed_verdict(
            "nvidia-gpu", "gpu_present", f"No GPU evidence ({bundle.gpu_reason}); policy requires it"
        )
    if pol is not None and pol.gpu_count is not None:
        return failed_verdict("gpus", "policy_gpu_count", f"Your policy requires {pol.gpu_count} attested "
                              f"GPU(s); the server sent no GPU evidence ({bundle.gpu_reason})")
    return None


def _check_one_gpu(bundle: Bundle, ev: Evidence, pol: Policy | None, opt: verifier.Options) -> Verdict:
    """One GPU's evidence: the same bound GPU nonce and [nvidia-gpu] section as every other GPU."""
    if ev.kind != "nvidia-gpu":
        return failed_verdict(ev.kind, "kind", f"{ev.kind!r} is not GPU evidence")
    section = _section("nvidia-gpu", pol)
    if section is None:
        return failed_verdict("nvidia-gpu", "policy", "Your policy has no [nvidia-gpu] section: not accepted")
    try:
        nonce = binding.gpu_nonce(bundle.tls_spki_der, bundle.nonce, bundle.hpke_public_key)
    except ValueError as e:
        return failed_verdict("nvidia-gpu", "binding", f"Bundle cannot be bound: {e}")
    return verifier.verify(ev, section, dataclasses.replace(opt, gpu_nonce=nonce))


def _device_keys(ev: Evidence) -> dict[str, bytes]:
    """SHA-256 of what no two GPUs share: the report bytes, the leaf key, the device identity key
    (on Hopper the GSP BROM certificate the GPU was provisioned with, second in its chain)."""
    keys = {"report": hashlib.sha256(ev.report).digest()}
    chain_pem = ev.certs.get("chain") or ev.certs.get("cert") or b""
    try:
        spkis = [c.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
                 for c in x509.load_pem_x509_certificates(chain_pem)[:2]]
    except DECODE_ERRORS:  # unreadable: that GPU's verdict says so; compare the bytes meanwhile
        return {**keys, "certificate chain": hashlib.sha256(chain_pem).digest()}
    names = ("leaf key", "device identity key")
    return {**keys, **{name: hashlib.sha256(spki).digest() for name, spki in zip(names, spkis, strict=False)}}


def _same_devices(gpus: list[Evidence]) -> list[str]:
    """A line "GPU j repeats GPU i (same ...)" for each pair of evidence from one device."""
    seen: dict[tuple[str, bytes], int] = {}
    out = []
    for j, ev in enumerate(gpus):
        shared: dict[int, list[str]] = {}
        for name, digest in _device_keys(ev).items():
            i = seen.setdefault((name, digest), j)
            if i != j:
                shared.setdefault(i, []).append(name)
        out += [f"GPU {j} repeats GPU {i} (same {', '.join(names)})" for i, names in shared.items()]
    return out


def _check_gpu_set(bundle: Bundle, pol: Policy | None) -> Verdict:
    """The GPUs as a set: one evidence per GPU the server counts, each from its own device, and
    as many as the policy pins."""
    v = Verdict("gpus")
    n = len(bundle.gpus)
    v.claims.update({"gpus_attested": n, "gpu_count": bundle.gpu_count})
    if bundle.gpu_count is not None:
        v.add("gpu_count", n == bundle.gpu_count,
              f"Evidence for all {n} GPU(s) the server counts" if n == bundle.gpu_count else
              f"The server counts {bundle.gpu_count} GPU(s) but sent evidence for {n}: "
              + ("the others are not attested" if n < bundle.gpu_count else "evidence it cannot have"))
    repeats = _same_devices(bundle.gpus)
    v.add("distinct_gpus", not repeats,
          "; ".join(repeats) + ": a replay, not another GPU" if repeats else
          f"The {n} GPU report(s) come from {n} different device(s)")
    if pol is not None and pol.gpu_count is not None:
        v.add("policy_gpu_count", n == pol.gpu_count,
              f"{n} attested GPU(s); your policy requires {pol.gpu_count}")
    return v


def _check_gpus(bundle: Bundle, pol: Policy | None, opts: list[verifier.Options]) -> list[Verdict]:
    """A verdict per GPU (claim `gpu_index`), then one about the set; [] when there is no GPU
    evidence and none is required."""
    if not bundle.gpus:
        refusal = _no_gpu_evidence(bundle, pol)
        return [refusal] if refusal is not None else []
    verdicts = []
    for index, (ev, opt) in enumerate(zip(bundle.gpus, opts, strict=True)):
        v = _check_one_gpu(bundle, ev, pol, opt)
        v.claims[GPU_INDEX] = index
        verdicts.append(v)
    return [*verdicts, _check_gpu_set(bundle, pol)]


def appraise(
    bundle: Bundle,
    *,
    policy: Policy | None,
    expected_nonce: bytes | None = None,
    served_spki: bytes | None = None,
    trusted_simulated_root: x509.Certificate | bytes | str | Path | None = None,
    now: datetime | None = None,
    tdx_collateral: Any = None,
    fetcher: CollateralFetcher | None = None,
    trusted_release_keys: list[Any] | None = None,
    manifests: list[Any] | None = None,
) -> Appraisal:
    """Check a bundle: its binding, its CPU evidence, every GPU's evidence. `policy=None` = crypto only.

    With `policy.require_release` the CPU measurement must appear in a release manifest (the
    bundle's own, or `manifests`) signed by a pinned key or one of `trusted_release_keys`; for
    simulated evidence the demo release key in the trusted simulated root file counts too.

    `tdx_collateral` (an `attestation.tdx.TdxCollateral`) replaces collateral the bundle carries.
    `fetcher` (online, or its cache offline) supplies AMD CRLs, Intel collateral, NVIDIA RIMs/OCSP.
    """
    root = load_root(trusted_simulated_root)
    b = Verdict("binding")
    if expected_nonce is not None:
        ok = bundle.nonce == expected_nonce
        b.add("nonce", ok, "Fresh: the server answered your random nonce" if ok else "Stale: not your nonce")
    if served_spki is not None:
        ok = served_spki == bundle.tls_spki_der
        b.add(
            "tls_key_bound",
            ok,
            "The TLS key you are connected to is the one bound into the report"
            if ok
            else "The TLS key you are connected to is NOT the one in the report",
        )
    if bundle.simulated:
        b.add(
            "simulated",
            root is not None,
            "SIMULATED attestation (no real TEE), accepted because you trust the simulated test root"
            if root is not None
            else "SIMULATED attestation (no real TEE): refused unless you pass --trust-simulated-root",
        )
    verdicts = [b] if b.checks else []
    opt = verifier.Options(now=now, roots=verifier.TrustedRoots(simulated=root),
                           tdx_collateral=tdx_collateral)
    fetch_notes: list[str] = []
    gpu_opts = [opt] * len(bundle.gpus)
    if fetcher is not None:
        opt, fetch_notes = online.enrich(bundle, fetcher, opt)
        gpu_opts, gpu_notes = online.enrich_gpus(bundle, fetcher, opt)
        fetch_notes += gpu_notes
    cpu = _check_cpu(bundle, policy, opt)
    verdicts.append(cpu)
    release_notes = []
    if policy is not None and policy.require_release and not cpu.ok:
        release_notes.append("Release manifest not checked: the CPU evidence did not verify")
    elif policy is not None and policy.require_release:
        keys = release.pinned_keys() + list(trusted_release_keys or [])
        if bundle.simulated and trusted_simulated_root is not None:
            keys += release.load_public_keys(_root_bytes(trusted_simulated_root))
        verdicts.append(release.match([*bundle.releases, *(manifests or [])], keys, cpu,
                                      require_transparency=policy.require_transparency))
    appraisal = Appraisal(verdicts, bundle, fetch_notes + release_notes)
    gpu_verdicts = _check_gpus(bundle, policy, gpu_opts)
    verdicts += gpu_verdicts
    if not gpu_verdicts:
        counted = f"; the server counts {bundle.gpu_count} GPU(s)" if bundle.gpu_count else ""
        appraisal.notes.append(
            f"No GPU evidence ({bundle.gpu_reason}{counted}); your policy does not require it"
        )
    elif bundle.gpus and bundle.gpu_count is None:
        appraisal.notes.append("The server does not say how many GPUs it has (an older server): "
                               "only the GPU evidence it sent is checked")
    cpu_policy = policy.section(bundle.cpu.kind) if policy is not None else None
    if policy is not None and cpu_policy is not None and not policy.require_release \
            and not getattr(cpu_policy, "measurements", True):
        appraisal.notes.append(
            "Your policy has no measurement allow-list: any software in a genuine TEE passes"
        )
    return appraisal


def _origin(base_url: str) -> tuple[str, int]:
    u = urllib.parse.urlsplit(base_url)
    if u.scheme != "https" or not u.hostname:
        raise FetchError(f"{base_url!r}: attestation needs an https:// URL")
    return u.hostname, u.port or 443


MAX_BUNDLE_BYTES = 1 << 20  # a bundle with TDX collateral is ~40 KiB
MAX_BUNDLE_DEPTH = 16  # a bundle nests 4 levels deep


def fetch(base_url: str, nonce: bytes, *, timeout: float = 10.0) -> tuple[Bundle, bytes]:
    """GET /attestation?nonce=… without CA checks; return the bundle and the server's certificate (DER)."""
    host, port = _origin(base_url)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # trust comes from the attestation, checked below
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=timeout)
    try:
        conn.request("GET", f"/attestation?nonce={nonce.hex()}")
        assert conn.sock is not None
        cert_der = conn.sock.getpeercert(binary_form=True)
        resp = conn.getresponse()
        body = resp.read(MAX_BUNDLE_BYTES + 1)
    except OSError as e:
        raise FetchError(f"cannot fetch {host}:{port}/attestation: {e}") from e
    finally:
        conn.close()
    if resp.status != 200:
        raise FetchError(f"/attestation answered HTTP {resp.status}: {body[:300]!r}")
    if len(body) > MAX_BUNDLE_BYTES:
        raise FetchError(f"/attestation answer is larger than {MAX_BUNDLE_BYTES} bytes: refused")
    if not cert_der:
        raise FetchError("server presented no certificate")
    try:
        return Bundle.from_json(safejson.loads(body, what="/attestation answer", max_bytes=MAX_BUNDLE_BYTES,
                                               max_depth=MAX_BUNDLE_DEPTH)), cert_der
    except ParseError as e:
        raise FetchError(str(e)) from e


def verify_server(
    base_url: str,
    policy: Policy | str | Path | None = None,
    trusted_simulated_root: x509.Certificate | bytes | str | Path | None = None,
    *,
    now: datetime | None = None,
    timeout: float = 10.0,
    tdx_collateral: Any = None,
    fetcher: CollateralFetcher | None = None,
    check_tls_key: bool = True,
    trusted_release_keys: list[Any] | None = None,
    manifests: list[Any] | None = None,
) -> Appraisal:
    """Fetch and appraise a server's evidence with a fresh nonce (no exception for a failed check)."""
    pol = policy_mod.load(policy) if isinstance(policy, str | Path) else policy
    if pol is None:
        pol = default_policy()
    nonce = secrets.token_bytes(binding.NONCE_SIZE)
    bundle, cert_der = fetch(base_url, nonce, timeout=timeout)
    return appraise(
        bundle,
        policy=pol,
        expected_nonce=nonce,
        served_spki=spki_of_cert(cert_der) if check_tls_key else None,
        trusted_simulated_root=trusted_simulated_root,
        now=now,
        tdx_collateral=tdx_collateral,
        fetcher=fetcher,
        trusted_release_keys=trusted_release_keys,
        manifests=manifests,
    )


def pinned_ssl_context(spki_der: bytes) -> ssl.SSLContext:
    """A client context that completes a handshake only with a certificate carrying `spki_der`."""

    def check(cert_der: bytes | None) -> None:
        if not cert_der or spki_of_cert(cert_der) != spki_der:
            raise KeyMismatch("server TLS key differs from the attested key: refusing to send anything")

    class PinnedSocket(ssl.SSLSocket):
        def do_handshake(self, block: bool = False) -> None:
            super().do_handshake(block)
            try:
                check(self.getpeercert(binary_form=True))
            except KeyMismatch:
                self.close()
                raise

    class PinnedObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            super().do_handshake()
            check(self.getpeercert(binary_form=True))

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_RENEGOTIATION  # TLS 1.2: the pinned session's peer cannot be renegotiated
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the pin replaces CA checks
    ctx.sslsocket_class = PinnedSocket
    ctx.sslobject_class = PinnedObject
    return ctx


@dataclass(slots=True)
class AttestedConnection:
    """A verified server: clients made here seal every request to its attested HPKE key (unless
    `encrypt=False`) and, when `pin_tls`, complete TLS only with its attested key."""

    base_url: str
    spki_der: bytes
    appraisal: Appraisal
    hpke_public_key: bytes = b""
    encrypt: bool = True
    pin_tls: bool = True
    verify: Any = True  # TLS verification when not pinned: True (system CAs) or an SSLContext

    @property
    def openai_base_url(self) -> str:
        url = self.base_url.rstrip("/")
        return url if url.endswith("/v1") else url + "/v1"

    def ssl_context(self) -> Any:
        return pinned_ssl_context(self.spki_der) if self.pin_tls else self.verify

    def http_client(self, **kwargs: Any) -> Any:
        """An `httpx2.Client` (what `openai.OpenAI(http_client=...)` takes) for the attested server.

        It sends only to the attested origin over https: a plain-HTTP URL or a redirect to another
        host, port or scheme raises `encrypted_client.OriginRefused` before anything is sent."""
        from attestation import encrypted_client

        key = self.hpke_public_key if self.encrypt else None
        return encrypted_client.sync_client(key, self.ssl_context(), origin=self.base_url, **kwargs)

    def async_http_client(self, **kwargs: Any) -> Any:
        from attestation import encrypted_client

        key = self.hpke_public_key if self.encrypt else None
        return encrypted_client.async_client(key, self.ssl_context(), origin=self.base_url, **kwargs)


def connect(
    base_url: str,
    policy: Policy | str | Path | None = None,
    trusted_simulated_root: x509.Certificate | bytes | str | Path | None = None,
    *,
    now: datetime | None = None,
    timeout: float = 10.0,
    tdx_collateral: Any = None,
    fetcher: CollateralFetcher | None = None,
    encrypt: bool = True,
    pin_tls: bool = True,
    verify: Any = True,
    trusted_release_keys: list[Any] | None = None,
    manifests: list[Any] | None = None,
) -> AttestedConnection:
    """Verify `base_url`'s attestation, then return a connection to it.

    By default requests are sealed to the attested HPKE key (docs/encrypted-requests.md) and TLS
    is pinned to the attested TLS key. `pin_tls=False` is for a path through a TLS-terminating
    balancer or relay (its certificate checked with `verify`): the attested TLS key is then not
    the one you reach, so encryption is what keeps prompts private and `encrypt` must stay on.

    Raises `KeyMismatch` if the served key is not the bound one (when pinned), `AttestationFailed`
    for any other failed check, `FetchError` if the evidence cannot be fetched.
    """
    if not pin_tls and not encrypt:
        raise ValueError("without TLS pinning only encrypted requests are private: keep encrypt=True")
    appraisal = verify_server(
        base_url, policy, trusted_simulated_root, now=now, timeout=timeout, tdx_collateral=tdx_collateral,
        fetcher=fetcher, check_tls_key=pin_tls, trusted_release_keys=trusted_release_keys,
        manifests=manifests,
    )
    bound = next((c for v in appraisal.verdicts for c in v.checks if c.name == "tls_key_bound"), None)
    if bound is not None and not bound.ok:
        raise KeyMismatch(bound.detail)
    if not appraisal.ok:
        raise AttestationFailed(appraisal)
    assert appraisal.bundle is not None
    return AttestedConnection(base_url, appraisal.bundle.tls_spki_der, appraisal,
                              appraisal.bundle.hpke_public_key, encrypt, pin_tls, verify)
