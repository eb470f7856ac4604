"""Open connections per client address across the `--workers N` processes: one table in shared memory.

The kernel spreads one client's connections over the workers (SO_REUSEPORT), so a cap that each worker
keeps alone admits N times the cap. Here every worker owns one row of SLOTS counters and is that row's
only writer; a client address maps to a slot through a keyed hash (BLAKE2b under a random key the
supervisor draws at start, so a client cannot aim its addresses at another's slot). A worker admits a
connection while its own exact count for the address plus the other rows' counters for the slot stay
under the cap.

- Two workers admitting in the same instant can overshoot the cap by at most N - 1 between them.
- Addresses that share a slot are counted together (never more connections than the cap, at worst an
  early refusal when a slot is crowded: 65,536 slots).
- A worker that starts (or restarts) zeroes its row: its connections died with it.
- The memory is an anonymous memfd passed to the workers as a file descriptor: nothing on disk, and
  only the supervisor and its workers hold it.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import secrets
from dataclasses import dataclass, field

SLOTS = 1 << 16
COUNTER_BYTES = 4  # unsigned 32-bit counters, each written whole by its one writer


@dataclass(frozen=True, slots=True)
class TableHandle:
    """What a worker needs to attach: the memfd's number (inherited), the hash key, the row count."""

    fd: int
    key: bytes = field(repr=False)  # the table's hash key
    workers: int


def create_table(workers: int) -> TableHandle | None:
    """A zeroed table for `workers` rows in a new memfd (inheritable by pass_fds); None where the
    platform has no memfd (each worker then caps alone)."""
    if workers < 2 or not hasattr(os, "memfd_create"):
        return None
    fd = os.memfd_create("teecube-connections")
    os.ftruncate(fd, workers * SLOTS * COUNTER_BYTES)
    return TableHandle(fd, secrets.token_bytes(16), workers)


class SharedConnections:
    """One worker's view of the table: its own row to write, the others to read."""

    def __init__(self, handle: TableHandle, index: int) -> None:
        if not 0 <= index < handle.workers:
            raise ValueError(f"worker index {index} outside 0..{handle.workers - 1}")
        self._map = mmap.mmap(handle.fd, handle.workers * SLOTS * COUNTER_BYTES)
        self._counts = memoryview(self._map).cast("I")
        self._key = handle.key
        self._own = index * SLOTS
        self._others = [w * SLOTS for w in range(handle.workers) if w != index]
        row_bytes = SLOTS * COUNTER_BYTES
        self._map[index * row_bytes : (index + 1) * row_bytes] = bytes(row_bytes)  # a fresh start

    def slot(self, address: str) -> int:
        digest = hashlib.blake2b(address.encode(), key=self._key, digest_size=4).digest()
        return int.from_bytes(digest, "little") % SLOTS

    def others(self, slot: int) -> int:
        """Connections the other workers hold in this slot."""
        return sum(self._counts[row + slot] for row in self._others)

    def add(self, slot: int, delta: int) -> None:
        self._counts[self._own + slot] = max(0, self._counts[self._own + slot] + delta)

    def close(self) -> None:
        self._counts.release()
        self._map.close()
