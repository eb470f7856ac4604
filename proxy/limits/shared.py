"""One in-memory budget for every worker of one proxy (`--workers N` without Redis).

The supervisor runs a `BucketServer`: a `MemoryBucketStore` behind a Unix socket in its private
run directory. Each worker's `SharedBucketStore` sends it acquire/adjust calls (JSON lines, ids
only: bucket keys, capacities and amounts, never request content), many in flight on one
connection. If the supervisor cannot be reached the store raises `LimiterUnavailable`, so the
limiter fails closed (503) or open exactly as it does for Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from typing import Any

from proxy.limits.bucket import BucketSpec, BucketState, Decision
from proxy.limits.memory import MemoryBucketStore
from proxy.limits.redis_store import LimiterUnavailable

log = logging.getLogger("teecube.proxy.limits")
MAX_LINE = 1024 * 1024


def _items(pairs: list[tuple[BucketSpec, int]]) -> list[list[Any]]:
    return [[s.key, s.capacity, s.kind, s.period, amount] for s, amount in pairs]


def _pairs(items: list[list[Any]]) -> list[tuple[BucketSpec, int]]:
    return [(BucketSpec(str(k), int(c), str(kind), float(p)), int(a)) for k, c, kind, p, a in items]


class BucketServer:
    """The supervisor's side: the one `MemoryBucketStore` all workers share."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.store = MemoryBucketStore()
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._serve, path=self.path, limit=MAX_LINE)
        os.chmod(self.path, 0o600)

    async def _answer(self, line: bytes) -> dict[str, Any]:
        msg = json.loads(line)
        pairs = _pairs(msg["items"])
        if msg["op"] == "adjust":
            await self.store.adjust(pairs)
            return {"id": msg["id"]}
        d = await self.store.acquire(pairs)
        refused = next(i for i, (s, _) in enumerate(pairs) if s == d.refused) if d.refused else None
        return {
            "id": msg["id"],
            "allowed": d.allowed,
            "retry_after": d.retry_after,
            "never": d.never,
            "refused": refused,
            "levels": [s.remaining for s in d.states],
        }

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write(json.dumps(await self._answer(line)).encode() + b"\n")
        except (ConnectionError, ValueError, KeyError, TypeError) as exc:
            log.warning("shared limiter: dropped a worker connection (%s)", type(exc).__name__)
        finally:
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class SharedBucketStore:
    """A worker's side: the bucket-store interface over the supervisor's socket."""

    def __init__(self, path: str, *, timeout: float = 2.0) -> None:
        self.path = path
        self.timeout = timeout
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next = 0
        self._connecting = asyncio.Lock()

    async def _connection(self) -> asyncio.StreamWriter:
        async with self._connecting:
            if self._writer is None or self._writer.is_closing():
                reader, self._writer = await asyncio.open_unix_connection(self.path, limit=MAX_LINE)
                self._reader_task = asyncio.create_task(self._read(reader))
            return self._writer

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                msg = json.loads(line)
                future = self._pending.pop(msg["id"], None)
                if future is not None and not future.done():
                    future.set_result(msg)
        except (ConnectionError, ValueError):
            pass
        finally:  # the supervisor went away: every waiting call fails, the next one reconnects
            if self._writer is not None:
                self._writer.close()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(LimiterUnavailable("supervisor connection lost"))
            self._pending.clear()

    async def _call(self, op: str, pairs: list[tuple[BucketSpec, int]]) -> dict[str, Any]:
        self._next += 1
        ident = self._next
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        try:
            writer = self._writer
            if writer is None or writer.is_closing():  # connected: no task and loop pass to find out
                writer = await asyncio.wait_for(self._connection(), self.timeout)
            self._pending[ident] = future
            writer.write(json.dumps({"id": ident, "op": op, "items": _items(pairs)}).encode() + b"\n")
            return await asyncio.wait_for(future, self.timeout)
        except (OSError, TimeoutError) as exc:
            raise LimiterUnavailable(type(exc).__name__) from None
        finally:
            self._pending.pop(ident, None)

    async def acquire(self, costs: list[tuple[BucketSpec, int]]) -> Decision:
        msg = await self._call("acquire", costs)
        states = [
            BucketState(spec, float(level), max(0.0, (spec.capacity - float(level)) / spec.rate))
            for (spec, _), level in zip(costs, msg["levels"], strict=True)
        ]
        refused = msg["refused"]
        return Decision(
            bool(msg["allowed"]),
            states,
            retry_after=float(msg["retry_after"]),
            never=bool(msg["never"]),
            refused=costs[refused][0] if refused is not None else None,
        )

    async def adjust(self, deltas: list[tuple[BucketSpec, int]]) -> None:
        if deltas:
            await self._call("adjust", deltas)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
