"""The usage writer's flush returns only once every record added before it is in the database, even
while the periodic flush is still writing an earlier batch (before, a flush called then found nothing
pending and returned while that batch was still on its way: a record looked lost)."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import text

from domains.tenants import create_domain
from domains.usage import UsageRecordIn
from proxy.usage import UsageWriter
from tests.proxy.conftest import Tenancy


class SlowWriter(UsageWriter):
    """Its database write waits until the test lets it go."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.writing = threading.Event()
        self.release = threading.Event()

    def _write(self, records, last_used) -> int:
        self.writing.set()
        assert self.release.wait(30)
        return super()._write(records, last_used)


def test_a_flush_waits_for_the_one_already_writing(tmp_path) -> None:
    t = Tenancy(f"sqlite:///{tmp_path / 'usage.db'}")
    with t.factory.begin() as s:
        domain_id = create_domain(s, "acct", t.actor).id

    def record(request_id: str) -> UsageRecordIn:
        return UsageRecordIn(request_id=request_id, domain_id=domain_id, alias="m", status="blocked",
                             status_code=400, latency_ms=1)

    def rows() -> set[str]:
        with t.factory() as s:
            return set(s.scalars(text("SELECT request_id FROM usage_records")))

    async def run() -> None:
        writer = SlowWriter(t.factory)
        writer.add(record("first"))
        periodic = asyncio.create_task(writer.flush())  # the background flush, now writing "first"
        assert await asyncio.to_thread(writer.writing.wait, 30)
        asked = asyncio.create_task(writer.flush())  # what a caller (or a test) asks for meanwhile
        await asyncio.sleep(0.05)
        assert not asked.done()  # it cannot have returned: "first" is not written yet
        writer.release.set()
        await asyncio.gather(periodic, asked)
        assert rows() == {"first"}
        writer.add(record("second"))
        await writer.flush()
        assert rows() == {"first", "second"} and writer.written == 2

    asyncio.run(run())


def test_close_waits_for_the_periodic_flush_writing(tmp_path) -> None:
    """close() used to cancel the periodic task mid-write: the lock was released while the thread still
    wrote, so close() returned before the record was in the database."""
    t = Tenancy(f"sqlite:///{tmp_path / 'usage.db'}")
    with t.factory.begin() as s:
        domain_id = create_domain(s, "acct", t.actor).id

    async def run() -> None:
        writer = SlowWriter(t.factory, interval=0.01)
        await writer.start()
        writer.add(UsageRecordIn(request_id="last", domain_id=domain_id, alias="m", status="ok",
                                 status_code=200, latency_ms=1))
        assert await asyncio.to_thread(writer.writing.wait, 30)  # the periodic flush is writing it
        closing = asyncio.create_task(writer.close())
        await asyncio.sleep(0.05)
        assert not closing.done()
        writer.release.set()
        await closing
        with t.factory() as s:
            assert set(s.scalars(text("SELECT request_id FROM usage_records"))) == {"last"}
        assert writer.written == 1

    asyncio.run(run())
