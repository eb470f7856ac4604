"""Ranks 1..N-1 of a tensor-parallel engine: spawned processes that mirror rank 0's model calls.

Rank 0 (the engine process) owns the scheduler and the block manager. Each step it broadcasts the
scheduled batch as plain lists (`StepInput`, engine/model_runner.py); every worker builds the same
model inputs, runs the same forward (its share of the heads, its shard of each weight, its share of
every layer's KV cache) and joins the collectives; only rank 0 gets the logits and samples.
Broadcasting None stops the workers.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import torch
import torch.multiprocessing as mp

from engine.config import EngineConfig
from engine.distributed.communication import broadcast_object
from engine.distributed.parallel_state import (
    NO_MULTICAST_ENV,
    destroy_tensor_parallel,
    get_tp_size,
    init_tensor_parallel,
)
from engine.errors import InvalidParam

if TYPE_CHECKING:
    from engine.loader import LoadedModel

log = logging.getLogger(__name__)
ModelLoader = Callable[[EngineConfig], "LoadedModel"]  # builds this rank's shard (e.g. random weights)
START_TIMEOUT_S = 300.0


def rank_device(device: str, rank: int) -> str:
    """CUDA: one device per rank ("cuda" or "cuda:k" -> cuda:k+rank); CPU ranks share the host."""
    dev = torch.device(device)
    if dev.type != "cuda":
        return device
    return f"cuda:{(dev.index or 0) + rank}"


def backend_for(device: str) -> str:
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def start_workers(config: EngineConfig, loaded: Any = None) -> TensorParallelWorkers | None:
    """The worker ranks of an engine with tensor_parallel_size > 1 (this process becomes rank 0).
    loaded: None (every rank loads config.model) or a picklable ModelLoader every rank calls."""
    if config.tensor_parallel_size == 1:
        return None
    if loaded is not None and not callable(loaded):
        raise InvalidParam("tensor_parallel_size", "a preloaded model cannot be split over ranks")
    return TensorParallelWorkers(config, loaded)


class TensorParallelWorkers:
    """Spawn ranks 1..N-1, then join the group as rank 0. `shutdown()` stops them (also at exit)."""

    def __init__(self, config: EngineConfig, loader: ModelLoader | None = None) -> None:
        world = config.tensor_parallel_size
        if get_tp_size() > 1:
            raise RuntimeError("this process already runs a tensor-parallel engine")
        # A TCP store served by rank 0 on loopback: the file store deadlocked (both ranks waiting for
        # each other's address) under gVisor, whose file locks it relies on.
        init_method = f"tcp://127.0.0.1:{free_local_port()}"
        os.environ.update(NO_MULTICAST_ENV)  # inherited by the spawned workers
        ctx = mp.get_context("spawn")
        started = [ctx.Event() for _ in range(1, world)]
        self.procs = [
            ctx.Process(
                target=worker_main,
                args=(config, rank, init_method, started[rank - 1], loader),
                name=f"teecube-tp{rank}",
            )
            for rank in range(1, world)
        ]
        self.closed = False
        for p in self.procs:
            p.start()
        atexit.register(self.shutdown)
        try:
            self._wait_started(started)
            if torch.device(config.device).type == "cuda":
                torch.cuda.set_device(torch.device(rank_device(config.device, 0)))
            init_tensor_parallel(0, world, init_method, backend_for(config.device))
        except BaseException:
            self.shutdown(timeout_s=1.0)
            raise

    def _wait_started(self, started: list[Any]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        for p, event in zip(self.procs, started, strict=True):
            while not event.wait(0.1):
                if not p.is_alive():
                    raise RuntimeError(f"tensor-parallel worker {p.name} exited with code {p.exitcode}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"tensor-parallel worker {p.name} did not start")

    def check_alive(self) -> None:
        """Raise if a worker has died (before a step: its collectives would fail or, on NCCL, hang)."""
        for p in self.procs:
            if not p.is_alive():
                raise RuntimeError(f"tensor-parallel worker {p.name} died (exit code {p.exitcode})")

    def shutdown(self, timeout_s: float = 30.0) -> None:
        if self.closed:
            return
        self.closed = True
        atexit.unregister(self.shutdown)
        deadline = time.monotonic() + timeout_s
        stop = None
        if get_tp_size() > 1:
            # in a thread: if a failed step left the workers inside another collective, it never completes
            stop = threading.Thread(target=_send_stop, name="teecube-tp-stop", daemon=True)
            stop.start()
            stop.join(timeout_s)
        for p in self.procs:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                log.warning("tensor-parallel worker %s did not stop; terminating it", p.name)
                p.terminate()
                p.join(5.0)
        if stop is not None:
            stop.join(5.0)  # the workers are gone: the stop message completes or fails now
        destroy_tensor_parallel()


def _send_stop() -> None:
    try:
        broadcast_object(None)
    except Exception as e:  # a worker is gone already
        log.warning("tensor-parallel stop message failed: %s", e)


def free_local_port() -> int:
    """A loopback port nothing listens on now (rank 0's store binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def exit_with_parent(parent_pid: int) -> None:
    """A worker (or an engine core process) must not outlive its parent (killed, say, while the
    worker waits in a collective). Run it in a daemon thread."""
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os._exit(1)


def worker_main(
    config: EngineConfig, rank: int, init_method: str, started: Any, loader: ModelLoader | None = None
) -> None:
    """Entry point of rank `rank` (a spawned process): join the group, load its shard, follow rank 0."""
    os.environ.update(NO_MULTICAST_ENV)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: rank 0 stops us
    from engine.model_runner import ModelRunner

    device = rank_device(config.device, rank)
    if torch.device(device).type == "cuda":
        torch.cuda.set_device(torch.device(device))
    else:
        torch.set_num_threads(max(1, torch.get_num_threads() // config.tensor_parallel_size))
    config = replace(config, device=device)
    parent = os.getppid()
    threading.Thread(target=exit_with_parent, args=(parent,), name="teecube-tp-parent", daemon=True).start()
    started.set()
    init_tensor_parallel(rank, config.tensor_parallel_size, init_method, backend_for(device))
    try:
        ModelRunner(config, loader(config) if loader is not None else None).follow()
    finally:
        destroy_tensor_parallel()
