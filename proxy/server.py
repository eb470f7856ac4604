"""Running the proxy: TLS identity and attestation routes, then the aiohttp site."""

from __future__ import annotations

import asyncio
import base64
import logging
import signal
import ssl
from typing import Any

from aiohttp import web

from proxy.app import create_app
from proxy.config import ProxyConfig
from proxy.encryption import Encryption
from proxy.listener import HardenedRunner
from proxy.operator_listener import create_metrics_app
from proxy.state import METRICS

log = logging.getLogger("teecube.proxy")


def attested_tls(config: ProxyConfig) -> tuple[ssl.SSLContext, list[Any], Any]:
    """Generate the TLS key inside the TEE and the routes that serve its evidence."""
    from attestation.providers.auto import select_gpu_provider, select_provider
    from attestation.server import attestation_routes
    from attestation.tls import TlsIdentity, key_path, load_or_create_key

    provider = select_provider(config.tee, state_dir=config.state_dir)
    gpu = select_gpu_provider()
    if config.tls_cert_chain:  # CSR flow: the key made in this TEE earlier, a CA's certificate
        key = load_or_create_key(key_path(config.state_dir), create=False)
        identity = TlsIdentity.generate(config.public_hosts, provider, gpu, key=key)
        with open(config.tls_cert_chain, "rb") as f:
            identity = identity.with_chain(f.read())
    else:
        identity = TlsIdentity.generate(config.public_hosts, provider, gpu)
    return identity.ssl_context(), attestation_routes(provider, gpu, identity), identity


async def serve(config: ProxyConfig, *, ready: asyncio.Event | None = None,
                stop: asyncio.Event | None = None, shutdown_timeout: float = 30.0,
                info: dict[str, str] | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or `stop`), then drain in-flight requests and flush usage.
    With `config.workers` > 1 this process supervises that many workers (`proxy.supervisor`)."""
    ssl_context, extra, identity = (None, [], None)
    if config.tls:
        ssl_context, extra, identity = attested_tls(config)
    if config.workers > 1:
        await _serve_workers(config, identity, ready=ready, stop=stop, shutdown_timeout=shutdown_timeout,
                             info=info)
        return
    app = create_app(config, extra_routes=extra,
                     encryption=Encryption(identity.hpke_key) if identity is not None else None)
    runner = HardenedRunner(app, header_timeout=config.header_timeout,
                            max_connections_per_address=config.max_connections_per_address,
                            handler_cancellation=True, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, ssl_context=ssl_context, backlog=1024)
    await site.start()
    scheme = "https" if ssl_context else "http"
    log.info("proxy listening on %s://%s:%s", scheme, config.host, config.port)
    metrics_runner = await _metrics_listener(config, app[METRICS])
    if identity is not None:
        log.info("TLS identity %s", identity.describe())
        if info is not None:
            info["spki_der_b64"] = base64.b64encode(identity.spki_der).decode()
    stop = _stop_on_signals(stop)
    if ready is not None:
        ready.set()
    await stop.wait()
    log.info("proxy shutting down")
    await runner.cleanup()
    if metrics_runner is not None:
        await metrics_runner.cleanup()


def _stop_on_signals(stop: asyncio.Event | None) -> asyncio.Event:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    return stop


async def _metrics_listener(config: ProxyConfig, metrics: Any) -> HardenedRunner | None:
    """The operator /metrics listener, or None where it is off or its port is taken."""
    if config.metrics_port is None:
        return None
    app = create_metrics_app(metrics, config.operator_token, config.metrics_host,
                             metrics_token=config.metrics_token,
                             auth_failure_limit=config.auth_failure_limit)
    runner = HardenedRunner(app, header_timeout=config.header_timeout,
                            max_connections_per_address=config.max_connections_per_address)
    await runner.setup()
    try:
        await web.TCPSite(runner, config.metrics_host, config.metrics_port).start()
        log.info("metrics listening on http://%s:%s/metrics", config.metrics_host, config.metrics_port)
    except OSError as exc:  # metrics are not worth refusing tenants over
        log.error("metrics listener could not bind %s:%s (%s); serving without it",
                  config.metrics_host, config.metrics_port, exc.strerror)
    return runner


async def _serve_workers(config: ProxyConfig, identity: Any, *, ready: asyncio.Event | None,
                         stop: asyncio.Event | None, shutdown_timeout: float,
                         info: dict[str, str] | None) -> None:
    from proxy.supervisor import Supervisor

    stop = _stop_on_signals(stop)
    supervisor = Supervisor(config, identity, shutdown_timeout)
    metrics_runner = None
    try:
        await supervisor.start()
        scheme = "https" if config.tls else "http"
        log.info("proxy listening on %s://%s:%s with %d workers", scheme, config.host, config.port,
                 config.workers)
        metrics_runner = await _metrics_listener(config, supervisor.worker_metrics())
        if identity is not None:
            log.info("TLS identity %s", identity.describe())
            if info is not None:
                info["spki_der_b64"] = base64.b64encode(identity.spki_der).decode()
        if ready is not None:
            ready.set()
        await supervisor.run(stop)
    finally:
        await supervisor.shutdown()
        if metrics_runner is not None:
            await metrics_runner.cleanup()
