"""One API request's engine requests (one per prompt), merged into one stream of deltas.

Closing a Generation before it finishes aborts what is left, so a client that goes away
frees its KV blocks at once. Each finished engine request feeds the latency histograms.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from engine.metrics import EngineMetrics, RequestSizes
from engine.outputs import RequestOutput
from engine.sampling_params import SamplingParams

if TYPE_CHECKING:
    from engine.async_engine import AsyncEngine

_END = object()


class Generation:
    def __init__(
        self,
        engine: AsyncEngine,
        metrics: EngineMetrics,
        request_id: str,
        prompts: list[list[int]],
        params: SamplingParams,
        arrival: float,
        stream: bool = True,
    ) -> None:
        """stream=False: each engine request answers once, whole (see AsyncEngine.generate)."""
        self.engine = engine
        self.metrics = metrics
        self.ids = [request_id] if len(prompts) == 1 else [f"{request_id}-{i}" for i in range(len(prompts))]
        self.prompts = prompts
        self.params = params
        self.arrival = arrival
        self.streamed = stream
        self.unfinished = set(self.ids)
        self._tasks: list[asyncio.Task[None]] = []
        self._iter: Any = None

    async def __aenter__(self) -> Generation:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def stream(self) -> AsyncIterator[tuple[int, RequestOutput]]:
        """(prompt index, delta) pairs until every engine request has finished."""
        self._iter = self._stream()
        return self._iter

    async def _stream(self) -> AsyncIterator[tuple[int, RequestOutput]]:
        if len(self.prompts) == 1:
            async for out in self._one(0):
                yield 0, out
            return
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._tasks = [asyncio.create_task(self._pump(i, queue)) for i in range(len(self.prompts))]
        remaining = len(self._tasks)
        while remaining:
            item = await queue.get()
            if item is _END:
                remaining -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item

    async def _pump(self, index: int, queue: asyncio.Queue[Any]) -> None:
        try:
            async for out in self._one(index):
                queue.put_nowait((index, out))
            queue.put_nowait(_END)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            queue.put_nowait(exc)

    async def _one(self, index: int) -> AsyncIterator[RequestOutput]:
        request_id = self.ids[index]
        token_times: list[float] = []
        generated = 0
        gen = self.engine.generate(request_id, self.prompts[index], self.params, self.streamed)
        try:
            async for out in gen:
                if any(o.token_ids for o in out.outputs):
                    token_times.append(time.monotonic())
                generated += sum(len(o.token_ids) for o in out.outputs)
                if out.finished:
                    if out.metrics is not None and out.metrics.token_times is not None:
                        token_times = out.metrics.token_times  # delivered whole
                    self.unfinished.discard(request_id)
                    p = self.params
                    sizes = RequestSizes(len(self.prompts[index]), generated, p.max_tokens or 0, p.n)
                    self.metrics.observe_request(
                        self.arrival, token_times, time.monotonic(), out.metrics, sizes
                    )
                yield out
        finally:
            await gen.aclose()

    async def close(self) -> None:
        """Abort whatever has not finished; returns once the engine has freed its blocks."""
        if self._iter is not None:
            await self._iter.aclose()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for request_id in list(self.unfinished):
            await self.engine.abort(request_id)
        self.unfinished.clear()
