"""What the supervisor hands each worker (over the worker's stdin pipe, never argv or env):
its configuration and the one attested TLS identity, so every worker serves the same key,
certificate and HPKE key that the attestation evidence binds."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Any

from proxy.config import ProxyConfig
from proxy.connection_table import TableHandle


@dataclass(slots=True)
class Handoff:
    config: ProxyConfig
    identity: dict[str, Any] | None = field(repr=False)  # dump_identity() (private keys); None without TLS
    metrics_socket: str  # where this worker serves its own /metrics to the supervisor
    parent_pid: int
    connections: TableHandle | None = None  # the shared per-address connection table (proxy.connection_table)

    def dumps(self) -> bytes:
        return pickle.dumps(self)

    @staticmethod
    def loads(blob: bytes) -> Handoff:
        # The blob comes from our own parent through a pipe only it holds.
        handoff = pickle.loads(blob)  # noqa: S301
        if not isinstance(handoff, Handoff):
            raise TypeError("not a proxy worker handoff")
        return handoff


def dump_identity(identity: Any) -> dict[str, Any]:
    """A `TlsIdentity` as bytes and strings (its key objects do not pickle)."""
    from cryptography.hazmat.primitives import serialization

    key_pem = identity.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    hpke_raw = identity.hpke_key.private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return {
        "key_pem": key_pem,
        "cert_pem": identity.cert_pem,
        "spki_der": identity.spki_der,
        "start_nonce": identity.start_nonce,
        "bundle": identity.bundle.dumps(),
        "hpke": hpke_raw,
        "chain_pem": identity.chain_pem,
    }


def load_identity(data: dict[str, Any]) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import x25519

    from attestation import evidence, hpke
    from attestation.tls import TlsIdentity

    key = serialization.load_pem_private_key(data["key_pem"], password=None)
    bundle = evidence.Bundle.loads(data["bundle"])
    return TlsIdentity(
        key,
        x509.load_pem_x509_certificate(data["cert_pem"].encode()),
        data["spki_der"],  # type: ignore[arg-type]
        data["start_nonce"],
        bundle,
        hpke.KeyPair(x25519.X25519PrivateKey.from_private_bytes(data["hpke"])),
        data["chain_pem"],
    )
