"""Serve an app until SIGTERM/SIGINT, then shut down gracefully.

On the signal: stop accepting, let in-flight requests finish for up to shutdown_timeout seconds,
cancel (and so abort) what is left, shut the engine down (app cleanup), return.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import stat
from collections.abc import Callable

from aiohttp import web

from engine.server.settings import ServerConfig
from engine.server.state import STATE

log = logging.getLogger("engine.server")
SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def start_site(runner: web.AppRunner, config: ServerConfig) -> web.BaseSite:
    site: web.BaseSite
    if config.uds:
        if os.path.exists(config.uds) and stat.S_ISSOCK(os.stat(config.uds).st_mode):
            os.unlink(config.uds)  # a stale socket from an earlier run
        site = web.UnixSite(runner, config.uds)
    else:
        site = web.TCPSite(runner, config.host, config.port, ssl_context=config.ssl_context)
    await site.start()
    if config.uds:
        os.chmod(config.uds, 0o660)
    return site


def make_runner(app: web.Application, config: ServerConfig) -> web.AppRunner:
    """handler_cancellation: a client that disconnects cancels its handler, which aborts its request."""
    return web.AppRunner(app, handler_cancellation=True, shutdown_timeout=config.shutdown_timeout)


async def serve(
    app: web.Application, config: ServerConfig, on_ready: Callable[[str], None] | None = None
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in SIGNALS:  # a signal during start-up lets the model finish loading, then exits cleanly
        loop.add_signal_handler(sig, stop.set)
    runner = make_runner(app, config)
    log.info("starting: loading the model")
    try:
        await runner.setup()  # starts the engine (loads the model)
    except BaseException:
        _remove_signal_handlers(loop)
        raise
    try:
        if not stop.is_set():
            site = await start_site(runner, config)
            scheme = "https" if config.ssl_context else "http"
            where = config.uds or f"{scheme}://{config.host}:{config.port}"
            log.info("serving %s on %s", ", ".join(app[STATE].model_names), where)
            if on_ready is not None:
                on_ready(site.name)
            await stop.wait()
        in_flight = app[STATE].admission.in_flight
        log.info(
            "shutting down: %d requests in flight, up to %.0f s to finish", in_flight, config.shutdown_timeout
        )
    finally:
        _remove_signal_handlers(loop)
        await runner.cleanup()
        if config.uds and os.path.exists(config.uds):
            os.unlink(config.uds)
    log.info("shut down")


def _remove_signal_handlers(loop: asyncio.AbstractEventLoop) -> None:
    for sig in SIGNALS:
        loop.remove_signal_handler(sig)
