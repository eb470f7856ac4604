"""`--workers N`: N proxy processes behind one tenant port, supervised by this one.

One event loop relays every SSE stream of a single-process proxy; at a few hundred concurrent
streams it is CPU-bound. The supervisor (the process `teecube proxy` / `teecube serve` runs)
generates the attested TLS identity once, binds the tenant port once (N sockets in one
SO_REUSEPORT group), and starts N workers (`proxy.worker`, fresh interpreters) that inherit a
socket each and receive the identity over a pipe: the kernel spreads connections across them;
clients see one key, one certificate.

The supervisor also holds what must be one per proxy:
- the rate/token budget when there is no Redis (`proxy.limits.shared`; with `--redis-url` every
  worker uses Redis directly),
- the operator `/metrics` listener, summing every worker's metrics (`proxy.metrics_merge`),
- the per-address connection table that makes `--max-connections-per-address` one cap across the
  workers (`proxy.connection_table`: shared memory, a row per worker).
Keys, grants, domains and policies are read from the shared database by each worker and cached
for `--cache-ttl` seconds (1 s): an admin change made through any worker holds on all of them
within that bound. Usage records go to the shared database from each worker.

Failures: a worker that exits (or fails to restart) is restarted after 1 s; more than
`MAX_RESTARTS` exits within `RESTART_WINDOW` seconds, or a worker failing its first start, stop
the whole proxy with an error (a crash loop is a bug to see, not to hide). SIGTERM/SIGINT: every
worker gets SIGTERM, drains its requests and flushes usage; a worker still running after the
shutdown timeout is killed. Workers exit when the supervisor dies (PR_SET_PDEATHSIG, and a
watcher thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from typing import Any

from proxy.config import ProxyConfig
from proxy.connection_table import create_table
from proxy.handoff import Handoff, dump_identity
from proxy.limits.shared import BucketServer
from proxy.metrics_merge import WorkerMetrics

log = logging.getLogger("teecube.proxy.supervisor")
MAX_WORKERS = 64
MAX_RESTARTS = 5
RESTART_WINDOW = 60.0
START_TIMEOUT = 120.0


class WorkerFailed(RuntimeError):
    """A worker failed to start, or workers keep dying."""


def auto_workers(cores: int | None = None) -> int:
    """`--workers auto`: half of the cores, at least 1, at most 8 (the engine, its tokenizer and
    the guardrail scan processes keep the rest; workers use CPU only under load). On an H200 host
    (16 CPUs, 256 streams at once) 8 workers gave proxy/direct TTFT p50 0.93-1.33x (3 of 4 runs
    <= 1.07x) where 4 gave 1.15-1.30x (docs/bench/h200-2026-12-04-session7)."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(8, cores // 2))


def parse_workers(value: str) -> int:
    """`--workers`: a count (1 to 64) or `auto`."""
    if value == "auto":
        return auto_workers()
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"--workers: a number or 'auto', not {value!r}") from None
    if not 1 <= count <= MAX_WORKERS:
        raise ValueError(f"--workers: 1 to {MAX_WORKERS}, not {count}")
    return count


