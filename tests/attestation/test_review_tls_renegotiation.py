"""TLS 1.2 renegotiation is refused on both ends of the attested channel: the client's pinned context
checks the peer's key at the handshake, and the server has no use for a client-initiated renegotiation
(a CPU-cost lever). TLS 1.3 has no renegotiation at all."""

from __future__ import annotations

import ssl

from attestation import client, tls


def test_the_pinned_client_context_refuses_renegotiation() -> None:
    ctx = client.pinned_ssl_context(b"spki")
    assert ctx.options & ssl.OP_NO_RENEGOTIATION
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_the_attested_server_context_refuses_renegotiation(sim) -> None:  # type: ignore[no-untyped-def]
    ctx = tls.TlsIdentity.generate(["127.0.0.1"], sim).ssl_context()
    assert ctx.options & ssl.OP_NO_RENEGOTIATION
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
