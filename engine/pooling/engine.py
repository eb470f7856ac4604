"""`AsyncPoolingEngine`: embedding requests from the event loop, batched by a worker thread.

Sequences from every waiting request are packed into one forward up to max_num_batched_tokens (and
max_num_seqs), in arrival order; each request's future resolves when its last sequence is pooled.
It offers what the server reads from AsyncEngine (config, tokenizer, spec, max_model_len, stats,
is_dead, start, shutdown), so /tokenize, /v1/models and /metrics work on an embedding server too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import torch

from engine.errors import EngineDead
from engine.loader import LoadedModel
from engine.outputs import EngineStats
from engine.pooling.loader import load_embedding_model
from engine.pooling.pooler import PoolingConfig
from engine.pooling.runner import PoolingRunner

log = logging.getLogger("engine.pooling")


@dataclass(slots=True)
class _Request:
    inputs: list[list[int]]
    future: asyncio.Future[torch.Tensor]
    results: list[torch.Tensor | None] = field(default_factory=list)
    remaining: int = 0


class AsyncPoolingEngine:
    def __init__(self, config: Any, loaded: LoadedModel | None = None, pooling: PoolingConfig | None = None):
        self.config = config
        self._loaded = loaded
        self.pooling = pooling
        self.runner: PoolingRunner | None = None
        self.is_dead = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._queue: deque[tuple[_Request, int]] = deque()
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._stopping = False
        self._running = 0
        self._prompt_tokens = 0
        self._finished = 0
        self.max_batch_tokens = 0

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        loaded = self._loaded or await asyncio.to_thread(load_embedding_model, self.config)
        self._loaded = loaded
        self.pooling = self.pooling or PoolingConfig.from_model_dir(self.config.model)
        self._max_model_len = min(
            self.config.max_model_len or loaded.spec.max_position, loaded.spec.max_position
        )
        self.max_batch_tokens = max(self.config.max_num_batched_tokens or 0, self._max_model_len)
        self.runner = await asyncio.to_thread(
            PoolingRunner,
            loaded,
            self.pooling,
            self.max_batch_tokens,
            self.config.max_num_seqs,
            self.config.block_size,
        )
        self._thread = threading.Thread(target=self._run, name="pooling-loop", daemon=True)
        self._thread.start()

    @property
    def _model(self) -> LoadedModel:
        if self._loaded is None or self.runner is None:
            raise EngineDead("the engine has not been started")
        return self._loaded

    @property
    def tokenizer(self) -> Any:
        return self._model.tokenizer

    @property
    def spec(self) -> Any:
        return self._model.spec

    @property
    def max_model_len(self) -> int:
        self._model  # noqa: B018 (raises before start)
        return self._max_model_len

    def stats(self) -> EngineStats:
        return EngineStats(
            num_running=self._running,
            num_waiting=len(self._queue),
            kv_cache_usage=0.0,
            total_blocks=0,
            free_blocks=0,
            prompt_tokens=self._prompt_tokens,
            generation_tokens=0,
            num_preemptions=0,
            prefix_cache_queries=0,
            prefix_cache_hits=0,
            request_success={"stop": self._finished},
        )

    async def embed(self, inputs: list[list[int]]) -> torch.Tensor:
        """[len(inputs), hidden] float32 embeddings (pooled, normalized if the model is)."""
        if self.is_dead or self._stopping or self._loop is None:
            raise EngineDead("the engine loop is not running")
        request = _Request(inputs, self._loop.create_future(), [None] * len(inputs), len(inputs))
        with self._lock:
            self._queue.extend((request, i) for i in range(len(inputs)))
        self._wakeup.set()
        return await request.future

    async def shutdown(self) -> None:
        self._stopping = True
        self._wakeup.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        with self._lock:
            pending = {id(r): r for r, _ in self._queue}.values()
            self._queue.clear()
        for r in pending:
            if not r.future.done():
                r.future.set_exception(EngineDead("the engine was shut down"))

    def _take_batch(self) -> list[tuple[_Request, int]]:
        batch: list[tuple[_Request, int]] = []
        tokens = 0
        with self._lock:
            while self._queue and len(batch) < self.config.max_num_seqs:
                request, i = self._queue[0]
                if request.future.done():  # the client went away
                    self._queue.popleft()
                    continue
                n = len(request.inputs[i])
                if batch and tokens + n > self.max_batch_tokens:
                    break
                batch.append(self._queue.popleft())
                tokens += n
        return batch

    def _run(self) -> None:
        assert self.runner is not None and self._loop is not None
        while not self._stopping:
            batch = self._take_batch()
            if not batch:
                self._wakeup.wait(timeout=1.0)
                self._wakeup.clear()
                continue
            self._running = len(batch)
            try:
                vectors = self.runner.embed([r.inputs[i] for r, i in batch])
            except Exception as exc:  # one failed batch fails its requests, not the server
                log.error("pooling batch failed: %s", type(exc).__name__)
                for r, _ in batch:
                    self._loop.call_soon_threadsafe(_fail, r, exc)
                continue
            finally:
                self._running = 0
            self._prompt_tokens += sum(len(r.inputs[i]) for r, i in batch)
            for (r, i), vector in zip(batch, vectors, strict=True):
                r.results[i] = vector
                r.remaining -= 1
                if r.remaining == 0:
                    self._finished += 1
                    self._loop.call_soon_threadsafe(_resolve, r)


def _resolve(r: _Request) -> None:
    if not r.future.done():
        r.future.set_result(torch.stack([v for v in r.results if v is not None]))


def _fail(r: _Request, exc: BaseException) -> None:
    if not r.future.done():
        r.future.set_exception(exc)
