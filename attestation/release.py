"""Signed release manifests: which launch measurements belong to which teecube release.

A release is built reproducibly; `deploy/cvm/release_manifest.py` computes its expected launch
measurements (SEV-SNP per vCPU type and count, TDX MRTD/RTMRs) and writes a manifest, signed
with the release key. Clients pin the release public keys (`attestation/roots/release/*.pem`,
plus any passed explicitly) and, by default, accept a server only if its measurement appears in
a manifest signed by a pinned key: "the software is a published teecube release", not "the same
as what this server showed me once".

Envelope (JSON):

    {"format": "teecube-release/1",
     "payload": "<base64 of the manifest JSON bytes>",
     "signatures": [{"key_id": "<hex SHA-256(raw public key)[:16]>", "algorithm": "ed25519",
                     "signature": "<base64 Ed25519 over 'teecube-release-manifest-v1\\0' ‖ payload bytes>"}],
     "sigstore": [<Sigstore bundle v0.3 over the payload bytes>, ...]}   # optional

The Ed25519 signature by a pinned key is always required. A Sigstore bundle, where one is
attached, must verify too (offline, `attestation.sigstore_bundle`, against the pinned release
workflow identity): it puts the manifest in Rekor's append-only log, so a release key used
behind the project's back leaves a public trace. `require_transparency` makes the bundle
mandatory; without sigstore-python a bundle is reported as unchecked unless it is mandatory.

The manifest (inside `payload`): `{"format": "teecube-release-manifest/1", "version", "created",
"source", "images": {name: "sha256:<hex>"}, "measurements": [{"platform": "sev-snp" | "tdx" |
"simulated", ...}]}`. Signatures cover the exact payload bytes: nothing is re-serialised.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from attestation import safejson, sigstore_bundle
from attestation.claims import Verdict, VerificationError
from attestation.sigstore_bundle import SigstoreIdentity, SigstoreUnavailable

ENVELOPE_FORMAT = "teecube-release/1"
MANIFEST_FORMAT = "teecube-release-manifest/1"
SIGNING_LABEL = b"teecube-release-manifest-v1\x00"
PINNED_DIR = Path(__file__).resolve().parent / "roots" / "release"
PLATFORMS = ("sev-snp", "tdx", "simulated")
_TDX_FIELDS = ("mr_td", "rtmr0", "rtmr1", "rtmr2")


class ReleaseError(VerificationError):
    """A release manifest is malformed or not signed by a trusted release key."""


def key_id(public_key: ed25519.Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_keys(data: bytes) -> list[ed25519.Ed25519PublicKey]:
    """Every Ed25519 `PUBLIC KEY` block in a PEM file (other blocks, e.g. certificates, are skipped)."""
    keys = []
    for block in data.split(b"-----BEGIN ")[1:]:
        if not block.startswith(b"PUBLIC KEY-----"):
            continue
        pem = b"-----BEGIN " + block.split(b"-----END PUBLIC KEY-----")[0] + b"-----END PUBLIC KEY-----\n"
        try:
            key = serialization.load_pem_public_key(pem)
        except ValueError as e:
            raise ReleaseError(f"release key unreadable: {e}") from e
        if isinstance(key, ed25519.Ed25519PublicKey):
            keys.append(key)
    return keys


def pinned_keys() -> list[ed25519.Ed25519PublicKey]:
    """The release keys shipped with the client (`attestation/roots/release/*.pem`)."""
    return [k for f in sorted(PINNED_DIR.glob("*.pem")) for k in load_public_keys(f.read_bytes())]


def pinned_labels() -> dict[str, str]:
    """Key id → the name of the pinned file holding it (e.g. "teecube-development")."""
    files = sorted(PINNED_DIR.glob("*.pem"))
    return {key_id(k): f.stem for f in files for k in load_public_keys(f.read_bytes())}


def is_development(label: str | None) -> bool:
    return bool(label) and "development" in str(label)


def public_pem(key: ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, ed25519.Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def new_manifest(version: str, measurements: list[dict[str, Any]], *, images: dict[str, str] | None = None,
                 source: dict[str, str] | None = None, created: datetime | None = None) -> dict[str, Any]:
    for m in measurements:
        _check_entry(m)
    return {
        "format": MANIFEST_FORMAT,
        "version": version,
        "created": (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": source or {},
        "images": images or {},
        "measurements": measurements,
    }


def sign(manifest: dict[str, Any], key: ed25519.Ed25519PrivateKey) -> dict[str, Any]:
    payload = json.dumps(manifest, indent=2, sort_keys=True).encode()
    return {
        "format": ENVELOPE_FORMAT,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"key_id": key_id(key.public_key()), "algorithm": "ed25519",
                        "signature": base64.b64encode(key.sign(SIGNING_LABEL + payload)).decode()}],
    }


def _hex(v: Any, size: int, what: str) -> str:
    if not isinstance(v, str) or len(v) != 2 * size:
        raise ReleaseError(f"manifest {what}: expected {2 * size} hex digits")
    try:
        bytes.fromhex(v)
    except ValueError as e:
        raise ReleaseError(f"manifest {what}: not hex") from e
    return v.lower()


def _check_entry(m: Any) -> None:
    if not isinstance(m, dict) or m.get("platform") not in PLATFORMS:
        raise ReleaseError(f"manifest measurement entry must name a platform in {PLATFORMS}")
    if m["platform"] == "tdx":
        for f in _TDX_FIELDS:
            _hex(m.get(f), 48, f)
    else:
        _hex(m.get("measurement"), 48, "measurement")


@dataclass(frozen=True, slots=True)
class Release:
    """A manifest whose signature verified, and the key that signed it."""

    manifest: dict[str, Any]
    key_id: str
    transparency: dict[str, Any] | None = None  # the verified Rekor entry of a Sigstore bundle
    note: str = ""  # e.g. a bundle that could not be checked

    @property
    def version(self) -> str:
        return str(self.manifest.get("version"))

    def entry_for(self, verdict: Verdict) -> dict[str, Any] | None:
        """The manifest entry the verified CPU evidence matches, or None."""
        c = verdict.claims
        entries: list[dict[str, Any]] = self.manifest["measurements"]  # each checked by _check_entry
        for m in entries:
            if m["platform"] != verdict.kind:
                continue
            if verdict.kind == "tdx":
                rtmrs = c.get("rtmrs") or []
                got = [c.get("mr_td"), *(rtmrs[:3] if len(rtmrs) >= 3 else [None] * 3)]
                if [m[f].lower() for f in _TDX_FIELDS] == got:
                    return m
            elif m["measurement"].lower() == c.get("measurement"):
                return m
        return None


def verify(envelope: Any, trusted: list[ed25519.Ed25519PublicKey], *,
           sigstore_identity: SigstoreIdentity | None = None, require_transparency: bool = False) -> Release:
    """Check an envelope's signature against `trusted` keys, its Sigstore bundles against
    `sigstore_identity` (where attached) and the manifest's shape. Raises ReleaseError."""
    if not isinstance(envelope, dict) or envelope.get("format") != ENVELOPE_FORMAT:
        raise ReleaseError(f"not a {ENVELOPE_FORMAT} envelope")
    try:
        payload = base64.b64decode(envelope["payload"], validate=True)
        sigs = envelope["signatures"]
        if not isinstance(sigs, list):
            raise TypeError("signatures must be a list")
    except (KeyError, TypeError, ValueError) as e:
        raise ReleaseError(f"release envelope malformed: {e}") from e
    by_id = {key_id(k): k for k in trusted}
    signer = None
    for sig in sigs:
        if not isinstance(sig, dict) or sig.get("algorithm") != "ed25519":
            continue
        key = by_id.get(str(sig.get("key_id")))
        if key is None:
            continue
        try:
            key.verify(base64.b64decode(str(sig.get("signature")), validate=True), SIGNING_LABEL + payload)
        except (InvalidSignature, ValueError):
            continue
        signer = sig["key_id"]
        break
    if signer is None:
        ids = [s.get("key_id") for s in sigs if isinstance(s, dict)]
        raise ReleaseError(f"release manifest not signed by a trusted release key (signed by {ids})")
    manifest = safejson.loads(payload, what="release manifest", max_bytes=1 << 20)
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ReleaseError(f"release payload is not a {MANIFEST_FORMAT}")
    if not isinstance(manifest.get("measurements"), list) or not isinstance(manifest.get("version"), str):
        raise ReleaseError("release manifest lacks version or measurements")
    for m in manifest["measurements"]:
        _check_entry(m)
    transparency, note = _transparency(envelope.get("sigstore"), payload, sigstore_identity,
                                       require_transparency)
    return Release(manifest, signer, transparency, note)


