"""Sigstore bundles for release manifests, verified offline with sigstore-python (optional extra).

A release pipeline may sign the manifest bytes (the envelope's payload) with Sigstore too:
`sigstore sign` in the release workflow gets a short-lived Fulcio certificate for the
workflow's OIDC identity and logs the signature in Rekor, Sigstore's append-only transparency
log. The bundle (`application/vnd.dev.sigstore.bundle.v0.3+json`) carries the certificate,
the signature and the Rekor entry with its inclusion proof and signed checkpoint, so it can be
checked without the network: the certificate chains to the Fulcio roots in a pinned
`trusted_root.json`, the entry's inclusion proof leads to a checkpoint signed by a pinned Rekor
key, the signature covers the manifest bytes, and the certificate names the expected identity
(SAN) and OIDC issuer. That is sigstore-python's `Verifier.verify_artifact`; this module only
pins its inputs and maps its failures onto `SigstoreError`.

sigstore-python is imported lazily: without it (`pip install 'teecube[sigstore]'`),
`verify_bundle` raises `SigstoreUnavailable` and callers decide whether that is fatal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from attestation import safejson
from attestation.claims import VerificationError

ROOTS = Path(__file__).resolve().parent / "roots"
TRUSTED_ROOT = ROOTS / "sigstore" / "trusted_root.json"  # Sigstore public-good instance
RELEASE_IDENTITY = ROOTS / "release" / "sigstore-identity.json"
MAX_BUNDLES = 4
MAX_BUNDLE_BYTES = 64 << 10


class SigstoreError(VerificationError):
    """A Sigstore bundle does not verify, or names another signer."""


class SigstoreUnavailable(SigstoreError):
    """sigstore-python is not installed: bundles cannot be checked."""


@dataclass(frozen=True, slots=True)
class SigstoreIdentity:
    """Who must have signed: the certificate's OIDC issuer and its SAN (exact or a regex)."""

    issuer: str
    identity: str | None = None
    identity_regex: str | None = None
    trusted_root: Path = TRUSTED_ROOT

    def __post_init__(self) -> None:
        if (self.identity is None) == (self.identity_regex is None):
            raise ValueError("Sigstore identity: give exactly one of identity and identity_regex")
        if self.identity_regex is not None:
            re.compile(self.identity_regex)

    @classmethod
    def from_dict(cls, d: dict[str, Any], base: Path | None = None) -> SigstoreIdentity:
        unknown = set(d) - {"issuer", "identity", "identity_regex", "trusted_root", "comment"}
        if unknown or not isinstance(d.get("issuer"), str):
            raise ValueError(f"Sigstore identity: needs 'issuer'; unknown keys {sorted(unknown)}")
        root = Path(d["trusted_root"]) if d.get("trusted_root") else TRUSTED_ROOT
        if base is not None and not root.is_absolute():
            root = base / root
        return cls(d["issuer"], d.get("identity"), d.get("identity_regex"), root)

    def describe(self) -> str:
        return f"{self.identity or '/' + str(self.identity_regex) + '/'} (issuer {self.issuer})"


@cache
def pinned_identity() -> SigstoreIdentity | None:
    """The release workflow's identity shipped with the client, if any."""
    if not RELEASE_IDENTITY.exists():
        return None
    d = safejson.loads(RELEASE_IDENTITY.read_bytes(), what="Sigstore release identity")
    if not isinstance(d, dict):
        raise ValueError(f"{RELEASE_IDENTITY}: expected a JSON object")
    return SigstoreIdentity.from_dict(d, RELEASE_IDENTITY.parent)


def available() -> bool:
    try:
        import sigstore.verify  # noqa: F401
    except ImportError:
        return False
    return True


class _SanMatches:
    """A sigstore-python verification policy: some SAN (URI, e-mail) fully matches a regex."""

    def __init__(self, pattern: str) -> None:
        self._re = re.compile(pattern)

    def verify(self, cert: Any) -> None:
        from cryptography import x509

        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [*san.get_values_for_type(x509.UniformResourceIdentifier),
                 *san.get_values_for_type(x509.RFC822Name)]
        if not any(self._re.fullmatch(n) for n in names):
            from sigstore.errors import VerificationError as SigstoreVerificationError

            raise SigstoreVerificationError(f"certificate SANs {names} do not match /{self._re.pattern}/")


def verify_bundle(bundle: Any, artifact: bytes, who: SigstoreIdentity) -> dict[str, Any]:
    """Verify one bundle (parsed JSON) over `artifact`, offline. Returns what the log says.

    Raises SigstoreUnavailable without sigstore-python, SigstoreError for anything else wrong."""
    try:
        from sigstore.models import Bundle, TrustedRoot
        from sigstore.verify import Verifier, policy
    except ImportError as e:
        raise SigstoreUnavailable(
            "a Sigstore bundle is attached but sigstore-python is not installed "
            "(pip install 'teecube[sigstore]')") from e
    if not isinstance(bundle, dict):
        raise SigstoreError("Sigstore bundle must be a JSON object")
    raw = json.dumps(bundle).encode()
    if len(raw) > MAX_BUNDLE_BYTES:
        raise SigstoreError("Sigstore bundle too large")
    try:
        trusted_root = TrustedRoot.from_file(str(who.trusted_root))
    except Exception as e:  # any failure reading the pinned root is fatal, reported as ours
        raise SigstoreError(f"Sigstore trusted root {who.trusted_root} unreadable: {e}") from e
    san: Any = (policy.Identity(identity=who.identity, issuer=who.issuer) if who.identity is not None
                else policy.AllOf([policy.OIDCIssuer(who.issuer), _SanMatches(str(who.identity_regex))]))
    try:
        parsed = Bundle.from_json(raw)
        Verifier(trusted_root=trusted_root).verify_artifact(artifact, parsed, san)
        entry = parsed.log_entry._inner
        return {"log": "rekor", "log_index": int(entry.log_index),
                "integrated_time": int(entry.integrated_time or 0), "signer": who.describe()}
    except Exception as e:  # sigstore, pydantic, cryptography errors: all "refused"
        first = (str(e).splitlines() or [""])[0][:300]
        raise SigstoreError(f"Sigstore bundle refused: {type(e).__name__}: {first}") from e
