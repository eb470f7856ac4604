"""`AsyncEngine`: the engine core's step loop runs in its own thread, or in its own process
(`engine_core_process`: engine/core_client.py, engine/core_process.py), and only moves token ids; the
output processor (detokenization, stop strings) runs on the event loop, and each request streams
deltas into its mailbox (a deque, and a future only while the consumer waits). A stop string found
there stops the sequence in the core (freeing its blocks) before the request's final delta is
delivered. An embedding engine (--task embed) serves `embed` instead of `generate`: each input is a
pooling request through the same core and step loop, resolved by a future when its vector arrives."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import torch

from engine.config import EngineConfig
from engine.core_client import CoreClient
from engine.distributed.workers import ModelLoader
from engine.engine_core import EngineCore
from engine.errors import EngineDead, InvalidParam
from engine.llm_engine import with_output_counters
from engine.loader import LoadedModel
from engine.output_processor import OutputProcessor
from engine.outputs import (
    CompletionOutput,
    EngineStats,
    PoolingOutput,
    RequestMetrics,
    RequestOutput,
    TokenOutput,
)
from engine.pooling.pooler import PoolingConfig
from engine.sampling_params import SamplingParams


class AsyncEngine:
    def __init__(
        self,
        config: EngineConfig,
        loaded: LoadedModel | ModelLoader | None = None,
        async_scheduling: bool | None = None,
    ) -> None:
        self.config = config
        self._loaded = loaded
        self._async_scheduling = async_scheduling
        self.engine: EngineCore | None = None
        self.processor: OutputProcessor | None = None
        self._stop_acks: dict[str, int] = {}  # request id -> stop strings the core has not freed yet
        self._held: dict[str, RequestOutput] = {}  # final deltas waiting for those
        self.is_dead = False
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._commands: deque[Callable[[], None]] = deque()
        self._wakeup = threading.Event()
        self._stopping = False
        self._streams: dict[str, _Mailbox] = {}
        self._pooled: dict[str, asyncio.Future[torch.Tensor]] = {}  # embedding requests in the core
        self._pool_ids = itertools.count()
        self._pending_aborts: set[asyncio.Future[None]] = set()
        self._stats: EngineStats | None = None
        self._client: CoreClient | None = None  # process mode

    def _process_mode(self) -> bool:
        mode = self.config.engine_core_process
        if mode == "off":
            return False
        if self._loaded is not None and not callable(self._loaded):
            if mode == "on":
                raise InvalidParam(
                    "engine_core_process", "a model loaded in this process cannot be served from another one"
                )
            return False
        return mode == "on" or self.config.device.startswith("cuda")

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._process_mode():
            loader = self._loaded if callable(self._loaded) else None
            client = CoreClient(
                self.config,
                loader,
                self._async_scheduling,
                self._dispatch,
                self._deliver_error,
                self._core_died,
                self._dispatch_pooled,
            )
            await client.start()
            self._client = client
            self._loaded = None
            self.processor = OutputProcessor(client.tokenizer, client.spec.eos_token_ids)
            return
        self.engine = await asyncio.to_thread(EngineCore, self.config, self._loaded, self._async_scheduling)
        self._loaded = None
        self.processor = OutputProcessor(self.engine.tokenizer, self.engine.eos_token_ids)
        self._stats = self.engine.stats()
        self._thread = threading.Thread(target=self._run, name="engine-loop", daemon=True)
        self._thread.start()

    @property
    def tokenizer(self) -> Any:
        return self._front.tokenizer

    @property
    def spec(self) -> Any:
        return self._front.spec

    @property
    def max_model_len(self) -> int:
        return self._front.max_model_len

    @property
    def pooling(self) -> PoolingConfig | None:
        """How an embedding engine pools (known once started); None for a generating one."""
        return self._front.pooling

    @property
    def async_scheduling(self) -> bool:
        """Whether the core keeps a step in flight (known once started)."""
        return self._front.async_scheduling

    @property
    def core_pid(self) -> int | None:
        """The engine core process's id (process mode, once started), else None."""
        return self._client.pid if self._client is not None else None

    @property
    def _engine(self) -> EngineCore:
        if self.engine is None:
            raise EngineDead("the engine has not been started")
        return self.engine

    @property
    def _front(self) -> EngineCore | CoreClient:
        """What encodes and checks requests here: the core (thread mode) or its client (process mode)."""
        return self._client if self._client is not None else self._engine

    def stats(self) -> EngineStats:
        """The core's last snapshot with the output processor's counters (call on the event loop)."""
        if self._client is not None:
            self._stats = self._client.stats
        if self._stats is None or self.processor is None:
            raise EngineDead("the engine has not been started")
        return with_output_counters(self._stats, self.processor)

    async def generate(
        self, request_id: str, prompt: str | list[int], params: SamplingParams, stream: bool = True
    ) -> AsyncIterator[RequestOutput]:
        """Stream deltas of one request; checks raise before anything is scheduled. stream=False: one
        whole output when it finishes (no per-step wake-ups), its step times in `metrics.token_times`."""
        if self.is_dead or self._stopping:
            raise EngineDead("the engine loop is not running")
        engine = self._front
        if engine.pooling is not None:
            raise InvalidParam("task", "this model serves embeddings only (--task embed)")
        arrival = time.monotonic()
        prompt_ids = engine.encode(prompt)
        engine.check_request(prompt_ids, params)
        if request_id in self._streams:
            raise InvalidParam("request_id", f"request {request_id!r} is already running")
        metrics = RequestMetrics(arrival)
        client = self._client
        if client is not None:
            client.add(request_id, prompt_ids, params, metrics)  # its tokens are read on this loop, later
        else:
            self._submit(lambda: self._add(request_id, prompt_ids, params, metrics))
        queue = _Mailbox()
        self._streams[request_id] = queue
        assert self.processor is not None
        self.processor.add_request(request_id, prompt_ids, params, metrics, stream)
        finished = False
        try:
            while True:
                items = queue.items
                if not items:
                    await queue.wait()
                item = items.popleft()
                while items and not isinstance(item, BaseException) and not item.finished:
                    # the consumer fell behind: one delta for every step it missed (fewer, larger
                    # chunks instead of a backlog, as vLLM's output collector does)
                    nxt = items.popleft()
                    item = nxt if isinstance(nxt, BaseException) else merge_deltas(item, nxt)
                if isinstance(item, BaseException):
                    finished = True
                    raise item
                finished = item.finished
                yield item
                if finished:
                    return
        finally:
            if self._streams.get(request_id) is queue:
                del self._streams[request_id]
            if not finished:
                self._forget(request_id)
                if not self.is_dead:
                    self._abort_in_core(request_id)
            if client is not None:
                client.release(request_id)

    async def embed(self, inputs: list[list[int]]) -> torch.Tensor:
        """[len(inputs), H] float32 embeddings (pooled, normalized if the model is), each input one
        pooling request through the core's scheduler; checks raise before anything is scheduled."""
        if self.is_dead or self._stopping or self._loop is None:
            raise EngineDead("the engine loop is not running")
        engine = self._front
        if engine.pooling is None:
            raise InvalidParam("task", "this model does not serve embeddings (start it with --task embed)")
        for ids in inputs:
            engine.check_pooling(ids)
        base = f"embed-{next(self._pool_ids)}"
        ids_of = {f"{base}-{i}": ids for i, ids in enumerate(inputs)}
        futures = {rid: self._loop.create_future() for rid in ids_of}
        self._pooled.update(futures)
        arrival = time.monotonic()
        client = self._client
        try:
            for rid, ids in ids_of.items():
                if client is not None:
                    client.add_pooling(rid, ids, RequestMetrics(arrival))
                else:
                    self._submit(partial(self._add_pooling, rid, ids, RequestMetrics(arrival)))
            vectors = await asyncio.gather(*futures.values())
        finally:
            for rid, future in futures.items():
                self._pooled.pop(rid, None)
                if future.done() and not future.cancelled():
                    future.exception()  # a vector, or an error seen here (only the first is raised)
                else:  # cancelled (the client went away: gather cancels it too) or a sibling failed
                    future.cancel()
                    if not self.is_dead:
                        self._abort_in_core(rid)
                if client is not None:
                    client.release(rid)
        if self.processor is not None:
            self.processor.request_success["stop"] += 1
        return torch.stack(vectors)

    async def abort(self, request_id: str) -> None:
        """Abort a request; returns once its KV blocks are free."""
        if self.is_dead or (self._thread is None and self._client is None) or self._loop is None:
            return
        loop = self._loop
        future: asyncio.Future[None] = loop.create_future()
        self._pending_aborts.add(future)
        if self._client is not None:
            try:
                self._client.abort(request_id, lambda: self._abort_done(request_id, future))
            except EngineDead:
                self._abort_done(request_id, future)
            await future
            return

        def command() -> None:
            self._engine.abort(request_id)
            self._stats = self._engine.stats()
            loop.call_soon_threadsafe(self._abort_done, request_id, future)

        self._submit(command)
        await future

    async def shutdown(self) -> None:
        self._stopping = True
        if self._client is not None:
            await self._client.shutdown()
        self._wakeup.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        if self.engine is not None:
            await asyncio.to_thread(self.engine.shutdown)  # tensor-parallel workers, if any
        self._fail_all(EngineDead("the engine was shut down"))

    def _abort_in_core(self, request_id: str) -> None:
        if self._client is None:
            self._submit(lambda: self._engine.abort(request_id))
            return
        try:
            self._client.abort(request_id)
        except EngineDead:
            pass

    def _core_died(self, error: EngineDead) -> None:
        """Process mode: the core process is gone (on the event loop)."""
        self.error = error
        self.is_dead = True
        self._fail_all(error)

    def _submit(self, command: Callable[[], None]) -> None:
        self._commands.append(command)
        self._wakeup.set()

    def _add(
        self, request_id: str, prompt_ids: list[int], params: SamplingParams, metrics: RequestMetrics
    ) -> None:
        try:
            self._engine.add(request_id, prompt_ids, params, metrics)
        except Exception as e:  # EngineCore.add changes nothing before it succeeds: only this request fails
            self._post(self._deliver_error, request_id, e)

    def _add_pooling(self, request_id: str, prompt_ids: list[int], metrics: RequestMetrics) -> None:
        try:
            self._engine.add_pooling(request_id, prompt_ids, metrics)
        except (InvalidParam, ValueError) as e:
            self._post(self._deliver_error, request_id, e)

    def _run(self) -> None:
        engine = self._engine
        dispatch = self._dispatch if engine.pooling is None else self._dispatch_pooled
        try:
            while not self._stopping:
                while self._commands:
                    self._commands.popleft()()
                if engine.has_unfinished():
                    outputs = engine.step()
                    self._stats = engine.stats()
                    if outputs:
                        self._post(dispatch, outputs)
                else:
                    self._stats = engine.stats()
                    self._wakeup.wait(timeout=1.0)
                    self._wakeup.clear()
        except BaseException as e:
            self.error = e
            self.is_dead = True
            self._post(self._fail_all, EngineDead(f"the engine loop died: {e!r}"))

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            pass  # the event loop is closed

    def _dispatch(self, tokens: list[TokenOutput]) -> None:
        """On the event loop: one step's tokens through the output processor to the streams."""
        assert self.processor is not None
        outputs, stopped = self.processor.process(tokens, stream=True)
        if stopped:
            ids = [request_id for request_id, _ in stopped]
            for request_id in ids:
                self._stop_acks[request_id] = self._stop_acks.get(request_id, 0) + 1
            if self._client is not None:
                try:
                    self._client.free_stops(stopped, lambda: self._stops_freed(ids))
                except EngineDead:
                    pass  # the streams get EngineDead
            else:
                self._submit(lambda: self._free_stops(stopped, ids))
        for out in outputs:
            if out.finished and self._stop_acks.get(out.request_id):
                self._held[out.request_id] = out  # delivered once the core has freed its blocks
            else:
                self._deliver(out)

    def _dispatch_pooled(self, outputs: list[PoolingOutput]) -> None:
        """On the event loop: one step's pooled vectors to their requests' futures."""
        for out in outputs:
            future = self._pooled.get(out.request_id)
            if future is not None and not future.done():
                future.set_result(out.embedding)

    def _free_stops(self, stopped: list[tuple[str, int]], ids: list[str]) -> None:
        """On the step thread (thread mode)."""
        self._engine.finish_stopped(stopped)
        self._stats = self._engine.stats()
        self._post(self._stops_freed, ids)

    def _stops_freed(self, ids: list[str]) -> None:
        for request_id in ids:
            self._stop_acks[request_id] -= 1
            if not self._stop_acks[request_id]:
                del self._stop_acks[request_id]
                held = self._held.pop(request_id, None)
                if held is not None:
                    self._deliver(held)

    def _deliver(self, out: RequestOutput) -> None:
        queue = self._streams.get(out.request_id)
        if queue is not None:
            queue.put(out)

    def _forget(self, request_id: str) -> RequestOutput | None:
        """Drop a request from the output processor (its final delta, if it was still running)."""
        self._held.pop(request_id, None)
        return self.processor.abort(request_id) if self.processor is not None else None

    def _deliver_error(self, request_id: str, error: BaseException) -> None:
        future = self._pooled.get(request_id)
        if future is not None:
            if not future.done():
                future.set_exception(error)
            return
        if self.processor is not None:
            self.processor.discard(request_id)
        queue = self._streams.get(request_id)
        if queue is not None:
            queue.put(error)

    def _abort_done(self, request_id: str, future: asyncio.Future[None]) -> None:
        out = self._forget(request_id)
        if out is not None:
            self._deliver(out)
        self._pending_aborts.discard(future)
        if not future.done():
            future.set_result(None)

    def _fail_all(self, error: EngineDead) -> None:
        for queue in self._streams.values():
            queue.put(error)
        for pooled in self._pooled.values():
            if not pooled.done():
                pooled.set_exception(error)
        for future in self._pending_aborts:
            if not future.done():
                future.set_result(None)
        self._pending_aborts.clear()


