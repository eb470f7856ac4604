"""The per-address connection cap across workers (`proxy.connection_table`): two workers' views of one
shared table, in one process (the live two-worker proxy is in test_workers.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from proxy.connection_table import SLOTS, SharedConnections, TableHandle, create_table
from proxy.listener import ConnectionCounter


@pytest.fixture
def table() -> Iterator[TableHandle]:
    handle = create_table(3)
    assert handle is not None
    yield handle
    os.close(handle.fd)


def _views(handle: TableHandle, count: int) -> list[SharedConnections]:
    return [SharedConnections(handle, i) for i in range(count)]


def test_one_cap_across_workers(table: TableHandle) -> None:
    a, b, c = (ConnectionCounter(4, view) for view in _views(table, 3))
    assert [a.open("10.0.0.1") for _ in range(3)] == [True, True, True]
    assert b.open("10.0.0.1") is True  # the fourth, on another worker
    assert b.open("10.0.0.1") is False and c.open("10.0.0.1") is False and a.open("10.0.0.1") is False
    assert c.open("10.0.0.2") is True  # another address has its own count
    a.close("10.0.0.1")
    assert c.open("10.0.0.1") is True  # the freed place can be taken on any worker
    assert b.open("10.0.0.1") is False


def test_without_the_table_each_worker_caps_alone() -> None:
    """The case the table exists for: two counters alone admit twice the cap."""
    a, b = ConnectionCounter(4), ConnectionCounter(4)
    assert sum(counter.open("10.0.0.1") for counter in (a, b) for _ in range(4)) == 8


def test_a_restarted_worker_drops_its_dead_connections(table: TableHandle) -> None:
    a, b = (ConnectionCounter(2, view) for view in _views(table, 2))
    assert a.open("10.0.0.1") and a.open("10.0.0.1")
    assert b.open("10.0.0.1") is False
    a = ConnectionCounter(2, SharedConnections(table, 0))  # worker 0 restarts: its row starts at zero
    assert b.open("10.0.0.1") is True


def test_close_of_an_unknown_address_changes_nothing(table: TableHandle) -> None:
    a, b = (ConnectionCounter(1, view) for view in _views(table, 2))
    assert a.open("10.0.0.1")
    b.close("10.0.0.1")  # never opened on b: must not free a's place
    a.close("10.0.0.9")
    assert b.open("10.0.0.1") is False
    assert b.shared is not None and b.shared.others(b.shared.slot("10.0.0.1")) == 1


def test_slots_are_keyed() -> None:
    """Two proxies (two keys) place the same addresses differently: a client cannot compute the slot
    of another's address."""
    one, two = create_table(2), create_table(2)
    assert one is not None and two is not None
    try:
        x, y = SharedConnections(one, 0), SharedConnections(two, 0)
        addresses = [f"10.0.{i // 256}.{i % 256}" for i in range(64)]
        assert [x.slot(a) for a in addresses] != [y.slot(a) for a in addresses]
        assert all(0 <= x.slot(a) < SLOTS for a in addresses)
        assert x.slot("10.0.0.1") == x.slot("10.0.0.1")
    finally:
        os.close(one.fd)
        os.close(two.fd)


def test_single_process_needs_no_table() -> None:
    assert create_table(1) is None
    with pytest.raises(ValueError, match="outside"):
        handle = create_table(2)
        assert handle is not None
        try:
            SharedConnections(handle, 2)
        finally:
            os.close(handle.fd)
