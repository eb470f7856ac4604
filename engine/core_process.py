"""The engine core in its own process (vLLM V1's split): `core_main` is the spawned process's entry.

The main thread runs EngineCore's step loop, as AsyncEngine's thread does in thread mode, and sends
each step's tokens to the server process as one message (engine/core_wire.py). A reader thread
receives requests, aborts and stop-string frees, rebuilds their params (compiling a request's
grammar here, off the step loop; compiled grammars are cached) and queues them for the loop. The
process never waits for the server's GIL. It exits when told to, when the server's end of the
connection closes, or within a second of the server process's death.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

import torch

from engine import core_wire as wire
from engine.config import EngineConfig
from engine.distributed.workers import ModelLoader, exit_with_parent
from engine.engine_core import EngineCore
from engine.errors import EngineError, InvalidParam
from engine.outputs import RequestMetrics
from engine.sampling_params import SamplingParams


def core_main(
    config: EngineConfig,
    conn: Connection,
    loader: ModelLoader | None,
    async_scheduling: bool | None,
    cpu_threads: int,
) -> None:
    """cpu_threads: the server process's torch threads, which a CPU engine core uses as in thread mode."""
    # Ctrl-C and a unit's SIGTERM reach the whole process group: the server drains, then stops us
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(
        target=exit_with_parent, args=(os.getppid(),), name="teecube-core-parent", daemon=True
    ).start()
    if not config.device.startswith("cuda"):
        torch.set_num_threads(cpu_threads)
    try:
        core = EngineCore(config, loader, async_scheduling)
    except BaseException as e:
        conn.send_bytes(wire.dumps((wire.FAILED, wire.encode_error(e))))
        return
    stats = wire.stats_tuple(core.stats())
    ready = (
        wire.READY,
        core.spec,
        core.max_model_len,
        core.tokenizer,
        stats,
        core.async_scheduling,
        core.pooling,
    )
    conn.send_bytes(wire.dumps(ready))
    CoreLoop(core, conn).run()


class CoreLoop:
    def __init__(self, core: EngineCore, conn: Connection) -> None:
        self.core = core
        self.conn = conn
        self.commands: deque[Callable[[], None]] = deque()
        self.wakeup = threading.Event()
        self.stopping = False
        self.unscheduled: dict[int, RequestMetrics] = {}  # handle -> metrics, until first scheduled
        self.errors: list[tuple[int, tuple[str, str | None, str]]] = []
        self.acks: list[int] = []
        self._grammars: Any = None  # a GrammarCompilerCache, on the first constrained request
        self.reader_error: BaseException | None = None  # what stopped the reader, if not the server

    def run(self) -> None:
        core = self.core
        reader = threading.Thread(target=self._read, name="teecube-core-reader", daemon=True)
        reader.start()
        dirty = False
        try:
            while not self.stopping:
                while self.commands:
                    self.commands.popleft()()
                    dirty = True
                if core.has_unfinished():
                    outputs = core.step()
                    if core.pooling is None:
                        self._send(wire.pack_tokens(outputs))  # type: ignore[arg-type]
                    else:
                        self._send((b"", []), wire.pack_pooled(outputs))  # type: ignore[arg-type]
                    dirty = True
                elif dirty:
                    self._send((b"", []))  # acks, refusals and the stats after frees
                    dirty = False
                else:
                    self.wakeup.wait(timeout=1.0)
                    self.wakeup.clear()
            if self.reader_error is not None:  # no more commands can arrive: die, do not go deaf
                error = self.reader_error
                raise EngineError(f"the core's command reader failed: {type(error).__name__}: {error}")
        except BaseException as e:
            try:
                self.conn.send_bytes(wire.dumps((wire.DEAD, f"{type(e).__name__}: {e}")))
            except OSError:
                pass
            raise
        finally:
            core.shutdown()

    def _send(self, tokens: tuple[bytes, list[tuple[int, Any, Any]]], pooled: wire.Pooled = None) -> None:
        scheduled = []
        for handle, metrics in list(self.unscheduled.items()):
            if metrics.first_scheduled_time is not None:
                scheduled.append((handle, metrics.first_scheduled_time))
                del self.unscheduled[handle]
        errors, self.errors = self.errors, []
        acks, self.acks = self.acks, []
        stats = wire.stats_tuple(self.core.stats())
        message = (wire.STEP, tokens[0], tokens[1], pooled, scheduled, errors, acks, stats)
        self.conn.send_bytes(wire.dumps(message))

    def _read(self) -> None:
        """Receive commands until SHUTDOWN or the server's end closes. Any other failure stops the core
        (the server sees it die) instead of leaving it running with no one reading its commands."""
        try:
            while True:
                message = wire.loads(self.conn.recv_bytes())
                command = self._command(message)
                if command is None:
                    break
                self.commands.append(command)
                self.wakeup.set()
        except (EOFError, OSError):
            pass
        except BaseException as e:
            self.reader_error = e
        self.stopping = True
        self.wakeup.set()

    def _command(self, message: tuple[Any, ...]) -> Callable[[], None] | None:
        kind = message[0]
        if kind == wire.ADD:
            _, handle, ids, params, grammar, arrival = message
            try:
                params = self._with_grammar(params, grammar)
            except Exception as e:  # InvalidParam, or any failure to compile: this request is refused
                refused = (handle, wire.encode_error(e))
                return lambda: self.errors.append(refused)  # on the loop's thread, as every command
            return lambda: self._add(handle, wire.unpack_ids(ids), params, RequestMetrics(arrival))
        if kind == wire.POOL:
            _, handle, ids, arrival = message
            return lambda: self._add_pooling(handle, wire.unpack_ids(ids), RequestMetrics(arrival))
        if kind == wire.ABORT:
            _, handle, ack = message
            return lambda: self._abort(handle, ack)
        if kind == wire.STOP:
            _, stopped, ack = message
            return lambda: self._free_stops(stopped, ack)
        return None  # SHUTDOWN

    def _with_grammar(self, params: SamplingParams, grammar: Any) -> SamplingParams:
        if grammar is None:
            return params
        if self._grammars is None:
            from engine.structured import GrammarCompilerCache

            self._grammars = GrammarCompilerCache.for_tokenizer(
                self.core.tokenizer, self.core.spec.vocab_size
            )
        factory = self._grammars.factory(grammar)
        return replace(params, logits_processor_factory=factory)

    def _add(self, handle: int, ids: list[int], params: SamplingParams, metrics: RequestMetrics) -> None:
        try:
            self.core.add(handle, ids, params, metrics)  # type: ignore[arg-type]
        except Exception as e:  # EngineCore.add changes nothing before it succeeds: only this request fails
            self.errors.append((handle, wire.encode_error(e)))
            return
        self.unscheduled[handle] = metrics

    def _add_pooling(self, handle: int, ids: list[int], metrics: RequestMetrics) -> None:
        try:
            self.core.add_pooling(handle, ids, metrics)  # type: ignore[arg-type]
        except (InvalidParam, ValueError) as e:
            self.errors.append((handle, wire.encode_error(e)))
            return
        self.unscheduled[handle] = metrics

    def _abort(self, handle: int, ack: int) -> None:
        if handle >= 0:
            self.core.abort(handle)  # type: ignore[arg-type]
            self.unscheduled.pop(handle, None)
        if ack >= 0:
            self.acks.append(ack)

    def _free_stops(self, stopped: list[tuple[int, int]], ack: int) -> None:
        self.core.finish_stopped(stopped)  # type: ignore[arg-type]
        self.acks.append(ack)
