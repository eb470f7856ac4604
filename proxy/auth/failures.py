"""Repeated authentication failures from one client address are refused for a while."""

from __future__ import annotations

import time
from collections import deque


class FailureThrottle:
    def __init__(self, limit: int = 30, window: float = 60.0, max_clients: int = 50_000) -> None:
        self.limit = limit
        self.window = window
        self._max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.get(client)
        if times is None:
            if len(self._failures) >= self._max_clients:
                self._failures.clear()
            times = self._failures[client] = deque()
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def blocked_for(self, client: str) -> float:
        """Seconds this client must wait, or 0 when it may try."""
        now = time.monotonic()
        times = self._recent(client, now)
        if len(times) < self.limit:
            return 0.0
        return max(1.0, self.window - (now - times[0]))

    def failed(self, client: str) -> None:
        self._recent(client, time.monotonic()).append(time.monotonic())
