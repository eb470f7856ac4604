"""Usage records, queued per request and written in batches off the event loop.

Flushed every `interval` seconds or `batch` records, and on graceful shutdown.
Records carry ids, counts and timings only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from domains.keys import touch_last_used
from domains.models import utcnow
from domains.usage import UsageRecordIn, record_usage

log = logging.getLogger("teecube.proxy.usage")


class UsageWriter:
    def __init__(self, factory: sessionmaker[Session], *, interval: float = 1.0, batch: int = 500) -> None:
        self._factory = factory
        self._interval = interval
        self._batch = batch
        self._pending: list[UsageRecordIn] = []
        self._last_used: dict[str, datetime] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._flushing = asyncio.Lock()  # one write at a time: flush() returns once earlier ones landed
        self.written = 0

    def add(self, record: UsageRecordIn) -> None:
        self._pending.append(record)
        if record.key_id:
            self._last_used[record.key_id] = utcnow()
        if len(self._pending) >= self._batch:
            self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write what is pending; returns once every record added before the call is written (or kept
        after a failed write), a periodic flush already writing included."""
        async with self._flushing:
            records, self._pending = self._pending, []
            last_used, self._last_used = self._last_used, {}
            if not records and not last_used:
                return
            try:
                self.written += await asyncio.to_thread(self._write, records, last_used)
            except Exception as exc:
                # Keep the records for the next try; the log names the failure type only.
                log.error("usage flush failed (%s); %d records kept", type(exc).__name__, len(records))
                self._pending = records + self._pending

    def _write(self, records: list[UsageRecordIn], last_used: dict[str, datetime]) -> int:
        written = record_usage(self._factory, records)
        if last_used:
            with self._factory.begin() as session:
                touch_last_used(session, last_used)
        return written

    async def close(self) -> None:
        """Stop the periodic flush and write what is left. The periodic task is asked to stop, not
        cancelled: a cancel mid-write released the lock while the thread still wrote, so the last
        flush returned before those records were in (and lost them if that write failed)."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        await self.flush()
