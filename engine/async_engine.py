"""`AsyncEngine`: the step loop runs in its own thread; each request streams deltas into an asyncio queue."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from engine.config import EngineConfig
from engine.distributed.workers import ModelLoader
from engine.errors import EngineDead, InvalidParam
from engine.llm_engine import LLMEngine
from engine.loader import LoadedModel
from engine.outputs import EngineStats, RequestOutput
from engine.sampling_params import SamplingParams


class AsyncEngine:
    def __init__(self, config: EngineConfig, loaded: LoadedModel | ModelLoader | None = None) -> None:
        self.config = config
        self._loaded = loaded
        self.engine: LLMEngine | None = None
        self.is_dead = False
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._commands: deque[Callable[[], None]] = deque()
        self._wakeup = threading.Event()
        self._stopping = False
        self._streams: dict[str, asyncio.Queue[RequestOutput | BaseException]] = {}
        self._pending_aborts: set[asyncio.Future[None]] = set()
        self._stats: EngineStats | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.engine = await asyncio.to_thread(LLMEngine, self.config, self._loaded)
        self._loaded = None
        self._stats = self.engine.stats()
        self._thread = threading.Thread(target=self._run, name="engine-loop", daemon=True)
        self._thread.start()

    @property
    def tokenizer(self) -> Any:
        return self._engine.tokenizer

    @property
    def spec(self) -> Any:
        return self._engine.spec

    @property
    def max_model_len(self) -> int:
        return self._engine.max_model_len

    @property
    def _engine(self) -> LLMEngine:
        if self.engine is None:
            raise EngineDead("the engine has not been started")
        return self.engine

    def stats(self) -> EngineStats:
        if self._stats is None:
            raise EngineDead("the engine has not been started")
        return self._stats

    async def generate(
        self, request_id: str, prompt: str | list[int], params: SamplingParams
    ) -> AsyncIterator[RequestOutput]:
        """Stream deltas of one request; checks raise before anything is scheduled."""
        if self.is_dead or self._stopping:
            raise EngineDead("the engine loop is not running")
        engine = self._engine
        arrival = time.monotonic()
        prompt_ids = engine.encode(prompt)
        engine.check_request(prompt_ids, params)
        if request_id in self._streams:
            raise InvalidParam("request_id", f"request {request_id!r} is already running")
        queue: asyncio.Queue[RequestOutput | BaseException] = asyncio.Queue()
        self._streams[request_id] = queue
        self._submit(lambda: self._add(request_id, prompt_ids, params, arrival))
        finished = False
        try:
            while True:
                item = await queue.get()
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
            if not finished and not self.is_dead:
                self._submit(lambda: self._engine.abort_request(request_id))

    async def abort(self, request_id: str) -> None:
        """Abort a request; returns once its KV blocks are free."""
        if self.is_dead or self._thread is None or self._loop is None:
            return
        loop = self._loop
        future: asyncio.Future[None] = loop.create_future()
        self._pending_aborts.add(future)

        def command() -> None:
            out = self._engine.abort_request(request_id)
            self._stats = self._engine.stats()
            loop.call_soon_threadsafe(self._abort_done, out, future)

        self._submit(command)
        await future

    async def shutdown(self) -> None:
        self._stopping = True
        self._wakeup.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        if self.engine is not None:
            await asyncio.to_thread(self.engine.shutdown)  # tensor-parallel workers, if any
        self._fail_all(EngineDead("the engine was shut down"))

    def _submit(self, command: Callable[[], None]) -> None:
        self._commands.append(command)
        self._wakeup.set()

    def _add(self, request_id: str, prompt_ids: list[int], params: SamplingParams, arrival: float) -> None:
        try:
            self._engine.add_request(request_id, prompt_ids, params, arrival)
        except (InvalidParam, ValueError) as e:
            self._post(self._deliver_error, request_id, e)

    def _run(self) -> None:
        engine = self._engine
        try:
            while not self._stopping:
                while self._commands:
                    self._commands.popleft()()
                if engine.has_unfinished():
                    outputs = engine.step(stream=True)
                    self._stats = engine.stats()
                    if outputs:
                        self._post(self._dispatch, outputs)
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

    def _dispatch(self, outputs: list[RequestOutput]) -> None:
        for out in outputs:
            queue = self._streams.get(out.request_id)
            if queue is not None:
                queue.put_nowait(out)

    def _deliver_error(self, request_id: str, error: BaseException) -> None:
        queue = self._streams.get(request_id)
        if queue is not None:
            queue.put_nowait(error)

    def _abort_done(self, out: RequestOutput | None, future: asyncio.Future[None]) -> None:
        if out is not None:
            self._dispatch([out])
        self._pending_aborts.discard(future)
        if not future.done():
            future.set_result(None)

    def _fail_all(self, error: EngineDead) -> None:
        for queue in self._streams.values():
            queue.put_nowait(error)
        for future in self._pending_aborts:
            if not future.done():
                future.set_result(None)
        self._pending_aborts.clear()
