"""`CoreClient`: the server process's end of an engine core running in its own process.

AsyncEngine (process mode) talks to EngineCore through it: requests, aborts and stop-string frees go
to the core process (engine/core_process.py) over a socket pair; each step's tokens come back as one
message, read on the event loop when the socket is readable (no thread here competes for the GIL).
Requests are known to the core by integer handles. The tokenizer, the model's spec and
`check_request` are here too, so prompts are encoded and checked before anything is sent. When the
core process dies, the socket closes: `on_dead` fires once.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import multiprocessing
from collections.abc import Callable
from typing import Any

import torch

from engine import core_wire as wire
from engine.config import EngineConfig
from engine.core_process import core_main
from engine.distributed.workers import ModelLoader
from engine.engine_core import check_pooling_request, check_request, encode_prompt
from engine.errors import EngineDead, EngineError
from engine.outputs import EngineStats, PoolingOutput, RequestMetrics, TokenOutput
from engine.pooling.pooler import PoolingConfig
from engine.sampling_params import SamplingParams

log = logging.getLogger(__name__)
STOP_TIMEOUT_S = 30.0


class CoreClient:
    def __init__(
        self,
        config: EngineConfig,
        loader: ModelLoader | None,
        async_scheduling: bool | None,
        on_tokens: Callable[[list[TokenOutput]], None],
        on_error: Callable[[str, BaseException], None],
        on_dead: Callable[[EngineDead], None],
        on_pooled: Callable[[list[PoolingOutput]], None] | None = None,
    ) -> None:
        """on_pooled: an embedding engine's pooled vectors, one call per step that has any."""
        self.config = config
        self._loader = loader
        self._async_scheduling = async_scheduling
        self._on_tokens = on_tokens
        self._on_error = on_error
        self._on_dead = on_dead
        self._on_pooled = on_pooled
        self._next_handle = 0
        self._handles: dict[str, int] = {}
        self._requests: dict[int, tuple[str, RequestMetrics]] = {}
        self._next_ack = 0
        self._acks: dict[int, Callable[[], None]] = {}
        self._proc: Any = None
        self._conn: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False  # no more commands: stopped, or the core died
        self._stopped = False
        self.dead_reason: str | None = None
        self.stats: EngineStats | None = None
        self.tokenizer: Any = None
        self.spec: Any = None
        self.max_model_len = 0
        self.async_scheduling = False
        self.pooling: PoolingConfig | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # -- start and stop

    async def start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        conn, child_conn = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(
            target=core_main,
            args=(self.config, child_conn, self._loader, self._async_scheduling, torch.get_num_threads()),
            name="teecube-core",
        )
        self._proc.start()
        child_conn.close()  # the child holds the only other end: its exit closes the socket
        self._conn = conn
        self._loader = None
        atexit.register(self._kill)
        try:
            ready = await asyncio.to_thread(self._wait_ready)
        except BaseException:
            self._kill()
            raise
        _, self.spec, self.max_model_len, self.tokenizer, stats, self.async_scheduling, self.pooling = ready
        self.config.max_model_len = self.max_model_len
        self.stats = wire.stats_from(stats)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(conn.fileno(), self._on_readable)

    def _wait_ready(self) -> tuple[Any, ...]:
        while not self._conn.poll(0.5):
            if not self._proc.is_alive():
                break
        try:
            message = wire.loads(self._conn.recv_bytes())
        except (EOFError, OSError):
            code = self._exitcode()
            raise EngineError(f"the engine core process exited while starting (exit code {code})") from None
        if message[0] == wire.FAILED:
            raise wire.decode_error(message[1], "the engine core process failed to start")
        return message

    async def shutdown(self) -> None:
        """Stop the core process and wait for it (also after it died: it is reaped here)."""
        if self._stopped:
            return
        self._stopped = True
        self._detach()
        if self._conn is not None:
            try:
                self._conn.send_bytes(wire.dumps((wire.SHUTDOWN,)))
            except OSError:
                pass  # gone already
        if self._proc is not None:
            await asyncio.to_thread(self._stop_process, STOP_TIMEOUT_S)

    def _stop_process(self, timeout_s: float) -> None:
        self._proc.join(timeout_s)
        if self._proc.is_alive():
            log.warning("the engine core process did not stop; terminating it")
            self._proc.kill()
            self._proc.join(5.0)
        atexit.unregister(self._kill)
        self._conn.close()

    def _kill(self) -> None:
        """At exit (or a failed start): the core process must not outlive the server's."""
        self._stopped = True
        self._detach()
        if self._proc is None:
            return
        if self._proc.is_alive():
            try:
                self._conn.send_bytes(wire.dumps((wire.SHUTDOWN,)))
            except OSError:
                pass
        self._stop_process(5.0)

    def _detach(self) -> None:
        self.closed = True
        if self._loop is not None and self._conn is not None:
            try:
                self._loop.remove_reader(self._conn.fileno())
            except (RuntimeError, ValueError, OSError):
                pass  # the loop is closed
            self._loop = None

    # -- what the server process does before sending

    def encode(self, prompt: str | list[int], add_special_tokens: bool = True) -> list[int]:
        return encode_prompt(self.tokenizer, prompt, add_special_tokens)

    def check_request(self, prompt_token_ids: list[int], params: SamplingParams) -> int:
        return check_request(prompt_token_ids, params, self.spec.vocab_size, self.max_model_len)

    def check_pooling(self, prompt_token_ids: list[int]) -> None:
        check_pooling_request(prompt_token_ids, self.spec.vocab_size, self.max_model_len)

    # -- commands (call on the event loop)

    def add_pooling(self, request_id: str, prompt_ids: list[int], metrics: RequestMetrics) -> None:
        handle = self._register(request_id, metrics)
        self._send((wire.POOL, handle, wire.pack_ids(prompt_ids), metrics.arrival_time))

    def add(
        self, request_id: str, prompt_ids: list[int], params: SamplingParams, metrics: RequestMetrics
    ) -> None:
        factory = params.logits_processor_factory
        grammar = None
        if factory is not None:
            grammar = getattr(factory, "spec", None)
            if grammar is None:
                raise EngineError(
                    "a logits processor other than a grammar cannot reach the engine core process"
                )
            params = _without_factory(params)
        handle = self._register(request_id, metrics)
        self._send((wire.ADD, handle, wire.pack_ids(prompt_ids), params, grammar, metrics.arrival_time))

    def _register(self, request_id: str, metrics: RequestMetrics) -> int:
        handle = self._next_handle
        self._next_handle += 1
        self._handles[request_id] = handle
        self._requests[handle] = (request_id, metrics)
        return handle

    def release(self, request_id: str) -> None:
        """The request's stream has ended: its later tokens, if any, are dropped."""
        handle = self._handles.pop(request_id, None)
        if handle is not None:
            self._requests.pop(handle, None)

    def abort(self, request_id: str, then: Callable[[], None] | None = None) -> None:
        """Abort in the core; `then` runs on the loop once its blocks are free (or the request is gone)."""
        self._send((wire.ABORT, self._handles.get(request_id, -1), self._ack(then)))

    def free_stops(self, stopped: list[tuple[str, int]], then: Callable[[], None]) -> None:
        pairs = [(self._handles[rid], index) for rid, index in stopped if rid in self._handles]
        self._send((wire.STOP, pairs, self._ack(then)))

    def _ack(self, then: Callable[[], None] | None) -> int:
        if then is None:
            return -1
        ack = self._next_ack
        self._next_ack += 1
        self._acks[ack] = then
        return ack

    def _send(self, message: tuple[Any, ...]) -> None:
        if self.closed:
            raise EngineDead("the engine core process is not running")
        try:
            self._conn.send_bytes(wire.dumps(message))
        except OSError:
            self._died("the connection to the engine core process broke")
            raise EngineDead("the engine core process is not running") from None

    # -- what comes back (on the event loop)

    def _on_readable(self) -> None:
        tokens: list[TokenOutput] = []
        try:
            while self._conn.poll():
                message = wire.loads(self._conn.recv_bytes())
                if message[0] == wire.STEP:
                    tokens = self._on_step(message, tokens)
                elif message[0] == wire.DEAD:
                    self.dead_reason = message[1]
        except (EOFError, OSError):
            if tokens:
                self._on_tokens(tokens)
            self._died(self.dead_reason or f"the engine core process exited (exit code {self._exitcode()})")
            return
        if tokens:
            self._on_tokens(tokens)

    def _on_step(self, message: tuple[Any, ...], pending: list[TokenOutput]) -> list[TokenOutput]:
        """Handles a step message; returns the tokens not yet dispatched (steps read together go through
        the output processor as one batch, each request's tokens in order)."""
        _, data, extras, pooled, scheduled, errors, acks, stats = message
        self.stats = wire.stats_from(stats)
        requests = self._requests
        for handle, when in scheduled:
            entry = requests.get(handle)
            if entry is not None and entry[1].first_scheduled_time is None:
                entry[1].first_scheduled_time = when
        if errors or acks:
            if pending:  # what came before an ack is processed before it, as in thread mode
                self._on_tokens(pending)
                pending = []
            for handle, encoded in errors:
                entry = requests.get(handle)
                if entry is not None:
                    self._on_error(entry[0], wire.decode_error(encoded, "the engine core refused a request"))
            for ack in acks:
                then = self._acks.pop(ack, None)
                if then is not None:
                    then()
        if pooled is not None and self._on_pooled is not None:
            outputs = []
            for handle, vector in wire.unpack_pooled(pooled):
                entry = requests.get(handle)
                if entry is not None:
                    outputs.append(PoolingOutput(entry[0], vector))
            self._on_pooled(outputs)
        if data:
            vals = wire.unpack_tokens(data)
            extra = {pos: (lp, sr, plp) for pos, lp, sr, plp in extras} if extras else None
            reasons = wire.FINISH_REASONS
            for pos, i in enumerate(range(0, len(vals), wire.FIELDS)):
                entry = requests.get(vals[i])
                if entry is None:
                    continue  # its stream has ended
                lp, sr, plp = extra.get(pos, (None, None, None)) if extra else (None, None, None)
                pending.append(
                    TokenOutput(
                        entry[0], vals[i + 1], vals[i + 2], lp, reasons[vals[i + 3]], sr, vals[i + 4], plp
                    )
                )
        return pending

    def _exitcode(self) -> int | None:
        if self._proc is None:
            return None
        self._proc.join(1.0)
        return self._proc.exitcode

    def _died(self, reason: str) -> None:
        if self.closed:
            return
        self._detach()
        self._acks.clear()  # AsyncEngine releases abort waiters; held final deltas are not delivered
        self._on_dead(EngineDead(f"the engine loop died: {reason}"))


def _without_factory(params: SamplingParams) -> SamplingParams:
    from dataclasses import replace

    return replace(params, logits_processor_factory=None)