def _transparency(bundles: Any, payload: bytes, who: SigstoreIdentity | None,
                  required: bool) -> tuple[dict[str, Any] | None, str]:
    if bundles is None:
        bundles = []
    if not isinstance(bundles, list) or len(bundles) > sigstore_bundle.MAX_BUNDLES:
        raise ReleaseError(f"release envelope: 'sigstore' must be a list of at most "
                           f"{sigstore_bundle.MAX_BUNDLES} bundles")
    if not bundles:
        if required:
            raise ReleaseError("release manifest has no Sigstore bundle (transparency log entry)")
        return None, ""
    if who is None:
        if required:
            raise ReleaseError("no Sigstore identity to check the manifest's bundle against")
        return None, "Sigstore bundle attached but no signer identity is pinned: not checked"
    errors = []
    for bundle in bundles:
        try:
            return sigstore_bundle.verify_bundle(bundle, payload, who), ""
        except SigstoreUnavailable as e:
            if required:
                raise ReleaseError(str(e)) from e
            return None, f"Sigstore bundle not checked: {e}"
        except VerificationError as e:
            errors.append(str(e))
    raise ReleaseError(f"release manifest's Sigstore bundle does not verify for {who.describe()}: "
                       + "; ".join(errors))


def match(envelopes: list[Any], trusted: list[ed25519.Ed25519PublicKey], cpu: Verdict, *,
          sigstore_identity: SigstoreIdentity | bool | None = True,
          require_transparency: bool = False) -> Verdict:
    """The `release` verdict: does the verified CPU evidence appear in a trusted, signed manifest?

    `sigstore_identity=True` (the default) checks attached Sigstore bundles against the pinned
    release workflow identity (`attestation/roots/release/sigstore-identity.json`)."""
    who = sigstore_bundle.pinned_identity() if sigstore_identity is True else sigstore_identity or None
    v = Verdict("release")
    if not cpu.ok:
        v.add("release", False, "Not checked: the CPU evidence did not verify")
        return v
    if not trusted:
        v.add("release", False, "No trusted release key: pin one (attestation/roots/release) or pass one")
        return v
    errors = []
    for env in envelopes:
        try:
            rel = verify(env, trusted, sigstore_identity=who, require_transparency=require_transparency)
        except VerificationError as e:
            errors.append(str(e))
            continue
        entry = rel.entry_for(cpu)
        if entry is not None:
            label = pinned_labels().get(rel.key_id)
            v.claims.update(release=rel.version, release_key=rel.key_id + (f" ({label})" if label else ""),
                            release_entry=entry)
            if rel.transparency:
                v.claims["release_transparency"] = rel.transparency
            detail = ", ".join(f"{k}={entry[k]}" for k in ("vcpu_type", "vcpus") if k in entry)
            dev = " — a DEVELOPMENT key: not a production release" if is_development(label) else ""
            v.add("release", True, f"Measurement is in the signed manifest of teecube {rel.version} "
                  f"(release key {rel.key_id}{'; ' + detail if detail else ''}){dev}")
            if rel.transparency:
                t = rel.transparency
                when = (datetime.fromtimestamp(t["integrated_time"], UTC).strftime("%Y-%m-%d %H:%M:%SZ")
                        if t["integrated_time"] else "no integration time")
                v.add("transparency", True, f"The manifest is in Sigstore's transparency log (Rekor entry "
                      f"{t['log_index']}, {when}), signed by {t['signer']}")
            elif rel.note:
                v.claims["release_note"] = rel.note
            return v
        errors.append(f"teecube {rel.version}: measurement not listed")
    v.add("release", False, "Measurement is not in any release manifest signed by a trusted key"
          + (f" ({'; '.join(errors)})" if errors else " (no manifest given)"))
    return v