def scan_workers_each(config: ProxyConfig) -> int:
    """The guardrail scan processes (`--guard-scan-workers`, or its default) shared out among the
    workers: at least one each where there are any."""
    from proxy.guardrails.scan_pool import default_workers

    total = default_workers() if config.guard_scan_workers is None else config.guard_scan_workers
    return 0 if total <= 0 else max(1, total // config.workers)


def bind(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on host:port in one SO_REUSEPORT group (Linux): the kernel spreads
    new connections evenly over them by address hash, one socket per worker. (One shared socket
    lets whichever worker wakes first accept a whole burst: asyncio accepts up to 100 at a time.)
    Where SO_REUSEPORT is missing, one socket that every worker shares."""
    reuse_port = hasattr(socket, "SO_REUSEPORT")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if reuse_port:  # a port another process holds, even in its own SO_REUSEPORT group, is refused
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    socks: list[socket.socket] = []
    try:
        for _ in range(count if reuse_port else 1):
            sock = socket.socket(family, socket.SOCK_STREAM)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(1024)
            sock.set_inheritable(True)
    except OSError:
        for sock in socks:
            sock.close()
        raise
    return socks


class Supervisor:
    def __init__(self, config: ProxyConfig, identity: Any, shutdown_timeout: float) -> None:
        self.config = config
        self.identity = dump_identity(identity) if identity is not None else None
        self.shutdown_timeout = shutdown_timeout
        # Kept open here while workers come and go: a restarting worker's connections wait in its
        # socket's backlog instead of being refused.
        self.socks = bind(config.host, config.port, config.workers)
        self.run_dir = tempfile.mkdtemp(prefix="teecube-proxy-")  # 0700: the limiter and metrics sockets
        self.ready_marker = os.path.join(self.run_dir, "ready")
        self.limiter = None if config.redis_url else BucketServer(os.path.join(self.run_dir, "limits.sock"))
        self.metrics_sockets = [
            os.path.join(self.run_dir, f"metrics-{i}.sock") for i in range(config.workers)
        ]
        self.connections = create_table(config.workers)
        self.procs: list[asyncio.subprocess.Process | None] = [None] * config.workers
        self.exits: deque[float] = deque()
        self.stopping = False
        self.closed = False

    def worker_metrics(self) -> WorkerMetrics:
        return WorkerMetrics(self.metrics_sockets)

    def _handoff(self, index: int) -> bytes:
        config = dataclasses.replace(
            self.config,
            worker_index=index,
            guard_scan_workers=scan_workers_each(self.config),
            limiter_socket=self.limiter.path if self.limiter is not None else None,
            console_socket=os.path.join(self.run_dir, "console.sock"),
            ready_marker=self.ready_marker,
            metrics_token=None,  # the supervisor serves /metrics: workers get no scraper credential
        )
        return Handoff(
            config, self.identity, self.metrics_sockets[index], os.getpid(), self.connections
        ).dumps()

    async def _start(self, index: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.metrics_sockets[index])
        fd = self.socks[index % len(self.socks)].fileno()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "proxy.worker",
            str(fd),
            pass_fds=(fd,) if self.connections is None else (fd, self.connections.fd),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        self.procs[index] = proc
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(self._handoff(index))
        await proc.stdin.drain()
        proc.stdin.close()
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)
        except TimeoutError:
            line = b""
        if line != b"ready\n":
            if proc.returncode is None:  # hung in its start: it will not be waited for again
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
            raise WorkerFailed(f"proxy worker {index} did not start (exit status {proc.returncode})")
        log.info("proxy worker %d ready (pid %d)", index, proc.pid)

    async def start(self) -> None:
        if self.limiter is not None:
            await self.limiter.start()
        await asyncio.gather(*(self._start(i) for i in range(self.config.workers)))
        os.close(os.open(self.ready_marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))  # /health: 200

    async def _watch(self, index: int) -> None:
        """Restart worker `index` whenever it exits, until stopping or a crash loop."""
        while True:
            proc = self.procs[index]
            assert proc is not None
            status = await proc.wait()
            if self.stopping:
                return
            now = time.monotonic()
            self.exits.append(now)
            while self.exits and now - self.exits[0] > RESTART_WINDOW:
                self.exits.popleft()
            if len(self.exits) > MAX_RESTARTS:
                raise WorkerFailed(f"proxy workers exited {len(self.exits)} times in {RESTART_WINDOW:.0f} s")
            log.error(
                "proxy worker %d (pid %d) exited with status %s; restarting it", index, proc.pid, status
            )
            await asyncio.sleep(1.0)
            if self.stopping:
                return
            try:
                await self._start(index)
            except WorkerFailed as exc:  # counts as one more exit on the next turn
                log.error("%s", exc)

    async def run(self, stop: asyncio.Event) -> None:
        """Supervise until `stop` is set (returns) or workers keep failing (raises)."""
        watchers = [asyncio.create_task(self._watch(i)) for i in range(self.config.workers)]
        stopped = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait({stopped, *watchers}, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {stopped}:
                task.result()  # a crash loop: raise it
            log.info("proxy shutting down: stopping %d workers", self.config.workers)
        finally:
            self.stopping = True
            stopped.cancel()
            for task in watchers:
                task.cancel()
            await self.shutdown()

    async def shutdown(self) -> None:
        """SIGTERM every worker, wait for their drain, kill what is left, remove the sockets."""
        if self.closed:
            return
        self.stopping = self.closed = True
        live = [p for p in self.procs if p is not None and p.returncode is None]
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        if live:
            _, pending = await asyncio.wait(
                [asyncio.create_task(p.wait()) for p in live], timeout=self.shutdown_timeout + 5
            )
            if pending:
                log.error("%d proxy worker(s) did not stop in time; killing them", len(pending))
                for proc in live:
                    if proc.returncode is None:
                        with contextlib.suppress(ProcessLookupError):
                            proc.kill()
                        await proc.wait()
        for sock in self.socks:
            sock.close()
        if self.limiter is not None:
            await self.limiter.close()
        if self.connections is not None:
            os.close(self.connections.fd)
        shutil.rmtree(self.run_dir, ignore_errors=True)