class _Mailbox:
    """One request's undelivered deltas. `put` wakes the consumer only when it is waiting."""

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: deque[RequestOutput | BaseException] = deque()
        self.waiter: asyncio.Future[None] | None = None

    def put(self, item: RequestOutput | BaseException) -> None:
        self.items.append(item)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        """Until something was put (call only when `items` is empty)."""
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None


def merge_deltas(first: RequestOutput, then: RequestOutput) -> RequestOutput:
    """Two consecutive stream deltas of one request as one (text, ids and logprobs joined per index)."""
    merged = {c.index: c for c in first.outputs}
    for c in then.outputs:
        prev = merged.get(c.index)
        if prev is None:
            merged[c.index] = c
            continue
        logprobs = None
        if prev.logprobs is not None or c.logprobs is not None:
            logprobs = [*(prev.logprobs or []), *(c.logprobs or [])]
        ids = [*prev.token_ids, *c.token_ids]
        merged[c.index] = CompletionOutput(
            c.index, prev.text + c.text, ids, logprobs, c.finish_reason, c.stop_reason
        )
    return RequestOutput(
        then.request_id,
        then.prompt_token_ids,
        [merged[i] for i in sorted(merged)],
        then.finished,
        then.num_cached_tokens,
        then.metrics,
        then.prompt_logprobs or first.prompt_logprobs,
    )
