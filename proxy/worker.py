"""One `--workers` worker: `python -m proxy.worker FD`, started by `proxy.supervisor` only.

It reads its `Handoff` from stdin, serves the tenant app on the listening socket FD that the
supervisor bound for it (one of the port's SO_REUSEPORT group), serves its own metrics on a
private Unix socket for the supervisor to aggregate, writes `ready` on stdout, and runs until
SIGTERM (draining in-flight requests and flushing usage) or until its supervisor is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import threading
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from proxy.handoff import Handoff, load_identity

log = logging.getLogger("teecube.proxy.worker")
_PR_SET_PDEATHSIG = 1


def exit_with_parent(parent_pid: int) -> None:
    """SIGTERM when the supervisor dies (Linux), a polling thread as well (any platform, and the
    race where it died before prctl ran)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(60.0)  # the drain had its chance
        os._exit(1)

    threading.Thread(target=watch, name="teecube-proxy-parent", daemon=True).start()


def _metrics_app(metrics) -> web.Application:  # type: ignore[no-untyped-def]
    async def render(request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", render)
    return app


async def run(handoff: Handoff, sock: socket.socket, shutdown_timeout: float = 30.0) -> None:
    from proxy.app import create_app
    from proxy.encryption import Encryption
    from proxy.listener import HardenedRunner
    from proxy.state import METRICS

    config = handoff.config
    extra, identity, ssl_context = [], None, None
    if handoff.identity is not None:
        from attestation.providers.auto import select_gpu_provider, select_provider
        from attestation.server import attestation_routes

        identity = load_identity(handoff.identity)
        ssl_context = identity.ssl_context()
        extra = attestation_routes(
            select_provider(config.tee, state_dir=config.state_dir), select_gpu_provider(), identity
        )
    app = create_app(
        config, extra_routes=extra, encryption=Encryption(identity.hpke_key) if identity is not None else None
    )
    shared = None
    if handoff.connections is not None:
        from proxy.connection_table import SharedConnections

        assert config.worker_index is not None, "a worker's handoff names its index"
        shared = SharedConnections(handoff.connections, config.worker_index)
    runner = HardenedRunner(
        app,
        header_timeout=config.header_timeout,
        max_connections_per_address=config.max_connections_per_address,
        shared_connections=shared,
        handler_cancellation=True,
        shutdown_timeout=shutdown_timeout,
    )
    await runner.setup()
    await web.SockSite(runner, sock, ssl_context=ssl_context, backlog=1024).start()
    if config.worker_index == 0 and config.console_socket:  # the other workers relay /console here
        with contextlib.suppress(FileNotFoundError):
            os.unlink(config.console_socket)
        await web.UnixSite(runner, config.console_socket).start()
    metrics_runner = web.AppRunner(_metrics_app(app[METRICS]), access_log=None)
    await metrics_runner.setup()
    await web.UnixSite(metrics_runner, handoff.metrics_socket).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    os.write(1, b"ready\n")
    os.dup2(2, 1)  # nothing else goes to the supervisor's pipe
    await stop.wait()
    await runner.cleanup()  # stops accepting, drains, runs the app's cleanup (usage flush)
    await metrics_runner.cleanup()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the process group: the supervisor stops us
    handoff = Handoff.loads(sys.stdin.buffer.read())
    exit_with_parent(handoff.parent_pid)
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s %(levelname)s %(name)s[w{handoff.config.worker_index}] %(message)s",
    )
    sock = socket.socket(fileno=int(argv[0]))
    try:
        asyncio.run(run(handoff, sock))
    except Exception as exc:  # start-up failures: one line, no traceback
        log.error("worker %s failed: %s: %s", handoff.config.worker_index, type(exc).__name__, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
