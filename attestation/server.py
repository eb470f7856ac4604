"""`GET /attestation?nonce=<64 hex>`: the route factory the proxy mounts."""

from __future__ import annotations

import asyncio
import functools

from aiohttp import web

from attestation import binding, evidence
from attestation.providers.base import GpuProvider, Provider
from attestation.tls import TlsIdentity


def _error(status: int, message: str, code: str, param: str | None = None) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    return web.json_response(body, status=status)


def attestation_routes(
    provider: Provider, gpu_provider: GpuProvider | None, tls_identity: TlsIdentity
) -> list[web.RouteDef]:
    async def get_attestation(request: web.Request) -> web.Response:
        try:
            nonce = binding.parse_nonce(request.query.get("nonce"))
        except binding.BadNonce as e:
            return _error(400, f"{e}: GET /attestation?nonce=<64 hex characters>", "invalid_nonce", "nonce")
        bundle = await asyncio.to_thread(
            functools.partial(evidence.collect, provider, gpu_provider, tls_identity.spki_der, nonce,
                              tls_identity.cert_pem, hpke_public_key=tls_identity.hpke_key.public_bytes)
        )
        return web.json_response(bundle.to_json(), headers={"Cache-Control": "no-store"})

    return [web.get("/attestation", get_attestation)]
